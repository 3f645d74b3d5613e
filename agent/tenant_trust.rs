//! Whom the agent trusts to be its tenant over TLS: the system's trust anchors,
//! plus those of `tenant.ca_file` for a tenant with its own CA, and, when
//! `tenant.pinned_spki_sha256` is set, only a server whose public key is pinned.
//!
//! TLS is always verified: the CA file adds anchors beside the system's, it never
//! replaces verification, and a pin is checked after the chain and the name have
//! been verified, never instead of them. Both platforms take the same path: the
//! anchors go to reqwest's builder (Security.framework's trust on a Mac, rustls
//! elsewhere), and the pin is checked by a layer on reqwest's connector
//! ([`connection_check`]) on each new connection's peer certificate, after the
//! handshake and before hyper writes a byte of a request on it, so a server that
//! fails the pin never sees a request line, a body or the `Authorization` header.
//!
//! The CA file decides whom the agent (root) believes, so it is held to the rule
//! of the configuration's own files (`config`'s trusted writers, which open it):
//! it and every folder on the way owned by root (or by the agent's own user, for
//! scratch devices under `AGENT_ROOT`) and writable by nobody else; at most
//! [`MAX_CA_FILE_BYTES`]; PEM certificates only.

mod certificates;
mod connection_check;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

pub(crate) use certificates::{pem_certificates, subject_public_key_info};
use connection_check::ConnectionCheckLayer;

/// The largest CA file the agent reads: far more than any real bundle of anchors.
pub(crate) const MAX_CA_FILE_BYTES: u64 = 1 << 20;

/// Why the tenant's trust settings cannot be used. Each names the key to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TrustProblem {
    /// The CA file cannot be opened or read.
    #[error("cannot read the CA file {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    /// A user who is not root may not read the CA file (it may be root's alone;
    /// the daemon, root, reads and checks it).
    #[error("cannot read the CA file {path}: only root may read it")]
    ClosedToThisUser { path: PathBuf },
    /// Not a regular file, or it (or a folder on the way to it) could have been
    /// written by someone other than root (or this agent's user); `reason` says which.
    #[error("the CA file {path} cannot be believed: {reason} (it decides whom the agent trusts)")]
    Untrusted { path: PathBuf, reason: String },
    /// Larger than [`MAX_CA_FILE_BYTES`].
    #[error("the CA file {path} is larger than {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
    /// No `-----BEGIN CERTIFICATE-----` block, or a block that is no certificate.
    #[error("the CA file {path} is not PEM certificates: {reason}")]
    NotPem { path: PathBuf, reason: String },
    /// A certificate the TLS library refuses as an anchor.
    #[error("the CA file {path} holds a certificate the TLS library cannot use: {reason}")]
    Unusable { path: PathBuf, reason: String },
    /// A pin that is not the base64 or hex of 32 bytes.
    #[error("expected the base64 (44 characters) or hex (64 digits) of a SHA-256, found {found:?}")]
    NotAPin { found: String },
    /// Pins given as something other than text.
    #[error("expected one pin or a list of pins separated by commas or spaces, found {found}")]
    NotPinText { found: String },
}

/// The SHA-256 of a certificate's DER `SubjectPublicKeyInfo`: what
/// `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256` hashes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpkiPin([u8; 32]);

impl SpkiPin {
    /// Reads one pin: the base64 (standard, padded) or hex of 32 bytes.
    pub(crate) fn parse(text: &str) -> Result<Self, TrustProblem> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            (0..32).map(|index| u8::from_str_radix(&text[index * 2..index * 2 + 2], 16).ok()).collect()
        } else {
            STANDARD.decode(text).ok()
        };
        let found: String = text.chars().take(80).collect();
        bytes.and_then(|bytes| <[u8; 32]>::try_from(bytes).ok()).map(Self).ok_or(TrustProblem::NotAPin { found })
    }

    /// Reads one pin or several separated by commas or white space; none is an error.
    pub(crate) fn parse_list(text: &str) -> Result<Vec<Self>, TrustProblem> {
        let pins: Vec<Self> = text
            .split([',', ' ', '\t', '\n', '\r'])
            .filter(|part| !part.is_empty())
            .map(Self::parse)
            .collect::<Result<_, _>>()?;
        if pins.is_empty() {
            return Err(TrustProblem::NotAPin { found: text.to_string() });
        }
        Ok(pins)
    }

    /// The pin of a certificate (DER); `None` when the bytes are not a certificate.
    pub(crate) fn of_certificate(certificate: &[u8]) -> Option<Self> {
        subject_public_key_info(certificate).map(|key| Self(Sha256::digest(key).into()))
    }
}

