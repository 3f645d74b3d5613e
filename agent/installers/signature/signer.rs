//! Who signed a package or an app, as the parsers of `pkgutil` and `codesign`
//! found it, and the name a Developer ID certificate gives its team by.

use std::fmt;

use crate::blueprint::is_team_id;

/// What a signature says about who made the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Signer {
    /// Signed with a Developer ID certificate whose chain ends at Apple's root.
    DeveloperId {
        /// The Team ID in the certificate, such as `ABCDE12345`.
        team_id: String,
        /// The certificate's name without the Team ID:
        /// `Developer ID Installer: Example Corp`.
        certificate: String,
    },
    /// No signature at all.
    NotSigned,
    /// An ad-hoc signature: a seal, but no identity behind it.
    AdHoc,
    /// A signature the system does not trust for distribution: revoked, expired,
    /// from an unknown authority, or not a Developer ID.
    Untrusted {
        /// What the tool said, such as `signed by a certificate that has been revoked`.
        status: String,
    },
}

impl fmt::Display for Signer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signer::DeveloperId { team_id, certificate } => {
                write!(formatter, "signed by team {team_id} ({certificate:?})")
            }
            Signer::NotSigned => formatter.write_str("not signed"),
            Signer::AdHoc => formatter.write_str("ad-hoc signature"),
            Signer::Untrusted { status } => write!(formatter, "signature not trusted: {status}"),
        }
    }
}

/// Splits a Developer ID certificate's name, `Developer ID Installer: Example
/// Corp (ABCDE12345)`, into the name before the Team ID and the Team ID, when
/// it starts with `kind` (`Developer ID Installer: `) and ends with a Team ID.
pub(crate) fn split_certificate_name<'a>(name: &'a str, kind: &str) -> Option<(&'a str, &'a str)> {
    let name = name.trim();
    if !name.starts_with(kind) {
        return None;
    }
    let (holder, team) = name.strip_suffix(')')?.rsplit_once(" (")?;
    is_team_id(team).then_some((holder, team))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_name_gives_its_team() {
        let kind = "Developer ID Installer: ";
        let cases = [
            (
                "Developer ID Installer: Example Corp (ABCDE12345)",
                Some(("Developer ID Installer: Example Corp", "ABCDE12345")),
            ),
            (
                "Developer ID Installer: A (B) Corp (XYZ9876543)",
                Some(("Developer ID Installer: A (B) Corp", "XYZ9876543")),
            ),
            ("Developer ID Application: Example Corp (ABCDE12345)", None),
            ("Developer ID Installer: Example Corp (abcde12345)", None),
            ("Developer ID Installer: Example Corp", None),
            ("Apple Root CA", None),
        ];
        for (name, expected) in cases {
            assert_eq!(split_certificate_name(name, kind), expected, "{name}");
        }
    }
}
