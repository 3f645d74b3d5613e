//! Reading `spctl --assess --type install|execute -vv PATH`: Gatekeeper's
//! verdict, the source it trusted, and the certificate the code came from.
//!
//! ```text
//! /Applications/Foo.app: accepted
//! source=Notarized Developer ID
//! origin=Developer ID Application: Example Corp (ABCDE12345)
//! ```
//! A signed but unnotarized item is `rejected` with `source=Unnotarized
//! Developer ID`; older Developer ID code may be `accepted` with
//! `source=Developer ID`, which is not notarized either.

/// The source Gatekeeper names for notarized Developer ID code.
const NOTARIZED_SOURCE: &str = "Notarized Developer ID";

/// Gatekeeper's assessment, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Assessment {
    /// The verdict after the path: `accepted`, `rejected`, or an error such as
    /// `CSSMERR_TP_CERT_REVOKED`.
    pub(crate) verdict: String,
    /// The `source=` value, if printed.
    pub(crate) source: Option<String>,
    /// The `origin=` value, if printed: the signing certificate's name.
    pub(crate) origin: Option<String>,
}

impl Assessment {
    /// Why this assessment does not show code notarized and signed by
    /// `team_id`, or `None` when it does.
    pub(crate) fn notarization_problem(&self, team_id: &str) -> Option<String> {
        match (&self.source, self.verdict.as_str()) {
            (Some(source), "accepted") if source == NOTARIZED_SOURCE => {
                let team = self.origin.as_deref().and_then(origin_team);
                match team {
                    Some(team) if team == team_id => None,
                    _ => Some(format!("notarized for another origin ({})", self.origin.as_deref().unwrap_or("none"))),
                }
            }
            (Some(source), _) => Some(format!("not notarized (source={source})")),
            (None, verdict) => Some(format!("not notarized (Gatekeeper: {verdict})")),
        }
    }
}

/// The Team ID at the end of an origin, `Developer ID Installer: Example Corp (ABCDE12345)`.
fn origin_team(origin: &str) -> Option<&str> {
    let (_, team) = origin.trim().strip_suffix(')')?.rsplit_once(" (")?;
    Some(team)
}

/// Reads what `spctl --assess -vv` printed.
pub(crate) fn assessment(output: &str) -> Assessment {
    let mut lines = output.lines().map(str::trim).filter(|line| !line.is_empty());
    let first = lines.next().unwrap_or("no verdict");
    let verdict = first.rsplit_once(": ").map_or(first, |(_, verdict)| verdict).to_string();
    let (mut source, mut origin) = (None, None);
    for line in lines {
        if let Some(value) = line.strip_prefix("source=") {
            source = Some(value.to_string());
        } else if let Some(value) = line.strip_prefix("origin=") {
            origin = Some(value.to_string());
        }
    }
    Assessment { verdict, source, origin }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> &'static str {
        match name {
            "install notarized" => include_str!("../../../tests/fixtures/signatures/spctl-install-notarized.txt"),
            "install not notarized" => {
                include_str!("../../../tests/fixtures/signatures/spctl-install-not-notarized.txt")
            }
            "notarized" => include_str!("../../../tests/fixtures/signatures/spctl-execute-notarized.txt"),
            "developer id" => include_str!("../../../tests/fixtures/signatures/spctl-execute-developer-id.txt"),
            "not notarized" => include_str!("../../../tests/fixtures/signatures/spctl-execute-not-notarized.txt"),
            "unsigned" => include_str!("../../../tests/fixtures/signatures/spctl-execute-unsigned.txt"),
            "revoked" => include_str!("../../../tests/fixtures/signatures/spctl-execute-revoked.txt"),
            _ => unreachable!("no fixture {name}"),
        }
    }

    #[test]
    fn only_notarized_code_of_the_team_passes() {
        let cases = [
            ("install notarized", None),
            ("notarized", None),
            ("install not notarized", Some("not notarized (source=Unnotarized Developer ID)")),
            ("not notarized", Some("not notarized (source=Unnotarized Developer ID)")),
            ("developer id", Some("not notarized (source=Developer ID)")),
            ("unsigned", Some("not notarized (source=no usable signature)")),
            ("revoked", Some("not notarized (Gatekeeper: CSSMERR_TP_CERT_REVOKED)")),
        ];
        for (name, expected) in cases {
            let problem = assessment(fixture(name)).notarization_problem("ABCDE12345");
            assert_eq!(problem.as_deref(), expected, "{name}");
        }
        let elsewhere = assessment(fixture("notarized")).notarization_problem("XYZ9876543").unwrap();
        assert_eq!(elsewhere, "notarized for another origin (Developer ID Application: Example Corp (ABCDE12345))");
    }

    #[test]
    fn the_verdict_source_and_origin_are_read() {
        let read = assessment(fixture("install notarized"));
        assert_eq!(read.verdict, "accepted");
        assert_eq!(read.source.as_deref(), Some("Notarized Developer ID"));
        assert_eq!(read.origin.as_deref(), Some("Developer ID Installer: Example Corp (ABCDE12345)"));
    }
}
