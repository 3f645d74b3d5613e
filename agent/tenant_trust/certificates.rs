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

const SEQUENCE: u8 = 0x30;
const EXPLICIT_VERSION: u8 = 0xA0;
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

/// The whole `subjectPublicKeyInfo` element of the certificate `der`; `None`
/// when the bytes are not a certificate.
pub(crate) fn subject_public_key_info(der: &[u8]) -> Option<&[u8]> {
    let (tag, certificate, rest) = read(der)?;
    if tag != SEQUENCE || !rest.is_empty() {
        return None;
    }
    let (tag, mut fields, _) = read(certificate)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut index = 0;
    while !fields.is_empty() {
        let (tag, _, rest) = read(fields)?;
        let whole = &fields[..fields.len() - rest.len()];
        if tag == EXPLICIT_VERSION && index == 0 {
            fields = rest;
            continue;
        }
        // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
        if index == 5 {
            return (tag == SEQUENCE).then_some(whole);
        }
        index += 1;
        fields = rest;
    }
    None
}

/// The element at the start of `bytes`: its tag, its content and what follows.
/// Only one-byte tags and definite lengths, as DER has.
fn read(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let (&first_length, rest) = rest.split_first()?;
    let (length, rest) = if first_length < 0x80 {
        (usize::from(first_length), rest)
    } else {
        let count = usize::from(first_length & 0x7F);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let length = rest[..count].iter().fold(0usize, |length, byte| (length << 8) | usize::from(*byte));
        (length, &rest[count..])
    };
    (rest.len() >= length).then(|| (tag, &rest[..length], &rest[length..]))
}
