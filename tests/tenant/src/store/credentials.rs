//! The device tokens the tenant issued: one per enrolled device, kept as its
//! sha256 (a copy of the database does not hand out working tokens), plus, after
//! an admin's rotation, the new token until the device first uses it.
//!
//! ```text
//! enroll ───> token (new, random)         rotate ──> pending = new token
//! request with token, pending set ──> accepted; the reply carries pending (X-Device-Token)
//! request with pending ──> token = pending, pending cleared: the old token stops working
//! revoke ──> row gone: both stop working (401)
//! ```

use std::io::Read;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{Result, Store};

/// The table, created with the rest of the schema.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS device_credentials (
    device_id TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    pending_token TEXT,
    issued_at TEXT NOT NULL
);
";

/// A device an issued token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenOwner {
    pub(crate) device_id: String,
    /// The rotated token its replies must carry, while the device still uses the old one.
    pub(crate) announce: Option<String>,
}

impl Store {
    /// Issues a new random token to `device_id`, replacing any it had (its old
    /// token and a pending rotation stop working).
    pub(crate) fn issue_token(&self, device_id: &str, now: DateTime<Utc>) -> std::io::Result<String> {
        let token = random_token()?;
        let connection = self.lock();
        Store::ensure_device(&connection, device_id, now).map_err(std::io::Error::other)?;
        connection
            .execute(
                "INSERT INTO device_credentials (device_id, token_sha256, pending_token, issued_at)
                 VALUES (?1, ?2, NULL, ?3)
                 ON CONFLICT (device_id) DO UPDATE SET token_sha256 = ?2, pending_token = NULL, issued_at = ?3",
                params![device_id, sha256_hex(&token), now.to_rfc3339()],
            )
            .map_err(std::io::Error::other)?;
        Ok(token)
    }

    /// The device `token` was issued to. A pending rotation's token is promoted on
    /// its first use; the old token, still accepted until then, gets the pending
    /// one announced.
    pub(crate) fn token_owner(&self, token: &str) -> Result<Option<TokenOwner>> {
        let connection = self.lock();
        let promoted = connection
            .query_row(
                "UPDATE device_credentials SET token_sha256 = ?2, pending_token = NULL
                 WHERE pending_token = ?1 RETURNING device_id",
                params![token, sha256_hex(token)],
                |row| row.get::<_, String>(0),
            )
            .optional()?;
        if let Some(device_id) = promoted {
            return Ok(Some(TokenOwner { device_id, announce: None }));
        }
        connection
            .query_row(
                "SELECT device_id, pending_token FROM device_credentials WHERE token_sha256 = ?1",
                [sha256_hex(token)],
                |row| Ok(TokenOwner { device_id: row.get(0)?, announce: row.get(1)? }),
            )
            .optional()
    }

    /// Rotates the device's token: a new one is sent with its next reply. `false`
    /// when the tenant issued it none.
    pub(crate) fn rotate_token(&self, device_id: &str) -> std::io::Result<bool> {
        let token = random_token()?;
        let changed = self
            .lock()
            .execute("UPDATE device_credentials SET pending_token = ?2 WHERE device_id = ?1", params![device_id, token])
            .map_err(std::io::Error::other)?;
        Ok(changed == 1)
    }

    /// Revokes the device's token (and a pending rotation). `false` when it had none.
    pub(crate) fn revoke_token(&self, device_id: &str) -> Result<bool> {
        Ok(self.lock().execute("DELETE FROM device_credentials WHERE device_id = ?1", [device_id])? == 1)
    }
}

/// 32 random bytes from the system, as hex.
fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(format!("dt-{}", hex(&bytes)))
}

fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
