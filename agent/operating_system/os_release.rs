//! Reading `/etc/os-release`, the Linux description of the system.
//!
//! The agent is built and tested on Linux, where there is no `sw_vers`; there the
//! installed version comes from `VERSION_ID`. The file is shell-like
//! `KEY=value` lines: values may be in double or single quotes, double-quoted
//! values may escape `"`, `\`, `$` and backquote with a backslash, and `#` starts a
//! comment line (os-release(5)).

use std::collections::HashMap;

use super::installed::{DescriptionError, InstalledOs, version_field};

/// What os-release(5) says to assume when `NAME` is absent.
const DEFAULT_NAME: &str = "Linux";

/// Reads the text of an os-release file.
pub fn parse_os_release(text: &str) -> Result<InstalledOs, DescriptionError> {
    let fields = fields(text);
    let version = fields
        .get("VERSION_ID")
        .filter(|version| !version.is_empty())
        .ok_or(DescriptionError::Missing { field: "VERSION_ID", source_name: "os-release" })?;
    Ok(InstalledOs {
        name: fields.get("NAME").filter(|name| !name.is_empty()).map_or(DEFAULT_NAME, String::as_str).to_string(),
        version: version_field("VERSION_ID", version)?,
        version_extra: None,
        build: fields.get("BUILD_ID").filter(|build| !build.is_empty()).cloned(),
    })
}

/// The description os-release gives for people, such as `Debian GNU/Linux 12 (bookworm)`.
pub fn os_release_pretty_name(text: &str) -> Option<String> {
    fields(text).remove("PRETTY_NAME").filter(|name| !name.is_empty())
}

/// Every `KEY=value` assignment of the file, values unquoted.
fn fields(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_string(), unquote(value.trim())))
        .collect()
}

/// The value without its quotes, escapes resolved inside double quotes.
fn unquote(value: &str) -> String {
    if let Some(inner) = value.strip_prefix('\'').and_then(|rest| rest.strip_suffix('\'')) {
        return inner.to_string();
    }
    let Some(inner) = value.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')) else {
        return value.to_string();
    };
    let mut unquoted = String::with_capacity(inner.len());
    let mut characters = inner.chars();
    while let Some(character) = characters.next() {
        match (character, characters.clone().next()) {
            ('\\', Some(next @ ('"' | '\\' | '$' | '`'))) => {
                unquoted.push(next);
                characters.next();
            }
            _ => unquoted.push(character),
        }
    }
    unquoted
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL=\"https://www.debian.org/\"\n";
    const UBUNTU: &str = "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nVERSION=\"22.04.4 LTS (Jammy Jellyfish)\"\nID=ubuntu\nID_LIKE=debian\n";
    const ODD: &str = "# written by hand\n\nNAME='Odd \"Linux\"'\nVERSION_ID=3.1\nPRETTY_NAME=\"Odd \\\"Linux\\\" costs \\$0\"\nBUILD_ID=rolling-7\n";
    const ROLLING: &str = "NAME=\"Arch Linux\"\nPRETTY_NAME=\"Arch Linux\"\nID=arch\nBUILD_ID=rolling\n";

    #[test]
    fn os_release_files_read_name_version_and_description() {
        let cases = [
            (DEBIAN, "Debian GNU/Linux", "12", None, "Debian GNU/Linux 12 (bookworm)"),
            (UBUNTU, "Ubuntu", "22.04", None, "Ubuntu 22.04.4 LTS"),
            (ODD, "Odd \"Linux\"", "3.1", Some("rolling-7"), "Odd \"Linux\" costs $0"),
            ("VERSION_ID=1\n", "Linux", "1", None, ""),
        ];
        for (text, name, version, build, pretty) in cases {
            let installed = parse_os_release(text).unwrap_or_else(|error| panic!("{text:?}: {error}"));
            assert_eq!((installed.name.as_str(), installed.version.as_str()), (name, version), "{text:?}");
            assert_eq!(installed.build.as_deref(), build, "{text:?}");
            assert_eq!(os_release_pretty_name(text).unwrap_or_default(), pretty, "{text:?}");
        }
    }

    #[test]
    fn a_release_without_a_version_cannot_be_compared() {
        let missing = DescriptionError::Missing { field: "VERSION_ID", source_name: "os-release" };
        assert_eq!(parse_os_release(ROLLING), Err(missing.clone()));
        assert_eq!(parse_os_release("VERSION_ID=\"\"\n"), Err(missing));
        let error = parse_os_release("VERSION_ID=bookworm\n").unwrap_err();
        assert!(error.to_string().starts_with("VERSION_ID \"bookworm\" is not a version"), "{error}");
    }
}
