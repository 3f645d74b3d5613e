//! Writing runs and item results as they happen, and reading them back.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::interrupted::RUNNING;
use super::records::{
    Drift, ItemRecord, ItemStatus, PARAMETER_TYPE, RunHeader, RunOutcome, RunRecord, RunSummary, StatusCounts, Trigger,
};
use super::retention::stored_output;
use super::store::{Store, StoreError, parse_time, time_text};
use crate::plan::CheckinKind;

/// How many runs the store keeps; older ones are pruned after each run.
const RUNS_KEPT: u32 = 1000;

/// Writes one item result, replacing the row its start left.
const INSERT_RESULT: &str = "INSERT OR REPLACE INTO item_results
    (run_id, position, item_id, name, type, status, started_at, finished_at, duration_ms, exit_code, message, output)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

impl Store {
    /// Records the start of a run, and who asked for it when someone did (call
    /// in a transaction: the two rows go together).
    pub fn begin_run(&self, run: &RunRecord, pid: u32) -> Result<(), StoreError> {
        self.connection
            .execute(
                "INSERT INTO runs (id, kind, trigger, started_at, blueprint_id, pid) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    run.header.id,
                    run.header.kind.as_str(),
                    run.header.trigger.as_str(),
                    time_text(run.header.started_at),
                    run.blueprint_id,
                    pid
                ],
            )
            .map_err(self.failed("cannot record the start of a run"))?;
        let Some(requested_by) = &run.header.requested_by else { return Ok(()) };
        self.connection
            .execute(
                "INSERT OR REPLACE INTO run_requesters (run_id, requested_by) VALUES (?1, ?2)",
                params![run.header.id, requested_by],
            )
            .map(drop)
            .map_err(self.failed("cannot record who asked for a run"))
    }

    /// Records that the item at `position` started (so a crash shows it).
    pub fn item_started(&self, run_id: &str, position: usize, item: &ItemRecord) -> Result<(), StoreError> {
        self.execute_cached(
            "INSERT OR REPLACE INTO item_results (run_id, position, item_id, name, type, status, started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![run_id, position, item.id, item.name, item.item_type, RUNNING, time_text(item.started_at)],
        )
        .map(drop)
        .map_err(self.failed("cannot record the start of an item"))
    }

    /// Records how each item ended, at its position, in one transaction (or in the
    /// caller's, see [`Store::in_transaction`]): one commit for a whole batch. An
    /// output past [`super::MAX_STORED_OUTPUT`] keeps its head and tail.
    pub fn items_finished(&self, run_id: &str, items: &[(usize, &ItemRecord)]) -> Result<(), StoreError> {
        self.in_transaction(|| {
            for (position, item) in items {
                self.execute_cached(
                    INSERT_RESULT,
                    params![
                        run_id,
                        position,
                        item.id,
                        item.name,
                        item.item_type,
                        item.status.as_str(),
                        time_text(item.started_at),
                        time_text(item.finished_at),
                        item.duration_ms,
                        item.exit_code,
                        item.message,
                        stored_output(&item.output)
                    ],
                )
                .map_err(self.failed("cannot record item results"))?;
            }
            Ok(())
        })
    }

    /// Records the end of a run and prunes the oldest runs beyond what is kept.
    pub fn finish_run(
        &self,
        run_id: &str,
        finished_at: DateTime<Utc>,
        outcome: RunOutcome,
        drift: &Drift,
    ) -> Result<(), StoreError> {
        let drift = serde_json::to_string(drift).unwrap_or_else(|_| "{}".into());
        self.connection
            .execute(
                "UPDATE runs SET finished_at = ?2, outcome = ?3, drift = ?4 WHERE id = ?1",
                params![run_id, time_text(finished_at), outcome.as_str(), drift],
            )
            .map_err(self.failed("cannot record the end of a run"))?;
        self.forget_run_plan(run_id)?;
        self.connection
            .execute(
                "DELETE FROM runs WHERE id NOT IN (SELECT id FROM runs ORDER BY started_at DESC LIMIT ?1)",
                [RUNS_KEPT],
            )
            .map(drop)
            .map_err(self.failed("cannot prune old runs"))
    }

    /// Says what is wrong with the record of run `run_id` (see [`RunRecord::message`]).
    pub fn set_run_message(&self, run_id: &str, message: &str) -> Result<(), StoreError> {
        self.connection
            .execute("INSERT OR REPLACE INTO run_messages (run_id, message) VALUES (?1, ?2)", params![run_id, message])
            .map(drop)
            .map_err(self.failed("cannot record what is wrong with a run's record"))
    }

    /// The ids of `once` items that already succeeded on this device.
    pub fn succeeded_once(&self) -> Result<HashSet<String>, StoreError> {
        let mut statement =
            self.connection.prepare("SELECT item_id FROM once_items").map_err(self.failed("cannot read once items"))?;
        let ids = statement
            .query_map([], |row| row.get(0))
            .and_then(Iterator::collect)
            .map_err(self.failed("cannot read once items"))?;
        Ok(ids)
    }

    /// Remembers that the `once` item `item_id` succeeded.
    pub fn mark_succeeded_once(&self, item_id: &str, at: DateTime<Utc>, run_id: &str) -> Result<(), StoreError> {
        self.connection
            .execute(
                "INSERT OR IGNORE INTO once_items (item_id, succeeded_at, run_id) VALUES (?1, ?2, ?3)",
                params![item_id, time_text(at), run_id],
            )
            .map(drop)
            .map_err(self.failed("cannot remember a once item"))
    }

    /// What the device remembers about library item `item_id` under `name` (an
    /// installed version, when an app was first installed, ...).
    pub fn item_marker(&self, item_id: &str, name: &str) -> Result<Option<String>, StoreError> {
        self.connection
            .query_row(
                "SELECT value FROM item_markers WHERE item_id = ?1 AND name = ?2",
                params![item_id, name],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.failed("cannot read an item marker"))
    }

    /// Remembers `value` for library item `item_id` under `name`.
    pub fn set_item_marker(&self, item_id: &str, name: &str, value: &str) -> Result<(), StoreError> {
        self.connection
            .execute(
                "INSERT OR REPLACE INTO item_markers (item_id, name, value, updated_at) VALUES (?1, ?2, ?3, ?4)",
                params![item_id, name, value, time_text(Utc::now())],
            )
            .map(drop)
            .map_err(self.failed("cannot save an item marker"))
    }

    /// When the last daily check-in that reached its end started.
    pub fn last_daily_completed(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.latest_start("kind = 'daily' AND outcome IS NOT NULL AND outcome != 'interrupted'")
    }

    /// When the last recurring check-in started.
    pub fn last_recurring_started(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.latest_start("kind = 'recurring'")
    }

    /// When the last check-in of either kind started.
    pub fn last_run_started(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.latest_start("1 = 1")
    }

    fn latest_start(&self, condition: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let query = format!("SELECT MAX(started_at) FROM runs WHERE {condition}");
        let text: Option<String> =
            self.connection.query_row(&query, [], |row| row.get(0)).map_err(self.failed("cannot read run times"))?;
        text.map(|text| parse_time(&text)).transpose().map_err(self.failed("cannot read run times"))
    }

    /// The newest run, finished or not.
    pub fn latest_run(&self) -> Result<Option<RunRecord>, StoreError> {
        let id: Option<String> = self
            .connection
            .query_row("SELECT id FROM runs ORDER BY started_at DESC, id DESC LIMIT 1", [], |row| row.get(0))
            .optional()
            .map_err(self.failed("cannot find the latest run"))?;
        match id {
            Some(id) => self.run(&id),
            None => Ok(None),
        }
    }

    /// The newest run that has ended.
    pub fn latest_finished_run(&self) -> Result<Option<RunRecord>, StoreError> {
        self.latest_finished("1 = 1")
    }

    /// The newest check-in (recurring or daily, not a Self Service install) that
    /// has ended.
    pub fn latest_finished_checkin(&self) -> Result<Option<RunRecord>, StoreError> {
        self.latest_finished("kind IN ('recurring', 'daily')")
    }

    fn latest_finished(&self, condition: &str) -> Result<Option<RunRecord>, StoreError> {
        let query = format!(
            "SELECT id FROM runs WHERE outcome IS NOT NULL AND {condition} ORDER BY started_at DESC, id DESC LIMIT 1"
        );
        let id: Option<String> = self
            .connection
            .query_row(&query, [], |row| row.get(0))
            .optional()
            .map_err(self.failed("cannot find the latest run"))?;
        match id {
            Some(id) => self.run(&id),
            None => Ok(None),
        }
    }

    /// The run `run_id` with its items in execution order.
    pub fn run(&self, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
        let run = self
            .connection
            .query_row(
                "SELECT r.id, r.kind, r.trigger, r.started_at, r.finished_at, r.outcome, r.blueprint_id, r.drift,
                        m.message, q.requested_by
                 FROM runs r LEFT JOIN run_messages m ON m.run_id = r.id
                      LEFT JOIN run_requesters q ON q.run_id = r.id WHERE r.id = ?1",
                [run_id],
                run_from_row,
            )
            .optional()
            .map_err(self.failed("cannot read a run"))?;
        let Some(mut run) = run else { return Ok(None) };
        let (parameters, items) = self.items_of(run_id)?.into_iter().partition(|item| item.item_type == PARAMETER_TYPE);
        run.parameters = parameters;
        run.items = items;
        Ok(Some(run))
    }

    fn items_of(&self, run_id: &str) -> Result<Vec<ItemRecord>, StoreError> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT item_id, name, type, status, started_at, finished_at, duration_ms, exit_code, message, output
                 FROM item_results WHERE run_id = ?1 AND status != ?2 ORDER BY position",
            )
            .map_err(self.failed("cannot read item results"))?;
        let items = statement
            .query_map(params![run_id, RUNNING], item_from_row)
            .and_then(Iterator::collect)
            .map_err(self.failed("cannot read item results"))?;
        Ok(items)
    }

    /// The newest result of library item `item_id` that ran (not skipped, not
    /// reached or still running), for Self Service's list.
    pub fn last_ran_result(&self, item_id: &str) -> Result<Option<ItemRecord>, StoreError> {
        self.connection
            .query_row(
                "SELECT item_id, name, type, status, started_at, finished_at, duration_ms, exit_code, message, output
                 FROM item_results WHERE item_id = ?1 AND status IN ('succeeded', 'failed', 'timed_out')
                 ORDER BY finished_at DESC LIMIT 1",
                [item_id],
                item_from_row,
            )
            .optional()
            .map_err(self.failed("cannot read an item's last result"))
    }

    /// The newest `limit` runs, newest first, with their item counts.
    pub fn history(&self, limit: u32) -> Result<Vec<RunSummary>, StoreError> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT r.id, r.kind, r.trigger, r.started_at, r.finished_at, r.outcome, r.blueprint_id, r.drift, m.message,
                        q.requested_by, SUM(i.status = 'succeeded'), SUM(i.status = 'failed'), SUM(i.status = 'timed_out'),
                        SUM(i.status = 'skipped'), SUM(i.status = 'not_run'), SUM(i.status = 'deferred'),
                        SUM(i.status = 'waiting_for_user')
                 FROM runs r LEFT JOIN item_results i ON i.run_id = r.id LEFT JOIN run_messages m ON m.run_id = r.id
                      LEFT JOIN run_requesters q ON q.run_id = r.id
                 GROUP BY r.id ORDER BY r.started_at DESC, r.id DESC LIMIT ?1",
            )
            .map_err(self.failed("cannot read the history"))?;
        let runs = statement
            .query_map([limit], summary_from_row)
            .and_then(Iterator::collect)
            .map_err(self.failed("cannot read the history"))?;
        Ok(runs)
    }
}

