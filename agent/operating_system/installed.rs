//! The operating system a device runs, as its own tools describe it.

use std::fmt;

use super::version::{OsVersion, VersionError};

/// The installed operating system: what `sw_vers` (macOS) or `/etc/os-release`
/// (Linux, where the agent is built and tested) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledOs {
    /// The system's name: `macOS`, `Mac OS X`, `Debian GNU/Linux`.
    pub name: String,
    /// The version compared against a minimum.
    pub version: OsVersion,
    /// A Rapid Security Response suffix such as `(a)`, shown but not compared.
    pub version_extra: Option<String>,
    /// The build, such as `23G93`, when the source gives one.
    pub build: Option<String>,
}

impl fmt::Display for InstalledOs {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} {}", self.name, self.version)?;
        if let Some(extra) = &self.version_extra {
            write!(formatter, " {extra}")?;
        }
        Ok(())
    }
}

/// Why a tool's description of the system could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescriptionError {
    /// A field the version needs is absent.
    #[error("no {field} in the {source_name} output")]
    Missing {
        /// The field, such as `ProductVersion`.
        field: &'static str,
        /// Where it was looked for: `sw_vers`, `os-release`.
        source_name: &'static str,
    },
    /// The field is there but holds no version.
    #[error("{field} {text:?} is not a version: {reason}")]
    NotAVersion {
        /// The field, such as `VERSION_ID`.
        field: &'static str,
        /// What it holds.
        text: String,
        /// Why that is not a version.
        reason: VersionError,
    },
}

/// Reads `text` of `field` as a version.
pub(super) fn version_field(field: &'static str, text: &str) -> Result<OsVersion, DescriptionError> {
    OsVersion::parse(text).map_err(|reason| DescriptionError::NotAVersion { field, text: text.to_string(), reason })
}
