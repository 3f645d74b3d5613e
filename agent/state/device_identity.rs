//! The device id, kept twice: in the store's `device` table and in a small
//! root-only file beside the store (`device-id`), so a store rebuilt after damage
//! takes the same id and the tenant keeps seeing the same device.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rusqlite::OptionalExtension;

use super::store::{Store, StoreError};
use crate::safe_path::Folder;

/// The file beside the store that keeps the device id.
pub const DEVICE_ID_FILE_NAME: &str = "device-id";

/// More than any id the agent writes: a larger file is not one of ours.
const MAX_FILE_LENGTH: u64 = 128;

impl Store {
    /// This device's stable identifier: the store's, else the one kept beside it
    /// (a store rebuilt after damage), else a new one; the file beside the store is
    /// written when it lacks the id.
    pub fn device_id(&self) -> Result<String, StoreError> {
        if let Some(id) = self.stored_device_id()? {
            self.keep_device_id(&id);
            return Ok(id);
        }
        let id = read_kept(&self.path).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        self.connection
            .execute("INSERT OR IGNORE INTO device (key, value) VALUES ('device_id', ?1)", [&id])
            .map_err(self.failed("cannot save the device id"))?;
        let id = self.stored_device_id()?.unwrap_or(id);
        self.keep_device_id(&id);
        Ok(id)
    }

    fn stored_device_id(&self) -> Result<Option<String>, StoreError> {
        self.connection
            .query_row("SELECT value FROM device WHERE key = 'device_id'", [], |row| row.get(0))
            .optional()
            .map_err(self.failed("cannot read the device id"))
    }

    /// Writes `id` to the file beside the store unless it holds it already; a
    /// failure costs only the id's second copy, and is logged.
    fn keep_device_id(&self, id: &str) {
        if read_kept(&self.path).as_deref() == Some(id) {
            return;
        }
        let file = kept_file(&self.path);
        let written = file.parent().ok_or(()).and_then(|folder| {
            let folder = Folder::trusted(folder).map_err(|error| warn_unwritten(&file, &error))?;
            let bytes = format!("{id}\n");
            crate::atomic_file::replace_in(&folder, DEVICE_ID_FILE_NAME.as_ref(), bytes.as_bytes(), |_| {
                Ok::<(), crate::safe_path::SafePathError>(())
            })
            .map_err(|error| warn_unwritten(&file, &error))
        });
        if written.is_ok() {
            tracing::debug!(path = %file.display(), "Kept the device id beside the state store.");
        }
    }
}

fn warn_unwritten(file: &Path, error: &dyn std::fmt::Display) {
    tracing::warn!(path = %file.display(), error = %error, "Cannot keep the device id beside the state store.");
}

/// The device-id file beside the store at `store_path`.
pub(crate) fn kept_file(store_path: &Path) -> PathBuf {
    store_path.with_file_name(DEVICE_ID_FILE_NAME)
}

/// The id kept beside the store at `store_path`, if the file holds one: a UUID,
/// no link followed, no file larger than [`MAX_FILE_LENGTH`] read.
pub(crate) fn read_kept(store_path: &Path) -> Option<String> {
    let path = kept_file(store_path);
    let file =
        std::fs::OpenOptions::new().read(true).custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits()).open(&path).ok()?;
    let mut text = String::new();
    file.take(MAX_FILE_LENGTH).read_to_string(&mut text).ok()?;
    let id = uuid::Uuid::parse_str(text.trim()).ok();
    if id.is_none() {
        tracing::warn!(path = %path.display(), "The kept device id is not a UUID; it is written again.");
    }
    id.map(|id| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_device_id_is_kept_beside_the_store_private_to_root() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("agent.sqlite3");
        let id = Store::open(&path).unwrap().device_id().unwrap();
        let file = folder.path().join(DEVICE_ID_FILE_NAME);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), format!("{id}\n"));
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_fresh_store_takes_the_kept_id_and_a_store_without_the_file_writes_it() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("agent.sqlite3");
        let id = Store::open(&path).unwrap().device_id().unwrap();
        for name in ["agent.sqlite3", "agent.sqlite3-wal", "agent.sqlite3-shm"] {
            let _ = std::fs::remove_file(folder.path().join(name));
        }
        assert_eq!(Store::open(&path).unwrap().device_id().unwrap(), id, "a fresh store keeps the id");
        std::fs::remove_file(kept_file(&path)).unwrap();
        assert_eq!(Store::open(&path).unwrap().device_id().unwrap(), id);
        assert_eq!(read_kept(&path).as_deref(), Some(id.as_str()), "written again from the store");
    }

    #[test]
    fn a_kept_file_that_is_not_an_id_is_ignored_and_replaced() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("agent.sqlite3");
        std::fs::write(kept_file(&path), "not an id\n").unwrap();
        let id = Store::open(&path).unwrap().device_id().unwrap();
        assert!(uuid::Uuid::parse_str(&id).is_ok());
        assert_eq!(read_kept(&path).as_deref(), Some(id.as_str()));
    }
}
