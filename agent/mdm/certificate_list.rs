//! CertificateList: the certificates of the System keychain, from the
//! inventory (`security find-certificate`, and `security find-identity` for
//! which have a private key).
//!
//! Apple requires `CommonName`: a certificate whose subject has none is left out.
//! `IsIdentity` is only known when both tools worked; the report makes the
//! whole response an `Error` otherwise.

use serde::Serialize;

use super::built::Built;
use crate::inventory::{Certificate, Inventory};

#[derive(Serialize)]
struct CertificateListBody {
    #[serde(rename = "CertificateList")]
    certificates: Vec<CertificateListItem>,
}

#[derive(Serialize)]
struct CertificateListItem {
    #[serde(rename = "CommonName")]
    common_name: String,
    #[serde(rename = "IsIdentity")]
    is_identity: bool,
    /// The DER bytes, base64 (a plist `<data>`).
    #[serde(rename = "Data")]
    data: String,
}

/// The CertificateList keys.
pub(crate) fn build(inventory: &Inventory) -> Built {
    let mut left_out = Vec::new();
    let mut certificates = Vec::new();
    for certificate in &inventory.certificates {
        match item(certificate) {
            Some(item) => certificates.push(item),
            None => left_out.push(format!(
                "certificate {}: its subject has no common name",
                certificate.sha1.as_deref().unwrap_or("without a SHA-1 fingerprint")
            )),
        }
    }
    let count = certificates.len();
    Built::from_body(&CertificateListBody { certificates }, count, left_out)
}

fn item(certificate: &Certificate) -> Option<CertificateListItem> {
    Some(CertificateListItem {
        common_name: certificate.common_name.clone()?,
        is_identity: certificate.is_identity,
        data: certificate.data_base64.clone(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn certificate(common_name: Option<&str>, is_identity: bool) -> Certificate {
        Certificate {
            common_name: common_name.map(Into::into),
            data_base64: "MAA=".into(),
            is_identity,
            sha1: Some("2EE73A65".into()),
            sha256: None,
        }
    }

    #[test]
    fn certificates_carry_name_identity_and_der_and_nameless_ones_are_left_out() {
        let inventory = Inventory {
            certificates: vec![certificate(Some("Device"), true), certificate(None, false)],
            ..Inventory::default()
        };
        let built = build(&inventory);
        assert_eq!(
            serde_json::Value::Object(built.keys),
            json!({ "CertificateList": [ { "CommonName": "Device", "IsIdentity": true, "Data": "MAA=" } ] })
        );
        assert_eq!(
            (built.count, built.left_out),
            (1, vec!["certificate 2EE73A65: its subject has no common name".into()])
        );
    }
}
