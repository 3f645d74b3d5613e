//! The device's credential: which bearer token a request carries, and the token
//! file the tenant's enrollment and rotations fill.
//!
//! What a profile delivers (`tenant.enrollment_secret`, in managed preferences every
//! local user can read) is only good for `POST /api/v1/agent/enroll`; the device
//! token the tenant answers with is kept in `state/device-token.json` (root-only,
//! 0600, written by the one atomic writer, never through a link) and carried by
//! every other request. A token set directly in `tenant.token` (`agent enroll`) is
//! used when no token file exists.
//!
//! ```text
//! token in use:  token file ─ else tenant.token ─ else none (enroll first, with the secret)
//! rotation:      a reply's X-Device-Token ─> file {token: new, previous: old}
//!                next request: new ─ 401 ─> once more with old (the new one is dropped)
//!                               new ─ 2xx ─> previous dropped
//! revocation:    401 with the stored token ─> file removed ─> re-enroll (once per check-in)
//! ```

use std::io::Read;

use nix::fcntl::OFlag;
use serde::{Deserialize, Serialize};

use crate::config::Secret;
use crate::paths::AgentPaths;
use crate::safe_path::{self, Missing, SafePathError};

/// The largest token file read: far more than two tokens.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// The longest token accepted from the tenant.
const MAX_TOKEN_CHARS: usize = 4096;

/// Why the token file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CredentialError {
    /// Reaching, reading, writing or removing the file failed.
    #[error(transparent)]
    Path(#[from] SafePathError),
    /// Reading the file failed.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The token file.
        path: String,
        /// Why, as the system said it.
        error: std::io::Error,
    },
    /// The file holds something other than a token file.
    #[error("{path} is not a device token file; it is ignored")]
    Damaged {
        /// The token file.
        path: String,
    },
}

/// The token file as written: the token in use and, for one grace request after a
/// rotation, the one it replaced. Its `Debug` shows neither.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoredToken {
    /// The device token requests carry.
    pub(crate) device_token: String,
    /// The token before the last rotation, until a request with the new one succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) previous_token: Option<String>,
}

impl std::fmt::Debug for StoredToken {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("StoredToken")
            .field("device_token", &crate::config::REDACTED)
            .field("previous_token", &self.previous_token.as_ref().map(|_| crate::config::REDACTED))
            .finish()
    }
}

/// Whether `text` can be a device token: 1 to 4096 visible ASCII characters (what
/// an HTTP header carries), so a hostile reply cannot smuggle a line break in.
pub(crate) fn is_usable_token(text: &str) -> bool {
    !text.is_empty() && text.len() <= MAX_TOKEN_CHARS && text.bytes().all(|byte| byte.is_ascii_graphic())
}

