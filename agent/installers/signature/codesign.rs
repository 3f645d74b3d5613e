//! Reading `codesign`: what `codesign -dv --verbose=2 APP` prints about a
//! signature (on stderr, one `Key=value` a line), and why `codesign --verify
//! --deep --strict APP` refused one.
//!
//! ```text
//! Identifier=com.example.foo
//! Authority=Developer ID Application: Example Corp (ABCDE12345)
//! Authority=Developer ID Certification Authority
//! Authority=Apple Root CA
//! TeamIdentifier=ABCDE12345
//! ```
//! An ad-hoc signature shows `Signature=adhoc` and `TeamIdentifier=not set`; an
//! unsigned app, `APP: code object is not signed at all`.

use super::pkgutil::APPLE_ROOT;
use super::signer::{Signer, split_certificate_name};

/// How a Developer ID Application certificate's name starts.
const APPLICATION_CERTIFICATE: &str = "Developer ID Application: ";
/// What `codesign` says of code without a signature.
const NOT_SIGNED: &str = "code object is not signed at all";

/// Who signed the app, from what `codesign -dv --verbose=2` printed: a
/// Developer ID only when the leaf is a Developer ID Application certificate of
/// the same team as `TeamIdentifier` and the chain ends at Apple's root.
pub(crate) fn signer(output: &str) -> Signer {
    if output.contains(NOT_SIGNED) {
        return Signer::NotSigned;
    }
    let values = |key: &str| {
        let prefix = format!("{key}=");
        output.lines().filter_map(move |line| line.trim().strip_prefix(&prefix).map(str::to_string))
    };
    if values("Signature").any(|value| value == "adhoc") {
        return Signer::AdHoc;
    }
    let authorities: Vec<String> = values("Authority").collect();
    let team = values("TeamIdentifier").next();
    let leaf = authorities.first().and_then(|leaf| split_certificate_name(leaf, APPLICATION_CERTIFICATE));
    let rooted = authorities.last().is_some_and(|root| root == APPLE_ROOT);
    match (leaf, team) {
        (Some((certificate, team_id)), Some(team)) if team == team_id && rooted => {
            Signer::DeveloperId { team_id: team, certificate: certificate.to_string() }
        }
        (_, team) => {
            let leaf = authorities.first().map_or("no authority", String::as_str);
            let team = team.unwrap_or_else(|| "not set".into());
            Signer::Untrusted { status: format!("not a Developer ID Application signature ({leaf}, team {team})") }
        }
    }
}

/// Why `codesign --verify` refused the app: its first line without the path
/// it starts with, such as `a sealed resource is missing or invalid`.
pub(crate) fn verify_failure(output: &str) -> String {
    let first = output.lines().map(str::trim).find(|line| !line.is_empty()).unwrap_or("no reason given");
    first.rsplit_once(": ").map_or(first, |(_, reason)| reason).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> &'static str {
        match name {
            "notarized" => include_str!("../../../tests/fixtures/signatures/codesign-display-notarized.txt"),
            "other team" => include_str!("../../../tests/fixtures/signatures/codesign-display-other-team.txt"),
            "adhoc" => include_str!("../../../tests/fixtures/signatures/codesign-display-adhoc.txt"),
            "unsigned" => include_str!("../../../tests/fixtures/signatures/codesign-display-unsigned.txt"),
            "verify unsigned" => include_str!("../../../tests/fixtures/signatures/codesign-verify-unsigned.txt"),
            "verify modified" => include_str!("../../../tests/fixtures/signatures/codesign-verify-modified.txt"),
            "verify revoked" => include_str!("../../../tests/fixtures/signatures/codesign-verify-revoked.txt"),
            _ => unreachable!("no fixture {name}"),
        }
    }

    #[test]
    fn each_kind_of_signature_is_told_apart() {
        let cases = [
            ("notarized", "signed by team ABCDE12345 (\"Developer ID Application: Example Corp\")"),
            ("other team", "signed by team XYZ9876543 (\"Developer ID Application: Other Corp\")"),
            ("adhoc", "ad-hoc signature"),
            ("unsigned", "not signed"),
        ];
        for (name, expected) in cases {
            assert_eq!(signer(fixture(name)).to_string(), expected, "{name}");
        }
    }

    #[test]
    fn a_team_identifier_that_disagrees_with_the_certificate_is_not_trusted() {
        let mixed = fixture("notarized").replace("TeamIdentifier=ABCDE12345", "TeamIdentifier=XYZ9876543");
        assert_eq!(
            signer(&mixed).to_string(),
            "signature not trusted: not a Developer ID Application signature \
             (Developer ID Application: Example Corp (ABCDE12345), team XYZ9876543)"
        );
        let self_made = fixture("notarized").replace("Authority=Apple Root CA", "Authority=Example Root");
        assert!(matches!(signer(&self_made), Signer::Untrusted { .. }));
    }

    #[test]
    fn a_refused_verification_says_why() {
        assert_eq!(verify_failure(fixture("verify unsigned")), "code object is not signed at all");
        assert_eq!(verify_failure(fixture("verify modified")), "a sealed resource is missing or invalid");
        assert_eq!(verify_failure(fixture("verify revoked")), "CSSMERR_TP_CERT_REVOKED");
        assert_eq!(verify_failure(""), "no reason given");
    }
}
