//! Updates: the disruptive work already due on this Mac (an OS update's install
//! and restart, an app that must quit to be replaced) that waits on the person or
//! on a deadline, as the managed items saved it in the store, and the one of them
//! a person may ask to have done now ("Update Now").
//!
//! A person without admin rights may see this list: it says only what the
//! notices already told them (what will happen, by when, where it stands). And
//! they may ask for one of them now: that runs only work the blueprint already
//! holds and the agent would do anyway at its deadline, sooner.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::blueprint::{self, BlueprintErrors};
use crate::config::AgentConfig;
use crate::paths::AgentPaths;
use crate::plan::{self, SelfServiceError};
use crate::state::{PendingWork, Store, StoreError};

/// One item's pending disruptive work, as `agent self-service updates` and the
/// page's Updates section show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingUpdate {
    /// The library item's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// What will happen, in words: `install macOS Sequoia 15.2 and restart`.
    pub action: String,
    /// When it happens whatever the person says, if ever.
    pub deadline: Option<DateTime<Utc>>,
    /// Where it stands, in words: `deferred by ada (1 of 3)`.
    pub state: String,
}

impl From<PendingWork> for PendingUpdate {
    fn from(work: PendingWork) -> Self {
        PendingUpdate {
            id: work.item_id,
            name: work.item_name,
            action: work.action,
            deadline: work.deadline,
            state: work.state,
        }
    }
}

/// Why the updates could not be read, or an update not asked for.
#[derive(Debug, thiserror::Error)]
pub enum UpdatesError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blueprint could not be read.
    #[error(transparent)]
    Blueprint(#[from] BlueprintErrors),
    /// No blueprint has been received or configured yet.
    #[error("no blueprint on this Mac yet: nothing is waiting to be updated")]
    NoBlueprint,
    /// No item of the blueprint has this id or name.
    #[error(transparent)]
    NoSuchItem(#[from] SelfServiceError),
    /// The item exists but none of its work waits.
    #[error("nothing is waiting for {name:?}: it has no pending update on this Mac")]
    NothingWaiting {
        /// The item's name.
        name: String,
    },
}

impl UpdatesError {
    /// Whether the request itself was wrong (exit code 2) rather than the agent
    /// failing to answer it (exit code 1).
    pub fn is_refusal(&self) -> bool {
        matches!(self, UpdatesError::NoSuchItem(_) | UpdatesError::NothingWaiting { .. })
    }
}

/// Every item's pending work, the nearest deadline first; none when the store
/// was never written.
pub fn pending_updates(paths: &AgentPaths) -> Result<Vec<PendingUpdate>, UpdatesError> {
    let Some(store) = Store::open_existing(&paths.store_file)? else {
        return Ok(Vec::new());
    };
    Ok(store.all_pending_work()?.into_iter().map(PendingUpdate::from).collect())
}

/// The pending work of the item of the blueprint a check-in would use whose id
/// (or else name) is `asked`; refused when there is no such item or nothing of
/// it waits.
pub fn waiting_update(paths: &AgentPaths, config: &AgentConfig, asked: &str) -> Result<PendingUpdate, UpdatesError> {
    let path = blueprint::checkin_blueprint_path(paths, config);
    if !path.exists() {
        return Err(UpdatesError::NoBlueprint);
    }
    let loaded = blueprint::load(&path)?;
    let item = plan::find_item(&loaded.blueprint, asked)?;
    let nothing = || UpdatesError::NothingWaiting { name: item.name.clone() };
    let store = Store::open_existing(&paths.store_file)?.ok_or_else(nothing)?;
    store.pending_work(&item.id)?.map(PendingUpdate::from).ok_or_else(nothing)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device with a blueprint of two scripts (`os`, `tool`) and `os`'s work pending.
    fn device() -> (tempfile::TempDir, AgentPaths) {
        let root = tempfile::tempdir().unwrap();
        let paths = AgentPaths::under(root.path());
        std::fs::create_dir_all(paths.saved_blueprint.parent().unwrap()).unwrap();
        let blueprint = serde_json::json!({"id": "bp", "name": "B", "library_items": [
            {"id": "os", "name": "macOS", "type": "custom_script", "audit": "#!/bin/sh\n"},
            {"id": "tool", "name": "Tool", "type": "custom_script", "audit": "#!/bin/sh\n"},
        ]});
        std::fs::write(&paths.saved_blueprint, blueprint.to_string()).unwrap();
        (root, paths)
    }

    fn work(item_id: &str, name: &str, deadline: Option<DateTime<Utc>>) -> PendingWork {
        PendingWork {
            item_id: item_id.into(),
            item_name: name.into(),
            action: "install macOS Sequoia 15.2 and restart".into(),
            subject: "15.2".into(),
            deadline,
            state: "deferred by ada (1 of 3)".into(),
            notice_shown_at: None,
            deferrals_used: 1,
            countdown_ends_at: None,
            updated_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_updates_are_the_pending_work_nearest_deadline_first() {
        let (_root, paths) = device();
        assert_eq!(pending_updates(&paths).unwrap(), [], "no store yet");
        let store = Store::open(&paths.store_file).unwrap();
        let deadline = DateTime::from_timestamp(1_800_000_000, 0);
        store.save_pending_work(&work("tool", "Tool", None)).unwrap();
        store.save_pending_work(&work("os", "macOS", deadline)).unwrap();
        let listed = pending_updates(&paths).unwrap();
        let ids: Vec<_> = listed.iter().map(|update| (update.id.as_str(), update.deadline)).collect();
        assert_eq!(ids, [("os", deadline), ("tool", None)]);
        assert_eq!(listed[0].state, "deferred by ada (1 of 3)");
    }

    #[test]
    fn only_an_item_of_the_blueprint_with_work_pending_may_be_asked_for() {
        let (_root, paths) = device();
        let config = AgentConfig::default();
        let nothing = waiting_update(&paths, &config, "os").unwrap_err();
        assert_eq!(nothing.to_string(), "nothing is waiting for \"macOS\": it has no pending update on this Mac");
        let store = Store::open(&paths.store_file).unwrap();
        store.save_pending_work(&work("os", "macOS", None)).unwrap();
        store.save_pending_work(&work("gone", "Gone", None)).unwrap();
        for asked in ["os", "macOS"] {
            assert_eq!(waiting_update(&paths, &config, asked).unwrap().id, "os", "{asked}");
        }
        let nothing = waiting_update(&paths, &config, "Tool").unwrap_err();
        assert!(matches!(&nothing, UpdatesError::NothingWaiting { name } if name == "Tool"), "{nothing:?}");
        let missing = waiting_update(&paths, &config, "gone").unwrap_err();
        assert_eq!(missing.to_string(), "no library item \"gone\" in blueprint \"bp\"");
        assert!(missing.is_refusal() && nothing.is_refusal());
    }
}
