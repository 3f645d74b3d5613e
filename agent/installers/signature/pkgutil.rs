//! Reading `pkgutil --check-signature PKG`: the status line and the
//! certificate chain, leaf first.
//!
//! ```text
//! Package "Foo-2.1.pkg":
//!    Status: signed by a developer certificate issued by Apple for distribution
//!    Notarization: trusted by the Apple notary service
//!    Certificate Chain:
//!     1. Developer ID Installer: Example Corp (ABCDE12345)
//!        Expires: 2030-02-01 22:12:15 +0000
//!        ...
//!     3. Apple Root CA
//! ```
//! An unsigned package says `Status: no signature`; a revoked, expired or
//! untrusted one says so on the same line.

use super::signer::{Signer, split_certificate_name};

/// The status `pkgutil` gives a package signed with a Developer ID whose chain it trusts.
const DEVELOPER_ID_STATUS: &str = "signed by a developer certificate issued by Apple for distribution";
/// The status of a package without a signature.
const NO_SIGNATURE_STATUS: &str = "no signature";
/// How a Developer ID Installer certificate's name starts.
const INSTALLER_CERTIFICATE: &str = "Developer ID Installer: ";
/// The root every trusted Developer ID chain ends at.
pub(super) const APPLE_ROOT: &str = "Apple Root CA";

/// What `pkgutil --check-signature` printed, read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CheckedSignature {
    /// The text after `Status: `, or nothing when the line is missing.
    status: String,
    /// The certificates' names, leaf first.
    chain: Vec<String>,
}

/// Who signed the package, from what `pkgutil --check-signature` printed and
/// whether it exited 0: a Developer ID only with that status, a chain from a
/// Developer ID Installer certificate to Apple's root, and exit 0.
pub(crate) fn signer(output: &str, exited_zero: bool) -> Signer {
    let checked = read(output);
    if checked.status == NO_SIGNATURE_STATUS {
        return Signer::NotSigned;
    }
    let leaf = checked.chain.first().and_then(|leaf| split_certificate_name(leaf, INSTALLER_CERTIFICATE));
    let rooted = checked.chain.last().is_some_and(|root| root == APPLE_ROOT);
    match leaf {
        Some((certificate, team_id)) if checked.status == DEVELOPER_ID_STATUS && rooted && exited_zero => {
            Signer::DeveloperId { team_id: team_id.to_string(), certificate: certificate.to_string() }
        }
        _ if checked.status.is_empty() => Signer::Untrusted { status: "pkgutil printed no status".into() },
        _ if checked.status == DEVELOPER_ID_STATUS => {
            let first = checked.chain.first().map_or("no certificate", String::as_str);
            Signer::Untrusted { status: format!("not a Developer ID Installer chain to {APPLE_ROOT} ({first})") }
        }
        _ => Signer::Untrusted { status: checked.status },
    }
}

fn read(output: &str) -> CheckedSignature {
    let mut status = String::new();
    let mut chain = Vec::new();
    for line in output.lines().map(str::trim) {
        if let Some(text) = line.strip_prefix("Status:") {
            status = text.trim().to_string();
        } else if let Some(name) = certificate_name(line) {
            chain.push(name.to_string());
        }
    }
    CheckedSignature { status, chain }
}

/// The name on a chain line, `1. Developer ID Installer: …`.
fn certificate_name(line: &str) -> Option<&str> {
    let (number, name) = line.split_once(". ")?;
    (!number.is_empty() && number.bytes().all(|byte| byte.is_ascii_digit())).then(|| name.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: [(&str, &str); 5] = [
        ("signed", include_str!("../../../tests/fixtures/signatures/pkgutil-signed-notarized.txt")),
        ("other team", include_str!("../../../tests/fixtures/signatures/pkgutil-signed-other-team.txt")),
        ("unsigned", include_str!("../../../tests/fixtures/signatures/pkgutil-unsigned.txt")),
        ("revoked", include_str!("../../../tests/fixtures/signatures/pkgutil-revoked.txt")),
        ("untrusted", include_str!("../../../tests/fixtures/signatures/pkgutil-untrusted.txt")),
    ];

    fn fixture(name: &str) -> &'static str {
        FIXTURES.iter().find(|(fixture, _)| *fixture == name).map(|(_, text)| *text).unwrap()
    }

    #[test]
    fn each_kind_of_signature_is_told_apart() {
        let cases = [
            ("signed", "signed by team ABCDE12345 (\"Developer ID Installer: Example Corp\")"),
            ("other team", "signed by team XYZ9876543 (\"Developer ID Installer: Other Corp\")"),
            ("unsigned", "not signed"),
            ("revoked", "signature not trusted: signed by a certificate that has been revoked"),
            ("untrusted", "signature not trusted: signed by untrusted certificate"),
        ];
        for (name, expected) in cases {
            assert_eq!(signer(fixture(name), true).to_string(), expected, "{name}");
        }
    }

    #[test]
    fn the_whole_chain_is_read_leaf_first() {
        let checked = read(fixture("signed"));
        assert_eq!(
            checked.chain,
            ["Developer ID Installer: Example Corp (ABCDE12345)", "Developer ID Certification Authority", APPLE_ROOT]
        );
    }

    #[test]
    fn a_failed_check_or_a_chain_elsewhere_is_not_trusted() {
        assert!(matches!(signer(fixture("signed"), false), Signer::Untrusted { .. }));
        let elsewhere = fixture("signed").replace("3. Apple Root CA", "3. Example Root");
        assert!(matches!(signer(&elsewhere, true), Signer::Untrusted { .. }));
        let application = fixture("signed").replace("Developer ID Installer", "Developer ID Application");
        assert!(matches!(signer(&application, true), Signer::Untrusted { .. }));
        assert_eq!(signer("", true).to_string(), "signature not trusted: pkgutil printed no status");
    }
}
