//! The library as `agent library --list` and `--state` show it: every item of
//! the blueprint a check-in would use, in run order, each with what its last
//! run left on this Mac, and one item's last results and output.
//!
//! Nothing here runs an item: `agent library --item` is a check-in of kind
//! `item` ([`crate::plan::item_plan`]), run as every other check-in is.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::blueprint::{self, Blueprint, BlueprintErrors, ItemDetails, LibraryItem};
use crate::config::AgentConfig;
use crate::paths::AgentPaths;
use crate::plan::{self, CheckinKind, SelfServiceError};
use crate::state::{ItemRecord, ItemStatus, Store, StoreError, Trigger};

/// How many of an item's results `--state` shows, newest first.
pub const RESULTS_SHOWN: usize = 5;

/// How many of the newest runs are searched for an item's results.
const RUNS_SEARCHED: u32 = 200;

/// Why the library could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// No blueprint has been received or configured yet.
    #[error("no blueprint at {}: the library is empty on this Mac until one arrives", path.display())]
    NoBlueprint {
        /// Where the blueprint was looked for.
        path: PathBuf,
    },
    /// The blueprint could not be read.
    #[error(transparent)]
    Blueprint(#[from] BlueprintErrors),
    /// No item has the id or name asked for.
    #[error(transparent)]
    NoSuchItem(#[from] SelfServiceError),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One library item as `--list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListedItem {
    /// The item's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its type (`custom_script`, `custom_app`, …).
    #[serde(rename = "type")]
    pub item_type: String,
    /// When it runs: its frequency (scripts, printers, managed OS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency: Option<String>,
    /// When it runs: its enforcement (apps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<String>,
    /// How its last run ended (`succeeded`, `failed`, `timed_out`); `None` when
    /// it never ran on this Mac.
    pub last_status: Option<ItemStatus>,
    /// When its last run ended.
    pub last_at: Option<DateTime<Utc>>,
    /// Its last run's one-line message.
    pub message: Option<String>,
}

impl ListedItem {
    /// When the item runs: its frequency, or an app's enforcement.
    pub fn schedule(&self) -> &str {
        self.enforcement.as_deref().or(self.frequency.as_deref()).unwrap_or("")
    }
}

/// One result of an item, in one run, as `--state` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PastResult {
    /// The run it was part of.
    pub run_id: String,
    /// That run's kind.
    pub kind: CheckinKind,
    /// What started that run.
    pub trigger: Trigger,
    /// How the item ended.
    pub status: ItemStatus,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// The exit code of its last program, if it ran one.
    pub exit_code: Option<i32>,
    /// Its one-line message.
    pub message: String,
}

/// One item's state, as `--state` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemState {
    /// The item as listed.
    #[serde(flatten)]
    pub item: ListedItem,
    /// Its newest results (skipped ones included), newest first.
    pub results: Vec<PastResult>,
    /// The output of its last run (not of a skip), head and tail kept.
    pub output: Option<String>,
}

/// Every item of the blueprint a check-in would use, in run order, with what
/// its last run left.
pub fn library_items(paths: &AgentPaths, config: &AgentConfig) -> Result<Vec<ListedItem>, LibraryError> {
    let blueprint = checkin_blueprint(paths, config)?;
    let store = Store::open_existing(&paths.store_file)?;
    plan::in_run_order(&blueprint)
        .into_iter()
        .map(|item| Ok(listed(item, last_ran(store.as_ref(), &item.id)?.as_ref())))
        .collect()
}

/// The item whose id (or else name) is `asked`, with its newest results and
/// its last run's output.
pub fn item_state(paths: &AgentPaths, config: &AgentConfig, asked: &str) -> Result<ItemState, LibraryError> {
    let blueprint = checkin_blueprint(paths, config)?;
    let item = plan::find_item(&blueprint, asked)?;
    let store = Store::open_existing(&paths.store_file)?;
    let last = last_ran(store.as_ref(), &item.id)?;
    let results = match &store {
        Some(store) => past_results(store, &item.id)?,
        None => Vec::new(),
    };
    let output = last.as_ref().map(|record| record.output.clone());
    Ok(ItemState { item: listed(item, last.as_ref()), results, output })
}

