//! Healing a damaged store under the check-in lock: the damaged files are moved
//! aside, a fresh store takes their place and remembers that it is one.
//!
//! A fresh store knows no run, no `once` item done and no daily check-in, so the
//! next check-in is a daily one and every `once` item runs again: the safe side.
//! The device id comes back from the file kept beside the store
//! ([`super::device_identity`]). The drift `store_rebuilt` holds from the rebuild
//! until a later daily check-in ends.

use std::path::Path;

use chrono::Utc;

use super::damage::{self, StoreRebuilt};
use super::store::{Store, StoreError};

/// The last rebuild, as JSON, in the store's `device` table.
const REBUILT_KEY: &str = "store_rebuilt";

/// Present while the drift `store_rebuilt` holds.
const REBUILT_DRIFT_KEY: &str = "store_rebuilt_drift";

impl Store {
    /// Opens the store at `path` for a check-in, checking it in full once per
    /// process (and again after an error said it is damaged); a damaged store is
    /// moved aside and a fresh one started, returned with what was done. The
    /// device id is made (or taken from the file beside the store). Call only
    /// under the check-in lock: no other process may have the store open.
    pub fn open_healing(path: &Path) -> Result<(Self, Option<StoreRebuilt>), StoreError> {
        let damaged = match Self::open_checked(path) {
            Ok(store) => {
                // Made now if missing, so the file beside the store holds it
                // before any damage can take the store's copy.
                store.device_id()?;
                return Ok((store, None));
            }
            Err(error) if error.is_damage() => error,
            Err(error) => return Err(error),
        };
        let reason = crate::error_chain::with_causes(&damaged);
        let at = Utc::now();
        let moved_to = damage::move_aside(path, at)
            .map_err(|error| StoreError::Folder { path: path.to_path_buf(), source: error.into() })?;
        tracing::warn!(
            path = %path.display(),
            moved_to = %moved_to.display(),
            reason = %reason,
            "The state store is damaged: moved it aside and started a fresh one; history and unsent reports are lost, once items run again."
        );
        let store = Self::open(path)?;
        damage::checked(path);
        store.device_id()?;
        let rebuilt = StoreRebuilt { at, reason, moved_to };
        let text = serde_json::to_string(&rebuilt).expect("a rebuild record serializes");
        store.in_transaction(|| {
            store.set_tenant_value(REBUILT_KEY, Some(&text))?;
            store.set_tenant_value(REBUILT_DRIFT_KEY, Some("1"))
        })?;
        Ok((store, Some(rebuilt)))
    }

    /// Opens the store and, when due ([`damage::quick_check_due`]), checks it in full.
    fn open_checked(path: &Path) -> Result<Self, StoreError> {
        let store = Self::open(path)?;
        if damage::quick_check_due(path) {
            damage::quick_check(&store.connection).map_err(store.failed("cannot pass its check"))?;
            damage::checked(path);
        }
        Ok(store)
    }

    /// The last time this store was rebuilt after damage, if it was.
    pub fn store_rebuilt(&self) -> Result<Option<StoreRebuilt>, StoreError> {
        let text = self.tenant_value(REBUILT_KEY)?;
        Ok(text.and_then(|text| serde_json::from_str(&text).ok()))
    }

    /// Whether the drift `store_rebuilt` holds: the store was rebuilt and no
    /// daily check-in has ended since the one that rebuilt it.
    pub fn store_rebuilt_drift(&self) -> Result<bool, StoreError> {
        Ok(self.tenant_value(REBUILT_DRIFT_KEY)?.is_some())
    }

    /// Ends the drift `store_rebuilt`: a daily check-in after the rebuild ended.
    pub fn settle_store_rebuilt_drift(&self) -> Result<(), StoreError> {
        self.set_tenant_value(REBUILT_DRIFT_KEY, None)
    }
}

#[cfg(test)]
#[path = "rebuild_tests.rs"]
mod tests;