/// Reads the token file; `None` when there is none. The state folder is reached
/// without following a link, and the file is opened with `O_NOFOLLOW`.
pub(crate) fn load(paths: &AgentPaths) -> Result<Option<StoredToken>, CredentialError> {
    let display = paths.device_token.display().to_string();
    let (folder, name) = match safe_path::parent_of(&paths.root, &paths.device_token, Missing::Fail) {
        Ok(found) => found,
        Err(SafePathError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let file = match folder.open_file(&name, OFlag::O_RDONLY, 0) {
        Ok(file) => file,
        Err(SafePathError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| CredentialError::Read { path: display.clone(), error })?;
    let stored: StoredToken =
        serde_json::from_slice(&bytes).map_err(|_| CredentialError::Damaged { path: display.clone() })?;
    let previous_usable = stored.previous_token.as_deref().is_none_or(is_usable_token);
    if bytes.len() as u64 > MAX_FILE_BYTES || !is_usable_token(&stored.device_token) || !previous_usable {
        return Err(CredentialError::Damaged { path: display });
    }
    Ok(Some(stored))
}

/// Replaces the token file with `stored` (0600, atomically, never through a link).
pub(crate) fn save(paths: &AgentPaths, stored: &StoredToken) -> Result<(), CredentialError> {
    let bytes = serde_json::to_vec(stored).unwrap_or_default();
    crate::atomic_file::replace_private(&paths.root, &paths.device_token, &bytes)?;
    Ok(())
}

/// Removes the token file (a revoked token, or `agent enroll` setting one directly).
pub(crate) fn remove(paths: &AgentPaths) -> Result<(), CredentialError> {
    match safe_path::parent_of(&paths.root, &paths.device_token, Missing::Fail) {
        Ok((folder, name)) => Ok(folder.remove_file(&name)?),
        Err(SafePathError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// Where the token in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenSource {
    /// The token file: issued at enrollment or by a rotation.
    Issued,
    /// `tenant.token`, set directly by an admin.
    Configured,
    /// No token at all.
    None,
}

/// The tokens one client works with.
#[derive(Debug, Clone)]
pub(crate) struct Credential {
    /// What requests carry.
    pub(crate) in_use: Option<Secret>,
    /// The token a rotation replaced, for one grace request.
    pub(crate) previous: Option<Secret>,
    /// Where `in_use` came from.
    pub(crate) source: TokenSource,
    /// `tenant.token`, the fallback when the token file goes.
    pub(crate) configured: Option<Secret>,
}

impl Credential {
    /// The token file's token when there is one (a damaged file is logged and
    /// ignored), else `configured`.
    pub(crate) fn choose(paths: &AgentPaths, configured: Option<Secret>) -> Self {
        let stored = load(paths).unwrap_or_else(|error| {
            tracing::error!(error = %error, "Cannot read the device token file; using the configured token.");
            None
        });
        match stored {
            Some(stored) => Self {
                in_use: Some(Secret::new(stored.device_token)),
                previous: stored.previous_token.map(Secret::new),
                source: TokenSource::Issued,
                configured,
            },
            None => Self::configured(configured),
        }
    }

    /// Only the configured token (or none).
    pub(crate) fn configured(configured: Option<Secret>) -> Self {
        let source = if configured.is_some() { TokenSource::Configured } else { TokenSource::None };
        Self { in_use: configured.clone(), previous: None, source, configured }
    }

    /// The file's contents for the tokens now held; `None` unless issued.
    pub(crate) fn stored(&self) -> Option<StoredToken> {
        let in_use = self.in_use.as_ref().filter(|_| self.source == TokenSource::Issued)?;
        Some(StoredToken {
            device_token: in_use.expose().to_string(),
            previous_token: self.previous.as_ref().map(|previous| previous.expose().to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_token_file_is_private_replaced_whole_and_never_read_through_a_link() {
        let root = tempfile::tempdir().unwrap();
        let paths = AgentPaths::under(root.path());
        assert_eq!(load(&paths).unwrap(), None, "no state folder yet");
        remove(&paths).unwrap();
        let stored = StoredToken { device_token: "dt-2".into(), previous_token: Some("dt-1".into()) };
        save(&paths, &stored).unwrap();
        assert_eq!(std::fs::metadata(&paths.device_token).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load(&paths).unwrap(), Some(stored));
        let chosen = Credential::choose(&paths, Some(Secret::new("configured")));
        assert_eq!((chosen.in_use.unwrap().expose(), chosen.source), ("dt-2", TokenSource::Issued));

        std::fs::write(&paths.device_token, r#"{"device_token": "a b"}"#).unwrap();
        assert!(matches!(load(&paths), Err(CredentialError::Damaged { .. })), "a space is no token");
        let chosen = Credential::choose(&paths, Some(Secret::new("configured")));
        assert_eq!((chosen.in_use.unwrap().expose(), chosen.source), ("configured", TokenSource::Configured));

        remove(&paths).unwrap();
        let elsewhere = root.path().join("elsewhere.json");
        std::fs::write(&elsewhere, r#"{"device_token": "planted"}"#).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &paths.device_token).unwrap();
        assert!(matches!(load(&paths), Err(CredentialError::Path(SafePathError::SymbolicLink { .. }))));
        save(&paths, &StoredToken { device_token: "dt-3".into(), previous_token: None }).unwrap();
        assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), r#"{"device_token": "planted"}"#, "link replaced");
        assert_eq!(load(&paths).unwrap().unwrap().device_token, "dt-3");

        let padded = format!(r#"{{"device_token": "dt-4", "pad": "{}"}}"#, "x".repeat(MAX_FILE_BYTES as usize));
        std::fs::write(&paths.device_token, padded).unwrap();
        assert!(matches!(load(&paths), Err(CredentialError::Damaged { .. })), "larger than the bound");
        std::fs::write(&paths.device_token, "[".repeat(10_000)).unwrap();
        assert!(matches!(load(&paths), Err(CredentialError::Damaged { .. })), "nested past any depth");
    }

    #[test]
    fn a_token_is_visible_ascii_of_bounded_length() {
        for (text, usable) in
            [("dt-1", true), ("", false), ("a b", false), ("a\nb", false), ("é", false), (&"a".repeat(4097), false)]
        {
            assert_eq!(is_usable_token(text), usable, "{text:?}");
        }
    }
}