/// The id of the item whose id (or else name) is `asked`, in the blueprint a
/// check-in would use; `Ok(None)` when there is no blueprint yet (the check-in
/// then says so).
pub fn resolve_item(paths: &AgentPaths, config: &AgentConfig, asked: &str) -> Result<Option<String>, LibraryError> {
    match checkin_blueprint(paths, config) {
        Ok(blueprint) => Ok(Some(plan::find_item(&blueprint, asked)?.id.clone())),
        Err(LibraryError::NoBlueprint { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// The blueprint a check-in would use: the configured `blueprint_file`, else
/// the one last received.
fn checkin_blueprint(paths: &AgentPaths, config: &AgentConfig) -> Result<Blueprint, LibraryError> {
    let path = blueprint::checkin_blueprint_path(paths, config);
    if !path.exists() {
        return Err(LibraryError::NoBlueprint { path });
    }
    Ok(blueprint::load(&path)?.blueprint)
}

/// The item's newest result that ran, if the store has one.
fn last_ran(store: Option<&Store>, item_id: &str) -> Result<Option<ItemRecord>, StoreError> {
    store.map_or(Ok(None), |store| store.last_ran_result(item_id))
}

/// The newest [`RESULTS_SHOWN`] results of `item_id` among the newest runs.
fn past_results(store: &Store, item_id: &str) -> Result<Vec<PastResult>, StoreError> {
    let mut results = Vec::new();
    for summary in store.history(RUNS_SEARCHED)? {
        if results.len() == RESULTS_SHOWN {
            break;
        }
        let Some(run) = store.run(&summary.header.id)? else { continue };
        if let Some(record) = run.items.iter().find(|record| record.id == item_id) {
            results.push(PastResult {
                run_id: run.header.id.clone(),
                kind: run.header.kind,
                trigger: run.header.trigger,
                status: record.status,
                started_at: record.started_at,
                finished_at: record.finished_at,
                exit_code: record.exit_code,
                message: record.message.clone(),
            });
        }
    }
    Ok(results)
}

/// `item` as listed, with what its last run `last` left.
fn listed(item: &LibraryItem, last: Option<&ItemRecord>) -> ListedItem {
    let enforcement = match &item.details {
        ItemDetails::CustomApp(app) => Some(app.enforcement.as_str().to_string()),
        ItemDetails::AutoApp(app) => Some(app.enforcement.as_str().to_string()),
        _ => None,
    };
    ListedItem {
        id: item.id.clone(),
        name: item.name.clone(),
        item_type: item.item_type().as_str().to_string(),
        frequency: enforcement.is_none().then(|| item.frequency.as_str().to_string()),
        enforcement,
        last_status: last.map(|record| record.status),
        last_at: last.map(|record| record.finished_at),
        message: last.map(|record| record.message.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Drift, RunOutcome, RunRecord};

    #[test]
    fn items_come_in_run_order_with_their_last_run_and_one_items_results_newest_first() {
        let root = tempfile::tempdir().unwrap();
        let paths = AgentPaths::under(root.path());
        std::fs::create_dir_all(paths.saved_blueprint.parent().unwrap()).unwrap();
        let blueprint = serde_json::json!({"id": "bp", "name": "B", "library_items": [
            {"id": "b", "name": "Beta", "type": "custom_script", "frequency": "once", "audit": "#!/bin/sh\n"},
            {"id": "a", "name": "Alpha", "type": "custom_script", "audit": "#!/bin/sh\n"},
        ]});
        std::fs::write(&paths.saved_blueprint, blueprint.to_string()).unwrap();
        let store = Store::open(&paths.store_file).unwrap();
        let at = |seconds: i64| DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap();
        for (run, seconds, status) in [("r1", 0, ItemStatus::Failed), ("r2", 10, ItemStatus::Succeeded)] {
            store.begin_run(&RunRecord::begun(run, CheckinKind::Item, Trigger::Cli, at(seconds)), 1).unwrap();
            let mut record = ItemRecord::ended("b", status, at(seconds + 1));
            record.output = format!("output of {run}");
            store.items_finished(run, &[(0, &record)]).unwrap();
            store.finish_run(run, at(seconds + 2), RunOutcome::Succeeded, &Drift::default()).unwrap();
        }

        let listed = library_items(&paths, &AgentConfig::default()).unwrap();
        let shown: Vec<_> = listed.iter().map(|item| (item.id.as_str(), item.schedule(), item.last_status)).collect();
        assert_eq!(shown, [("a", "every_15_min", None), ("b", "once", Some(ItemStatus::Succeeded))]);

        let state = item_state(&paths, &AgentConfig::default(), "Beta").unwrap();
        let runs: Vec<_> = state.results.iter().map(|result| (result.run_id.as_str(), result.status)).collect();
        assert_eq!(runs, [("r2", ItemStatus::Succeeded), ("r1", ItemStatus::Failed)]);
        assert_eq!(state.results[0].kind, CheckinKind::Item);
        assert_eq!(state.output.as_deref(), Some("output of r2"));
        let missing = item_state(&paths, &AgentConfig::default(), "Gamma").unwrap_err();
        assert!(matches!(missing, LibraryError::NoSuchItem(_)), "{missing}");
    }

    #[test]
    fn without_a_blueprint_the_library_is_empty_and_an_item_is_left_to_the_check_in() {
        let root = tempfile::tempdir().unwrap();
        let paths = AgentPaths::under(root.path());
        let error = library_items(&paths, &AgentConfig::default()).unwrap_err();
        assert!(matches!(error, LibraryError::NoBlueprint { .. }), "{error}");
        assert_eq!(resolve_item(&paths, &AgentConfig::default(), "x").unwrap(), None);
    }
}
