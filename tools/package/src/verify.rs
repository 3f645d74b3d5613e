//! `package verify`: a built `.pkg` read back with readers written apart from the
//! writer, and checked for what Installer and launchd rely on.
//!
//! ```text
//! .pkg ──bsdtar──> Distribution ─┐ XML parses; enable_localSystem; pkg-ref → component
//!  (TOC SHA-1 and   component/   ├ PackageInfo: identifier, version, install location,
//!   file SHA-1s       PackageInfo│   numberOfFiles / installKBytes = the Payload's
//!   checked by        Payload ───┼ gzipped odc; listed by bsdtar (mtree); owners 0:0/80
//!   libarchive)       Bom ───────┼ apple-bom: every path ⇄ a Payload path, same mode,
//!                     Scripts ───┘   owner, size and CRC
//!                                  preinstall/postinstall: present, executable, #!
//!                                  the launchd job in the Payload: keys (launchd.rs)
//!                                  the Self Service app: files, modes, Info.plist (app.rs)
//!                                  config.d/00-package.plist, if there: 0644, root:wheel,
//!                                    only self_update.team_id, a Team ID (pin.rs)
//! ```
//!
//! Every problem is collected and reported at once.

mod app;
mod archive;
mod contents;
mod documents;
mod launchd;
mod pin;

use std::path::{Path, PathBuf};

pub use archive::ArchiveError;

use crate::product::COMPONENT;
use crate::xar;

/// What is wrong with the package, one sentence each.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<String>);

impl Problems {
    /// Records one problem.
    pub(crate) fn add(&mut self, problem: String) {
        self.0.push(problem);
    }

    /// Nothing recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Why a package did not pass.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The package or a part of it could not be read at all.
    #[error("could not read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `bsdtar` is not there to read it.
    #[error(transparent)]
    Reader(ArchiveError),
    /// It was read, and is not right.
    #[error("{package} is not a well-formed Endpoint Agent package:\n  - {}", problems.join("\n  - "))]
    Problems { package: String, problems: Vec<String> },
}

/// What a package that passed holds.
#[derive(Debug, Clone)]
pub struct Report {
    /// The package version.
    pub version: String,
    /// Every Payload path (`./usr/local/bin/agent`), in byte order.
    pub payload_paths: Vec<String>,
    /// The Team ID the package pins for the agent's own updates
    /// (`config.d/00-package.plist`), or `None` when it carries no pin.
    pub pinned_team: Option<String>,
}

/// Checks the 28-byte XAR header: magic, length, version 1, SHA-1 checksums.
fn check_header(bytes: &[u8], problems: &mut Problems) {
    if bytes.len() < 28 || &bytes[..4] != xar::MAGIC {
        problems.add("not a XAR archive (no xar! header)".to_string());
        return;
    }
    let length = u16::from_be_bytes([bytes[4], bytes[5]]);
    let version = u16::from_be_bytes([bytes[6], bytes[7]]);
    let checksum = u32::from_be_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]);
    if length != xar::HEADER_LENGTH || version != 1 {
        problems.add(format!("XAR header length {length} version {version}, expected 28 and 1"));
    }
    if checksum != xar::CHECKSUM_SHA1 {
        problems.add(format!("the table of contents is checked with algorithm {checksum}, not SHA-1 (1)"));
    }
}

/// The elements of the XML document at `path`, or `None` with a problem recorded.
fn read_document(path: &Path, name: &str, problems: &mut Problems) -> Option<Vec<documents::Element>> {
    let Ok(bytes) = std::fs::read(path) else {
        problems.add(format!("{name} is missing from the archive"));
        return None;
    };
    match documents::parse(&String::from_utf8_lossy(&bytes)) {
        Ok(elements) => Some(elements),
        Err(error) => {
            problems.add(format!("{name} is not well-formed XML: {error}"));
            None
        }
    }
}

/// The version both documents state, checked against each other, semver and
/// `expected`.
fn check_version(stated: [Option<String>; 2], expected: Option<&str>, problems: &mut Problems) -> String {
    let [distribution, package_info] = stated;
    let version = package_info.clone().or(distribution.clone()).unwrap_or_default();
    if distribution != package_info {
        problems.add(format!("Distribution says version {distribution:?}, PackageInfo {package_info:?}"));
    }
    if semver::Version::parse(&version).is_err() {
        problems.add(format!("version {version:?} is not a semantic version"));
    }
    if let Some(expected) = expected.filter(|expected| *expected != version) {
        problems.add(format!("version {version:?}, expected {expected:?}"));
    }
    version
}

/// Reads `package` back and checks it; `expected_version` when the caller knows it.
pub fn verify(package: &Path, expected_version: Option<&str>) -> Result<Report, VerifyError> {
    let read_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| VerifyError::Read { path, source }
    };
    let bytes = std::fs::read(package).map_err(read_error(package))?;
    let mut problems = Problems::default();
    check_header(&bytes, &mut problems);
    let work = tempfile::tempdir().map_err(read_error(&std::env::temp_dir()))?;
    let unpacked = work.path().join("archive");
    std::fs::create_dir(&unpacked).map_err(read_error(&unpacked))?;
    match archive::extract(package, &unpacked) {
        Ok(()) => {}
        Err(error @ ArchiveError::Missing(_)) => return Err(VerifyError::Reader(error)),
        Err(error) => problems.add(format!("the archive does not read back: {error}")),
    }
    let mut contents = contents::Contents::default();
    let mut version = String::new();
    if problems.is_empty() {
        let distribution = read_document(&unpacked.join("Distribution"), "Distribution", &mut problems)
            .map(|elements| documents::check_distribution(&elements, &mut problems))
            .unwrap_or_default();
        let component = unpacked.join(distribution.component.as_deref().unwrap_or(COMPONENT));
        let package_info = read_document(&component.join("PackageInfo"), "PackageInfo", &mut problems)
            .map(|elements| documents::check_package_info(&elements, &mut problems))
            .unwrap_or_default();
        version = check_version([distribution.version, package_info.version.clone()], expected_version, &mut problems);
        let checked = contents::check(&component, work.path(), &package_info, &version, &mut problems);
        contents = checked.map_err(VerifyError::Reader)?;
    }
    if !problems.is_empty() {
        return Err(VerifyError::Problems { package: package.display().to_string(), problems: problems.0 });
    }
    Ok(Report { version, payload_paths: contents.payload_paths, pinned_team: contents.pinned_team })
}
