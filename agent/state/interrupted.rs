//! Closing the runs the agent did not finish (a `kill -9`, a crash, a daemon
//! told twice to stop), so each still lists every item of its plan.
//!
//! When a run starts, its plan is saved beside it (one row, the items' ids,
//! names, types and skip reasons) with whether its report goes to the tenant; the
//! row goes at the run's end. Closing a run left without an end marks the item
//! that was running `failed`, ends it when the run is known to have stopped, and
//! records each item it never reached (the rest of the plan) as `not_run`, or as
//! `skipped` with its reason when the plan skipped it.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::records::{Drift, PARAMETER_TYPE};
use super::store::{Store, StoreError, parse_time, time_text};
use crate::plan::{Decision, Plan};

/// The status text of an item that started and has not finished.
pub(super) const RUNNING: &str = "running";

/// The message given to an item the agent stopped in the middle of.
const INTERRUPTED_ITEM: &str = "the check-in was interrupted while this item ran";

/// The message given to an item the stopped run never reached.
const UNREACHED_ITEM: &str = "the check-in was interrupted before this item";

/// One item of a saved plan.
#[derive(Debug, Serialize, Deserialize)]
struct PlannedEntry {
    id: String,
    name: String,
    #[serde(rename = "type")]
    item_type: String,
    /// Why the plan skipped it; absent when it was to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    skipped: Option<String>,
}

/// A run closed as interrupted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedRun {
    /// The run's id.
    pub run_id: String,
    /// Its report goes to the tenant (it was saved so at its start).
    pub reports_to_tenant: bool,
}

impl Store {
    /// Saves the plan of run `run_id` (begun already), and whether its report
    /// goes to the tenant, for [`Store::mark_dangling_runs_interrupted`].
    pub fn save_run_plan(&self, run_id: &str, plan: &Plan, reports_to_tenant: bool) -> Result<(), StoreError> {
        let entries: Vec<PlannedEntry> = plan
            .items
            .iter()
            .map(|planned| PlannedEntry {
                id: planned.item.id.clone(),
                name: planned.item.name.clone(),
                item_type: planned.item.item_type().as_str().to_string(),
                skipped: match &planned.decision {
                    Decision::Skip { reason } => Some(reason.clone()),
                    Decision::Run { .. } => None,
                },
            })
            .collect();
        let entries = serde_json::to_string(&entries).unwrap_or_else(|_| "[]".into());
        self.connection
            .execute(
                "INSERT OR REPLACE INTO run_plans (run_id, items, reports_to_tenant) VALUES (?1, ?2, ?3)",
                params![run_id, entries, reports_to_tenant],
            )
            .map(drop)
            .map_err(self.failed("cannot save a run's plan"))
    }

    /// Forgets the plan of a run that reached its end.
    pub(super) fn forget_run_plan(&self, run_id: &str) -> Result<(), StoreError> {
        self.connection
            .execute("DELETE FROM run_plans WHERE run_id = ?1", [run_id])
            .map(drop)
            .map_err(self.failed("cannot forget a run's plan"))
    }

    /// Marks every run left without an end as interrupted, with every item of its
    /// plan; call only while holding the check-in lock, when no run can be live.
    /// `stopped_at` is when the caller knows the run stopped (it dropped it
    /// itself); without it the run ends at the last moment it is known to have
    /// been alive. One transaction (or the caller's): closed once, never twice.
    pub fn mark_dangling_runs_interrupted(
        &self,
        stopped_at: Option<DateTime<Utc>>,
    ) -> Result<Vec<ClosedRun>, StoreError> {
        self.in_transaction(|| {
            let mut closed = Vec::new();
            for run_id in self.unfinished_run_ids()? {
                let ended_at = match stopped_at {
                    Some(at) => at,
                    None => {
                        parse_time(&self.last_activity(&run_id)?).map_err(self.failed("cannot read a run's end"))?
                    }
                };
                self.close_running_item(&run_id, ended_at)?;
                let reports_to_tenant = self.record_unreached_items(&run_id, ended_at)?;
                self.count_waiting_into_drift(&run_id)?;
                self.connection
                    .execute(
                        "UPDATE runs SET finished_at = ?2, outcome = 'interrupted' WHERE id = ?1",
                        params![run_id, time_text(ended_at)],
                    )
                    .map_err(self.failed("cannot close an interrupted run"))?;
                self.forget_run_plan(&run_id)?;
                closed.push(ClosedRun { run_id, reports_to_tenant });
            }
            Ok(closed)
        })
    }