impl std::fmt::Display for SpkiPin {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&STANDARD.encode(self.0))
    }
}

impl std::fmt::Debug for SpkiPin {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "SpkiPin({self})")
    }
}

impl Serialize for SpkiPin {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The certificates of `tenant.ca_file`, read from it and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CaCertificates {
    /// The file they came from, for messages.
    pub(crate) path: PathBuf,
    /// Each certificate's DER.
    pub(crate) der: Vec<Vec<u8>>,
}

/// Reads the CA file at `path` from `file`, opened by the caller after checking
/// who may have written it (`config`'s trusted writers): at most
/// [`MAX_CA_FILE_BYTES`], one or more PEM certificates.
pub(crate) fn read_ca_certificates(file: File, path: &Path) -> Result<CaCertificates, TrustProblem> {
    let mut bytes = Vec::new();
    file.take(MAX_CA_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| TrustProblem::Unreadable { path: path.to_path_buf(), reason: error.to_string() })?;
    if bytes.len() as u64 > MAX_CA_FILE_BYTES {
        return Err(TrustProblem::TooLarge { path: path.to_path_buf(), limit: MAX_CA_FILE_BYTES });
    }
    let text = String::from_utf8_lossy(&bytes);
    let der = pem_certificates(&text).map_err(|reason| TrustProblem::NotPem { path: path.to_path_buf(), reason })?;
    Ok(CaCertificates { path: path.to_path_buf(), der })
}

/// The tenant's TLS trust, ready for a client builder.
#[derive(Clone, Default)]
pub(crate) struct TenantTrust {
    /// The CA file's certificates, added to the system's anchors.
    anchors: Vec<reqwest::Certificate>,
    /// The pinned public keys; empty means any verified server.
    pins: Arc<Vec<SpkiPin>>,
}

impl TenantTrust {
    /// The trust `tenant.ca_file` (its certificates, as read now) and
    /// `tenant.pinned_spki_sha256` describe.
    pub(crate) fn new(ca: Option<&CaCertificates>, pins: &[SpkiPin]) -> Result<Self, TrustProblem> {
        let anchors = match ca {
            Some(ca) => ca
                .der
                .iter()
                .map(|der| reqwest::Certificate::from_der(der))
                .collect::<Result<_, _>>()
                .map_err(|error| TrustProblem::Unusable { path: ca.path.clone(), reason: error.to_string() })?,
            None => Vec::new(),
        };
        Ok(Self { anchors, pins: Arc::new(pins.to_vec()) })
    }

    /// `builder` trusting the CA file's anchors beside the system's (for any
    /// client that may fetch from the tenant's host, such as downloads).
    pub(crate) fn with_anchors(&self, builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        self.anchors.iter().cloned().fold(builder, reqwest::ClientBuilder::add_root_certificate)
    }

    /// `builder` for the tenant at `tenant_url` (shown redacted in errors): the
    /// anchors, and the connection check, which holds every new connection to the
    /// pins and says which check a refused connection failed.
    pub(crate) fn for_tenant(&self, builder: reqwest::ClientBuilder, tenant_url: &str) -> reqwest::ClientBuilder {
        let layer = ConnectionCheckLayer::new(crate::network_rules::redacted_text(tenant_url), Arc::clone(&self.pins));
        self.with_anchors(builder).tls_info(true).connector_layer(layer)
    }
}
