//! Reading the certificates of the System keychain.
//!
//! `security find-certificate -a -Z -p KEYCHAIN` prints, per certificate, its
//! fingerprints (`SHA-256 hash: …` on recent macOS, then `SHA-1 hash: …`) and the
//! certificate in PEM. The PEM form was chosen over the attribute dump (`-a`
//! alone) because it carries the DER an MDM `CertificateList` sends, and the
//! common name is read from the DER itself rather than from a keychain label.
//!
//! `security find-identity KEYCHAIN` lists the certificates that have a private
//! key, `  1) <SHA-1> "<name>"` (invalid ones followed by the reason); a
//! certificate whose SHA-1 is listed there is an identity.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::model::Certificate;
use super::parse_error::ParseError;
use crate::der::subject_common_name;

const TOOL: &str = "security find-certificate -a -Z -p";
const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// Reads the output of `security find-certificate -a -Z -p`, certificates in
/// keychain order; `is_identity` is left false (see [`mark_identities`]).
pub(crate) fn parse_certificates(output: &str) -> Result<Vec<Certificate>, ParseError> {
    let mut certificates = Vec::new();
    let (mut sha256, mut sha1) = (None, None);
    let mut pem: Option<String> = None;
    for line in output.lines().map(str::trim) {
        if let Some(hash) = line.strip_prefix("SHA-256 hash:") {
            sha256 = Some(hash.trim().to_ascii_uppercase());
        } else if let Some(hash) = line.strip_prefix("SHA-1 hash:") {
            sha1 = Some(hash.trim().to_ascii_uppercase());
        } else if line == BEGIN {
            pem = Some(String::new());
        } else if line == END {
            let body = pem.take().ok_or_else(|| layout("an END line without a BEGIN line"))?;
            let der = STANDARD
                .decode(body.as_bytes())
                .map_err(|error| layout(&format!("a certificate that is not base64 ({error})")))?;
            certificates.push(Certificate {
                common_name: subject_common_name(&der),
                data_base64: STANDARD.encode(&der),
                is_identity: false,
                sha1: sha1.take(),
                sha256: sha256.take(),
            });
        } else if let Some(body) = pem.as_mut() {
            body.push_str(line);
        }
    }
    if pem.is_some() {
        return Err(layout("a certificate cut off before its END line"));
    }
    Ok(certificates)
}

fn layout(problem: &str) -> ParseError {
    ParseError::Layout { tool: TOOL, problem: problem.to_string() }
}

/// The SHA-1 fingerprints (upper-case hex) `security find-identity` lists, valid or not.
pub(crate) fn parse_identities(output: &str) -> BTreeSet<String> {
    output
        .lines()
        .filter_map(|line| {
            let (number, rest) = line.trim().split_once(") ")?;
            number.parse::<u32>().ok()?;
            let hash = rest.split_whitespace().next()?;
            (hash.len() == 40 && hash.bytes().all(|byte| byte.is_ascii_hexdigit())).then(|| hash.to_ascii_uppercase())
        })
        .collect()
}

/// Marks the certificates whose SHA-1 is among `identities`.
pub(crate) fn mark_identities(certificates: &mut [Certificate], identities: &BTreeSet<String>) {
    for certificate in certificates {
        certificate.is_identity = certificate.sha1.as_ref().is_some_and(|sha1| identities.contains(sha1));
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    const CERTIFICATES: &str = include_str!("../../tests/fixtures/inventory/security-find-certificate.txt");
    const IDENTITIES: &str = include_str!("../../tests/fixtures/inventory/security-find-identity.txt");

    #[test]
    fn certificates_read_with_their_names_fingerprints_and_der() {
        let mut certificates = parse_certificates(CERTIFICATES).unwrap();
        mark_identities(&mut certificates, &parse_identities(IDENTITIES));
        let summary: Vec<_> = certificates
            .iter()
            .map(|certificate| {
                (certificate.common_name.as_deref(), certificate.is_identity, certificate.sha1.as_deref())
            })
            .collect();
        assert_eq!(
            summary,
            [
                (Some("Example Corp Root CA"), false, Some("B09FA20DBD6221E06666C11FF3BFEEA3A4DCFA1F")),
                (Some("Mac (C02FK3ZXQ6L4) – Gerät"), true, Some("2EE73A650E8F8366CF07C686165660E31DC1E332")),
            ]
        );
        for certificate in &certificates {
            let der = STANDARD.decode(&certificate.data_base64).unwrap();
            let digest: String = Sha256::digest(&der).iter().map(|byte| format!("{byte:02X}")).collect();
            assert_eq!(certificate.sha256.as_deref(), Some(digest.as_str()), "the DER is the certificate printed");
        }
    }

    #[test]
    fn identities_are_listed_valid_or_not() {
        let identities = parse_identities(IDENTITIES);
        assert_eq!(identities.len(), 2);
        assert!(identities.contains("9C1A0B2D3E4F5A6B7C8D9E0F1A2B3C4D5E6F7A8B"));
        assert!(parse_identities("\n     0 identities found\n").is_empty());
    }

    #[test]
    fn an_empty_keychain_is_no_certificate_and_a_cut_one_an_error() {
        assert_eq!(parse_certificates("").unwrap(), []);
        let older = CERTIFICATES.lines().filter(|line| !line.starts_with("SHA-256")).collect::<Vec<_>>().join("\n");
        assert!(parse_certificates(&older).unwrap().iter().all(|certificate| certificate.sha256.is_none()));
        let cut = &CERTIFICATES[..CERTIFICATES.len() - 40];
        assert_eq!(
            parse_certificates(cut).unwrap_err().to_string(),
            "security find-certificate -a -Z -p printed a certificate cut off before its END line"
        );
        let garbage = format!("{BEGIN}\n*not base64*\n{END}\n");
        assert!(parse_certificates(&garbage).unwrap_err().to_string().contains("not base64"));
    }
}