    /// Counts the run's items that ended `deferred` or `waiting_for_user` into its
    /// drift, as a run that ends itself does (`checkin::run_end`), so an
    /// interrupted run still shows what waits on the person.
    fn count_waiting_into_drift(&self, run_id: &str) -> Result<(), StoreError> {
        let failed = self.failed("cannot count an interrupted run's items that wait");
        let (drift, deferred, waiting): (String, u32, u32) = self
            .connection
            .query_row(
                "SELECT r.drift, COALESCE(SUM(i.status = 'deferred'), 0), COALESCE(SUM(i.status = 'waiting_for_user'), 0)
                 FROM runs r LEFT JOIN item_results i ON i.run_id = r.id WHERE r.id = ?1 GROUP BY r.id",
                [run_id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .map_err(&failed)?;
        let mut drift: Drift = serde_json::from_str(&drift).unwrap_or_default();
        (drift.deferred, drift.waiting_for_user) = (deferred, waiting);
        let drift = serde_json::to_string(&drift).unwrap_or_else(|_| "{}".into());
        self.connection
            .execute("UPDATE runs SET drift = ?2 WHERE id = ?1", params![run_id, drift])
            .map(drop)
            .map_err(failed)
    }

    /// The item that was running ends at `ended_at` (never before it started).
    fn close_running_item(&self, run_id: &str, ended_at: DateTime<Utc>) -> Result<(), StoreError> {
        let started: Option<(usize, String)> = self
            .connection
            .query_row(
                "SELECT position, started_at FROM item_results WHERE run_id = ?1 AND status = ?2",
                params![run_id, RUNNING],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(self.failed("cannot read an interrupted item"))?;
        let Some((position, started_at)) = started else { return Ok(()) };
        let started_at = parse_time(&started_at).map_err(self.failed("cannot read an interrupted item"))?;
        let finished_at = ended_at.max(started_at);
        let duration_ms = (finished_at - started_at).num_milliseconds().max(0);
        self.connection
            .execute(
                "UPDATE item_results SET status = 'failed', message = ?3, finished_at = ?4, duration_ms = ?5
                 WHERE run_id = ?1 AND position = ?2",
                params![run_id, position, INTERRUPTED_ITEM, time_text(finished_at), duration_ms],
            )
            .map(drop)
            .map_err(self.failed("cannot close an interrupted item"))
    }

    /// Records the items of the run's saved plan it has no result for, at
    /// `ended_at`; says whether the run reports to the tenant (`false` without a plan).
    fn record_unreached_items(&self, run_id: &str, ended_at: DateTime<Utc>) -> Result<bool, StoreError> {
        let failed = self.failed("cannot read a run's plan");
        let saved: Option<(String, bool)> = self
            .connection
            .query_row("SELECT items, reports_to_tenant FROM run_plans WHERE run_id = ?1", [run_id], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
            .map_err(&failed)?;
        let Some((items, reports_to_tenant)) = saved else { return Ok(false) };
        let entries: Vec<PlannedEntry> = serde_json::from_str(&items).unwrap_or_default();
        // The items' results are written in plan order, so those stored are its start.
        let (recorded, next_position): (usize, i64) = self
            .connection
            .query_row(
                "SELECT SUM(type != ?2), COALESCE(MAX(position) + 1, 0) FROM item_results WHERE run_id = ?1",
                params![run_id, PARAMETER_TYPE],
                |row| Ok((row.get::<_, Option<usize>>(0)?.unwrap_or(0), row.get(1)?)),
            )
            .map_err(&failed)?;
        let at = time_text(ended_at);
        for (offset, entry) in entries.iter().skip(recorded).enumerate() {
            let (status, message) = match &entry.skipped {
                Some(reason) => ("skipped", reason.as_str()),
                None => ("not_run", UNREACHED_ITEM),
            };
            self.execute_cached(
                "INSERT OR REPLACE INTO item_results
                     (run_id, position, item_id, name, type, status, started_at, finished_at, duration_ms, message)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 0, ?8)",
                params![
                    run_id,
                    next_position + offset as i64,
                    entry.id,
                    entry.name,
                    entry.item_type,
                    status,
                    at,
                    message
                ],
            )
            .map_err(self.failed("cannot record an item the run never reached"))?;
        }
        Ok(reports_to_tenant)
    }

    fn unfinished_run_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut statement = self
            .connection
            .prepare("SELECT id FROM runs WHERE outcome IS NULL ORDER BY started_at")
            .map_err(self.failed("cannot list unfinished runs"))?;
        let ids = statement
            .query_map([], |row| row.get(0))
            .and_then(Iterator::collect)
            .map_err(self.failed("cannot list unfinished runs"))?;
        Ok(ids)
    }

    /// The last moment a run is known to have been alive.
    fn last_activity(&self, run_id: &str) -> Result<String, StoreError> {
        self.connection
            .query_row(
                "SELECT MAX(COALESCE((SELECT MAX(COALESCE(finished_at, started_at)) FROM item_results WHERE run_id = ?1), ''), started_at)
                 FROM runs WHERE id = ?1",
                [run_id],
                |row| row.get(0),
            )
            .map_err(self.failed("cannot read a run's last activity"))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::blueprint::{CustomScript, Frequency, ItemDetails, LibraryItem};
    use crate::plan::{CheckinKind, PlannedItem};
    use crate::state::{ItemRecord, ItemStatus, RunOutcome, RunRecord, Trigger};

    fn plan(items: &[(&str, Option<&str>)]) -> Plan {
        let planned = |(id, skipped): &(&str, Option<&str>)| PlannedItem {
            item: LibraryItem {
                id: id.to_string(),
                name: format!("{id} name"),
                frequency: Frequency::Every15Minutes,
                details: ItemDetails::CustomScript(CustomScript { audit: "#!/bin/sh\n".into(), remediation: None }),
                self_service: None,
            },
            decision: match skipped {
                Some(reason) => Decision::Skip { reason: reason.to_string() },
                None => Decision::Run { timeout: None },
            },
        };
        Plan { kind: CheckinKind::Daily, items: items.iter().map(planned).collect() }
    }

    fn begun(store: &Store, id: &str, at: DateTime<Utc>, items: &[(&str, Option<&str>)]) {
        store.begin_run(&RunRecord::begun(id, CheckinKind::Daily, Trigger::Cli, at), 1).unwrap();
        store.save_run_plan(id, &plan(items), true).unwrap();
    }

    #[test]
    fn a_dangling_run_is_closed_once_with_every_item_of_its_plan() {
        let (_folder, store) = Store::scratch();
        let start = Utc::now() - Duration::seconds(60);
        begun(&store, "r1", start, &[("done", None), ("cut", None), ("later", None), ("off", Some("not today"))]);
        store.items_finished("r1", &[(0, &ItemRecord::ended("done", ItemStatus::Succeeded, start))]).unwrap();
        let cut_at = start + Duration::seconds(1);
        store.item_started("r1", 1, &ItemRecord::ended("cut", ItemStatus::NotRun, cut_at)).unwrap();
        assert_eq!(store.latest_run().unwrap().unwrap().items.len(), 1, "a running item is not a result yet");
        assert_eq!(store.last_daily_completed().unwrap(), None);

        let stopped_at = start + Duration::seconds(30);
        let closed = store.mark_dangling_runs_interrupted(Some(stopped_at)).unwrap();
        assert_eq!(closed, [ClosedRun { run_id: "r1".into(), reports_to_tenant: true }]);
        let run = store.run("r1").unwrap().unwrap();
        assert_eq!(run.header.outcome, Some(RunOutcome::Interrupted));
        assert_eq!(run.header.finished_at.map(time_text), Some(time_text(stopped_at)));
        let statuses: Vec<_> = run.items.iter().map(|item| (item.id.as_str(), item.status)).collect();
        assert_eq!(
            statuses,
            [
                ("done", ItemStatus::Succeeded),
                ("cut", ItemStatus::Failed),
                ("later", ItemStatus::NotRun),
                ("off", ItemStatus::Skipped)
            ]
        );
        let cut = &run.items[1];
        assert_eq!((cut.message.as_str(), cut.duration_ms), (INTERRUPTED_ITEM, 29_000), "it ran until the stop");
        assert_eq!(time_text(cut.finished_at), time_text(stopped_at));
        assert_eq!((run.items[2].message.as_str(), run.items[2].name.as_str()), (UNREACHED_ITEM, "later name"));
        assert_eq!(run.items[3].message, "not today");
        assert_eq!(store.last_daily_completed().unwrap(), None, "an interrupted daily does not count");
        assert!(store.mark_dangling_runs_interrupted(None).unwrap().is_empty(), "closed once");
    }

    #[test]
    fn an_interrupted_run_counts_its_items_that_wait_on_the_person_into_its_drift() {
        let (_folder, store) = Store::scratch();
        let start = Utc::now() - Duration::seconds(60);
        begun(&store, "r1", start, &[("os", None), ("app", None), ("other", None), ("later", None)]);
        let results = [
            (0, &ItemRecord::ended("os", ItemStatus::WaitingForUser, start)),
            (1, &ItemRecord::ended("app", ItemStatus::Deferred, start)),
            (2, &ItemRecord::ended("other", ItemStatus::Deferred, start)),
        ];
        store.items_finished("r1", &results).unwrap();
        store.mark_dangling_runs_interrupted(None).unwrap();
        let drift = store.run("r1").unwrap().unwrap().drift;
        assert_eq!((drift.deferred, drift.waiting_for_user), (2, 1), "{drift:?}");
    }

    #[test]
    fn without_a_known_stop_a_run_ends_at_its_last_activity() {
        let (_folder, store) = Store::scratch();
        let start = Utc::now() - Duration::seconds(60);
        begun(&store, "r1", start, &[("a", None), ("b", None)]);
        store
            .items_finished("r1", &[(0, &ItemRecord::ended("a", ItemStatus::Succeeded, start + Duration::seconds(2)))])
            .unwrap();
        store.mark_dangling_runs_interrupted(None).unwrap();
        let run = store.run("r1").unwrap().unwrap();
        assert_eq!(run.header.finished_at.map(time_text), Some(time_text(start + Duration::seconds(2))));
        assert_eq!(run.items[1].status, ItemStatus::NotRun);
    }

    #[test]
    fn a_finished_run_forgets_its_plan_and_a_run_without_one_is_not_reported() {
        let (_folder, store) = Store::scratch();
        let now = Utc::now();
        begun(&store, "r1", now, &[("a", None)]);
        store.finish_run("r1", now, RunOutcome::Succeeded, &Default::default()).unwrap();
        let plans: i64 = store.connection.query_row("SELECT COUNT(*) FROM run_plans", [], |row| row.get(0)).unwrap();
        assert_eq!(plans, 0);
        store.begin_run(&RunRecord::begun("r2", CheckinKind::Daily, Trigger::Cli, now), 1).unwrap();
        let closed = store.mark_dangling_runs_interrupted(None).unwrap();
        assert_eq!(closed, [ClosedRun { run_id: "r2".into(), reports_to_tenant: false }]);
    }
}
