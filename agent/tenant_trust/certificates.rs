//! Just enough of PEM and DER to read a CA file and a certificate's public key.
//!
//! PEM: the base64 between `-----BEGIN CERTIFICATE-----` and
//! `-----END CERTIFICATE-----` lines; other blocks and text around them (as
//! bundles carry) are skipped. DER: a certificate is `SEQUENCE { tbsCertificate,
//! signatureAlgorithm, signature }` and `tbsCertificate` is `SEQUENCE { [0]
//! version OPTIONAL, serialNumber, signature, issuer, validity, subject,
//! subjectPublicKeyInfo, … }` (RFC 5280); the pin hashes the whole
//! `subjectPublicKeyInfo` element, tag and length included.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub(crate) use crate::der::subject_public_key_info;

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// The DER of every certificate in the PEM `text`, in order. Fails when there is
/// none, or a block is not base64 of a certificate (the message says which).
pub(crate) fn pem_certificates(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut certificates = Vec::new();
    let mut block: Option<String> = None;
    for line in text.lines().map(str::trim) {
        match block.as_mut() {
            None if line == BEGIN => block = Some(String::new()),
            None => {}
            Some(base64) if line == END => {
                let number = certificates.len() + 1;
                let der = STANDARD
                    .decode(base64.as_bytes())
                    .ok()
                    .filter(|der| subject_public_key_info(der).is_some())
                    .ok_or_else(|| format!("certificate {number} is not base64 of a DER certificate"))?;
                certificates.push(der);
                block = None;
            }
            Some(base64) => base64.push_str(line),
        }
    }
    if block.is_some() {
        return Err(format!("certificate {} has no {END} line", certificates.len() + 1));
    }
    if certificates.is_empty() {
        return Err(format!("no {BEGIN} block"));
    }
    Ok(certificates)
}