fn text_value<T>(column: usize, text: &str, parse: impl Fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    parse(text).ok_or_else(|| {
        let message = format!("unexpected value {text:?}");
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, message.into())
    })
}

fn optional_time(text: Option<String>) -> rusqlite::Result<Option<DateTime<Utc>>> {
    text.map(|text| parse_time(&text)).transpose()
}

fn run_from_row(row: &Row<'_>) -> rusqlite::Result<RunRecord> {
    let drift: String = row.get(7)?;
    let outcome: Option<String> = row.get(5)?;
    let header = RunHeader {
        id: row.get(0)?,
        kind: text_value(1, &row.get::<_, String>(1)?, CheckinKind::parse)?,
        trigger: text_value(2, &row.get::<_, String>(2)?, Trigger::parse)?,
        started_at: parse_time(&row.get::<_, String>(3)?)?,
        finished_at: optional_time(row.get(4)?)?,
        outcome: outcome.map(|text| text_value(5, &text, RunOutcome::parse)).transpose()?,
        requested_by: row.get(9)?,
    };
    Ok(RunRecord {
        header,
        blueprint_id: row.get(6)?,
        drift: serde_json::from_str(&drift).unwrap_or_default(),
        message: row.get(8)?,
        parameters: Vec::new(),
        items: Vec::new(),
    })
}

fn item_from_row(row: &Row<'_>) -> rusqlite::Result<ItemRecord> {
    let started_at = parse_time(&row.get::<_, String>(4)?)?;
    Ok(ItemRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        item_type: row.get(2)?,
        status: text_value(3, &row.get::<_, String>(3)?, ItemStatus::parse)?,
        started_at,
        finished_at: optional_time(row.get(5)?)?.unwrap_or(started_at),
        duration_ms: row.get(6)?,
        exit_code: row.get(7)?,
        message: row.get(8)?,
        output: row.get(9)?,
    })
}

fn summary_from_row(row: &Row<'_>) -> rusqlite::Result<RunSummary> {
    let run = run_from_row(row)?;
    let count = |column: usize| row.get::<_, Option<u32>>(column).map(Option::unwrap_or_default);
    Ok(RunSummary {
        header: run.header,
        message: run.message,
        counts: StatusCounts {
            succeeded: count(10)?,
            failed: count(11)?,
            timed_out: count(12)?,
            skipped: count(13)?,
            not_run: count(14)?,
            deferred: count(15)?,
            waiting_for_user: count(16)?,
        },
    })
}

#[cfg(test)]
mod tests;
