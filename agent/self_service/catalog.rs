//! The Self Service catalog: the offered items of the blueprint a check-in would
//! use, each with the state its last run left on this Mac.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::blueprint::{self, BlueprintErrors, LibraryItem};
use crate::config::AgentConfig;
use crate::paths::AgentPaths;
use crate::state::{ItemRecord, ItemStatus, Store, StoreError};

/// Why the catalog could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// No blueprint has been received or configured yet.
    #[error("no blueprint at {}: nothing is offered on this Mac yet", path.display())]
    NoBlueprint {
        /// Where the blueprint was looked for.
        path: PathBuf,
    },
    /// The blueprint could not be read.
    #[error(transparent)]
    Blueprint(#[from] BlueprintErrors),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How an offered item stands on this Mac, from its last run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferedState {
    /// Its last run succeeded.
    Installed,
    /// Its last run failed or timed out.
    Failed,
    /// It never ran on this device.
    NotInstalled,
}

impl OfferedState {
    /// The state as listed (`installed`, `failed`, `not_installed`).
    pub fn as_str(self) -> &'static str {
        match self {
            OfferedState::Installed => "installed",
            OfferedState::Failed => "failed",
            OfferedState::NotInstalled => "not_installed",
        }
    }
}

/// One offered item, as `agent self-service list` and the page show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferedItem {
    /// The item's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its type (`custom_script`, `custom_app`, …).
    #[serde(rename = "type")]
    pub item_type: String,
    /// The category the admin filed it under.
    pub category: String,
    /// What it is, for people.
    pub description: String,
    /// Whether the admin recommends it (listed first).
    pub recommended: bool,
    /// How it stands on this Mac.
    pub state: OfferedState,
    /// When its last run ended, if it ran.
    pub last_run: Option<DateTime<Utc>>,
}

/// The offered items of the blueprint a check-in would use (the configured
/// `blueprint_file`, else the one last received), Recommended first, then by
/// category and name.
pub fn offered_items(paths: &AgentPaths, config: &AgentConfig) -> Result<Vec<OfferedItem>, CatalogError> {
    let path = blueprint::checkin_blueprint_path(paths, config);
    if !path.exists() {
        return Err(CatalogError::NoBlueprint { path });
    }
    let loaded = blueprint::load(&path)?;
    let store = Store::open_existing(&paths.store_file)?;
    let mut offered = Vec::new();
    for item in &loaded.blueprint.library_items {
        if item.self_service.is_none() {
            continue;
        }
        let last = match &store {
            Some(store) => store.last_ran_result(&item.id)?,
            None => None,
        };
        offered.extend(offered_item(item, last.as_ref()));
    }
    offered.sort_by(|left, right| {
        (!left.recommended, &left.category, &left.name).cmp(&(!right.recommended, &right.category, &right.name))
    });
    Ok(offered)
}

/// `item` as listed, with the state its last run `last` left; `None` when it is
/// not offered.
fn offered_item(item: &LibraryItem, last: Option<&ItemRecord>) -> Option<OfferedItem> {
    let offer = item.self_service.as_ref()?;
    let state = match last.map(|record| record.status) {
        Some(ItemStatus::Succeeded) => OfferedState::Installed,
        Some(_) => OfferedState::Failed,
        None => OfferedState::NotInstalled,
    };
    Some(OfferedItem {
        id: item.id.clone(),
        name: item.name.clone(),
        item_type: item.item_type().as_str().to_string(),
        category: offer.category.clone(),
        description: offer.description.clone(),
        recommended: offer.recommended,
        state,
        last_run: last.map(|record| record.finished_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::CheckinKind;
    use crate::state::{Drift, RunOutcome, RunRecord, Trigger};

    #[test]
    fn offered_items_come_recommended_first_with_the_state_their_last_run_left() {
        let root = tempfile::tempdir().unwrap();
        let paths = AgentPaths::under(root.path());
        std::fs::create_dir_all(paths.saved_blueprint.parent().unwrap()).unwrap();
        let offer = |category: &str, recommended: bool| serde_json::json!({"category": category, "description": "d", "recommended": recommended});
        let blueprint = serde_json::json!({"id": "bp", "name": "B", "library_items": [
            {"id": "zoom", "name": "Zoom", "type": "custom_script", "frequency": "self_service",
             "audit": "#!/bin/sh\n", "self_service": offer("Meetings", false)},
            {"id": "vpn", "name": "VPN", "type": "custom_script", "frequency": "self_service",
             "audit": "#!/bin/sh\n", "self_service": offer("Security", true)},
            {"id": "fonts", "name": "Fonts", "type": "custom_script", "frequency": "self_service",
             "audit": "#!/bin/sh\n", "self_service": offer("Design", false)},
            {"id": "hidden", "name": "Hidden", "type": "custom_script", "audit": "#!/bin/sh\n"},
        ]});
        std::fs::write(&paths.saved_blueprint, blueprint.to_string()).unwrap();
        let store = Store::open(&paths.store_file).unwrap();
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        store.begin_run(&RunRecord::begun("r1", CheckinKind::SelfService, Trigger::SelfService, at), 2).unwrap();
        let results =
            [ItemRecord::ended("vpn", ItemStatus::Succeeded, at), ItemRecord::ended("zoom", ItemStatus::Failed, at)];
        store.items_finished("r1", &[(0, &results[0]), (1, &results[1])]).unwrap();
        store.finish_run("r1", at, RunOutcome::Failed, &Drift::default()).unwrap();

        let offered = offered_items(&paths, &AgentConfig::default()).unwrap();
        let listed: Vec<_> = offered.iter().map(|item| (item.id.as_str(), item.state)).collect();
        assert_eq!(
            listed,
            [("vpn", OfferedState::Installed), ("fonts", OfferedState::NotInstalled), ("zoom", OfferedState::Failed)]
        );
        assert_eq!(offered[0].last_run, Some(at));
    }

    #[test]
    fn without_a_blueprint_nothing_is_offered_yet() {
        let root = tempfile::tempdir().unwrap();
        let error = offered_items(&AgentPaths::under(root.path()), &AgentConfig::default()).unwrap_err();
        assert!(error.to_string().contains("nothing is offered on this Mac yet"), "{error}");
    }
}
