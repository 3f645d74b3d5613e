//! Reading `sw_vers` output.
//!
//! `sw_vers` prints one `Key:<tabs>Value` line per fact; how many tabs depends on
//! the macOS release (Big Sur and later align with two), so a line is split at its
//! first colon and trimmed. Rapid Security Responses add `ProductVersionExtra`.
//! `sw_vers -productVersion` prints the version alone, which is accepted too.

use super::installed::{DescriptionError, InstalledOs, version_field};

/// What the system is called when `sw_vers` prints only the version.
const DEFAULT_NAME: &str = "macOS";

/// Reads the output of `sw_vers` (or of `sw_vers -productVersion`).
pub fn parse_sw_vers(output: &str) -> Result<InstalledOs, DescriptionError> {
    let mut name = None;
    let mut version = None;
    let mut version_extra = None;
    let mut build = None;
    for line in output.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let slot = match key.trim() {
            "ProductName" => &mut name,
            "ProductVersion" => &mut version,
            "ProductVersionExtra" => &mut version_extra,
            "BuildVersion" => &mut build,
            _ => continue,
        };
        *slot = Some(value.to_string()).filter(|value| !value.is_empty());
    }
    let version = match version {
        Some(version) => version,
        None => {
            only_line(output).ok_or(DescriptionError::Missing { field: "ProductVersion", source_name: "sw_vers" })?
        }
    };
    Ok(InstalledOs {
        name: name.unwrap_or_else(|| DEFAULT_NAME.to_string()),
        version: version_field("ProductVersion", &version)?,
        version_extra,
        build,
    })
}

/// The output's single non-empty line with no key, as `-productVersion` prints it.
fn only_line(output: &str) -> Option<String> {
    let mut lines = output.lines().map(str::trim).filter(|line| !line.is_empty());
    let line = lines.next()?;
    (lines.next().is_none() && !line.contains(':')).then(|| line.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sonoma and later: two tabs after the longer keys.
    const SONOMA: &str = "ProductName:\t\tmacOS\nProductVersion:\t\t14.6.1\nBuildVersion:\t\t23G93\n";
    /// One tab, as some releases and the example print it.
    const ONE_TAB: &str = "ProductName:\tmacOS\nProductVersion:\t14.6.1\nBuildVersion:\t23G93";
    /// Ventura with a Rapid Security Response applied.
    const RAPID_RESPONSE: &str =
        "ProductName:\t\tmacOS\nProductVersion:\t\t13.4.1\nProductVersionExtra:\t(c)\nBuildVersion:\t\t22F770820d\n";
    /// Catalina and earlier.
    const CATALINA: &str = "ProductName:\tMac OS X\nProductVersion:\t10.15.7\nBuildVersion:\t19H2\n";

    #[test]
    fn every_sw_vers_layout_reads_the_same_facts() {
        let cases = [
            (SONOMA, "macOS", "14.6.1", None, Some("23G93")),
            (ONE_TAB, "macOS", "14.6.1", None, Some("23G93")),
            (RAPID_RESPONSE, "macOS", "13.4.1", Some("(c)"), Some("22F770820d")),
            (CATALINA, "Mac OS X", "10.15.7", None, Some("19H2")),
            ("15.1\n", "macOS", "15.1", None, None),
        ];
        for (output, name, version, extra, build) in cases {
            let installed = parse_sw_vers(output).unwrap_or_else(|error| panic!("{output:?}: {error}"));
            assert_eq!(installed.name, name, "{output:?}");
            assert_eq!(installed.version.as_str(), version, "{output:?}");
            assert_eq!(installed.version_extra.as_deref(), extra, "{output:?}");
            assert_eq!(installed.build.as_deref(), build, "{output:?}");
        }
        assert_eq!(parse_sw_vers(RAPID_RESPONSE).unwrap().to_string(), "macOS 13.4.1 (c)");
        assert_eq!(parse_sw_vers(SONOMA).unwrap().to_string(), "macOS 14.6.1");
    }

    #[test]
    fn output_without_a_usable_version_is_an_error() {
        let missing = DescriptionError::Missing { field: "ProductVersion", source_name: "sw_vers" };
        assert_eq!(parse_sw_vers(""), Err(missing.clone()));
        assert_eq!(parse_sw_vers("ProductName:\tmacOS\nBuildVersion:\t23G93\n"), Err(missing.clone()));
        assert_eq!(parse_sw_vers("14.6.1\n14.6.2\n"), Err(missing));
        let error = parse_sw_vers("ProductName:\tmacOS\nProductVersion:\tSonoma\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "ProductVersion \"Sonoma\" is not a version: part \"Sonoma\" is not a whole number"
        );
    }
}
