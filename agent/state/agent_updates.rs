//! The agent's own updates as recorded: one row per attempt (`agent_updates`), the
//! newest shown by `agent status` and each carried once to the tenant in a
//! results report.
//!
//! A row is written before the installer starts (outcome `installing`) and
//! finished when it ends, so an install the daemon did not live through (the
//! package's postinstall restarts it) is still known to the agent that comes
//! back, which settles it.

use std::fmt;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::store::{Store, StoreError, parse_time, time_text};

/// How many attempts are kept; older ones are deleted.
const KEPT_ATTEMPTS: i64 = 100;

/// How one self-update attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentUpdateOutcome {
    /// The installer is running (or ran in an agent that stopped before it ended).
    Installing,
    /// The installer exited 0 (or the agent now runs the version it installed).
    Installed,
    /// The installer failed, timed out, or the agent stopped while it ran.
    Failed,
    /// The package's sha256 is not the offered one; it was deleted, nothing ran.
    ChecksumMismatch,
    /// The package could not be downloaded.
    DownloadFailed,
    /// The tenant requires a newer agent than it offers.
    CannotComply,
    /// The package is not signed and notarized by the team pinned in
    /// `self_update.team_id`, or no team is pinned; nothing was installed.
    SignatureMismatch,
}

impl AgentUpdateOutcome {
    const NAMES: [(&'static str, Self); 7] = [
        ("installing", Self::Installing),
        ("installed", Self::Installed),
        ("failed", Self::Failed),
        ("checksum_mismatch", Self::ChecksumMismatch),
        ("download_failed", Self::DownloadFailed),
        ("cannot_comply", Self::CannotComply),
        ("signature_mismatch", Self::SignatureMismatch),
    ];

    /// The name used in status, reports and the store.
    pub fn as_str(self) -> &'static str {
        Self::NAMES.iter().find(|(_, outcome)| *outcome == self).map_or("failed", |(name, _)| name)
    }

    /// The outcome named `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(name, _)| *name == text).map(|(_, outcome)| *outcome)
    }
}

impl fmt::Display for AgentUpdateOutcome {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One self-update attempt, as `agent status --json` shows it under `agent_update`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentUpdate {
    /// The row's id in the store.
    #[serde(skip)]
    pub id: i64,
    /// When the attempt was decided.
    pub at: DateTime<Utc>,
    /// The agent's version then.
    pub from: String,
    /// The version offered (none when the tenant offered nothing).
    pub to: Option<String>,
    /// The offered package's sha256, for telling one offer from another.
    #[serde(skip)]
    pub sha256: Option<String>,
    /// How it ended.
    pub outcome: AgentUpdateOutcome,
    /// One line for admins: what happened and why.
    pub message: String,
}

impl Store {
    /// Records an attempt and returns its id.
    pub(crate) fn add_agent_update(&self, update: &AgentUpdate) -> Result<i64, StoreError> {
        let failed = self.failed("cannot record the agent update");
        self.connection
            .execute(
                "INSERT INTO agent_updates (at, from_version, to_version, sha256, outcome, message)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    time_text(update.at),
                    update.from,
                    update.to,
                    update.sha256,
                    stored_outcome(update.outcome),
                    update.message
                ],
            )
            .map_err(&failed)?;
        let id = self.connection.last_insert_rowid();
        self.connection.execute("DELETE FROM agent_updates WHERE id <= ?1", [id - KEPT_ATTEMPTS]).map_err(&failed)?;
        Ok(id)
    }

    /// Ends the attempt `id` with `outcome` and `message`.
    pub(crate) fn finish_agent_update(
        &self,
        id: i64,
        outcome: AgentUpdateOutcome,
        message: &str,
    ) -> Result<(), StoreError> {
        self.connection
            .execute(
                "UPDATE agent_updates SET outcome = ?2, message = ?3 WHERE id = ?1",
                params![id, stored_outcome(outcome), message],
            )
            .map(drop)
            .map_err(self.failed("cannot record the agent update's outcome"))
    }

    /// The newest attempt, if any. A store an older agent wrote, which `agent
    /// status` opens without changing, has no such table yet: none.
    pub fn latest_agent_update(&self) -> Result<Option<AgentUpdate>, StoreError> {
        if !self.has_table("agent_updates")? {
            return Ok(None);
        }
        self.agent_update_where("1 = 1 ORDER BY id DESC", params![])
    }

    /// The newest attempt at the offer of `version` with `sha256`, if any.
    pub(crate) fn latest_agent_update_of(
        &self,
        version: &str,
        sha256: &str,
    ) -> Result<Option<AgentUpdate>, StoreError> {
        self.agent_update_where("to_version = ?1 AND sha256 = ?2 ORDER BY id DESC", params![version, sha256])
    }

    /// The newest ended attempt no results report has carried yet, if any.
    pub(crate) fn unreported_agent_update(&self) -> Result<Option<AgentUpdate>, StoreError> {
        self.agent_update_where("outcome IS NOT NULL AND reported_run_id IS NULL ORDER BY id DESC", params![])
    }

    /// Notes that the results of `run_id` carry every ended attempt up to `id`.
    pub(crate) fn mark_agent_updates_reported(&self, id: i64, run_id: &str) -> Result<(), StoreError> {
        self.connection
            .execute(
                "UPDATE agent_updates SET reported_run_id = ?2
                 WHERE id <= ?1 AND outcome IS NOT NULL AND reported_run_id IS NULL",
                params![id, run_id],
            )
            .map(drop)
            .map_err(self.failed("cannot mark the agent update reported"))
    }

    fn agent_update_where(
        &self,
        condition: &str,
        values: &[&dyn rusqlite::ToSql],
    ) -> Result<Option<AgentUpdate>, StoreError> {
        let query = format!(
            "SELECT id, at, from_version, to_version, sha256, outcome, message FROM agent_updates WHERE {condition} LIMIT 1"
        );
        self.connection
            .query_row(&query, values, read_update)
            .optional()
            .map_err(self.failed("cannot read the agent updates"))
    }
}

/// `installing` is stored as NULL: an attempt without an end.
fn stored_outcome(outcome: AgentUpdateOutcome) -> Option<&'static str> {
    (outcome != AgentUpdateOutcome::Installing).then(|| outcome.as_str())
}

fn read_update(row: &Row<'_>) -> rusqlite::Result<AgentUpdate> {
    let outcome: Option<String> = row.get(5)?;
    let outcome = match outcome {
        None => AgentUpdateOutcome::Installing,
        Some(text) => AgentUpdateOutcome::parse(&text).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                5,
                rusqlite::types::Type::Text,
                format!("outcome {text:?}").into(),
            )
        })?,
    };
    Ok(AgentUpdate {
        id: row.get(0)?,
        at: parse_time(&row.get::<_, String>(1)?)?,
        from: row.get(2)?,
        to: row.get(3)?,
        sha256: row.get(4)?,
        outcome,
        message: row.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn attempt(to: &str, outcome: AgentUpdateOutcome) -> AgentUpdate {
        AgentUpdate {
            id: 0,
            at: Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap(),
            from: "1.0.0".into(),
            to: Some(to.into()),
            sha256: Some(format!("sha-{to}")),
            outcome,
            message: String::new(),
        }
    }

    #[test]
    fn an_attempt_is_recorded_installing_then_finished_and_reported_once() {
        let (_folder, store) = Store::scratch();
        assert_eq!(store.latest_agent_update().unwrap(), None);
        let first = store.add_agent_update(&attempt("2.0.0", AgentUpdateOutcome::ChecksumMismatch)).unwrap();
        let second = store.add_agent_update(&attempt("2.0.1", AgentUpdateOutcome::Installing)).unwrap();
        let latest = store.latest_agent_update().unwrap().unwrap();
        assert_eq!((latest.id, latest.outcome), (second, AgentUpdateOutcome::Installing));
        assert_eq!(store.unreported_agent_update().unwrap().unwrap().id, first, "an attempt without an end waits");
        store.finish_agent_update(second, AgentUpdateOutcome::Installed, "installed").unwrap();
        let of = store.latest_agent_update_of("2.0.0", "sha-2.0.0").unwrap().unwrap();
        assert_eq!((of.id, of.outcome), (first, AgentUpdateOutcome::ChecksumMismatch));
        assert_eq!(store.latest_agent_update_of("2.0.0", "other").unwrap(), None);
        let unreported = store.unreported_agent_update().unwrap().unwrap();
        assert_eq!((unreported.id, unreported.message.as_str()), (second, "installed"));
        store.mark_agent_updates_reported(second, "run-1").unwrap();
        assert_eq!(store.unreported_agent_update().unwrap(), None, "older ones are carried along");
    }

    #[test]
    fn a_store_of_the_base_schema_gains_the_table_and_keeps_its_rows() {
        let (_folder, path) = Store::scratch_file();
        let device_id = Store::open(&path).unwrap().device_id().unwrap();
        let connection = rusqlite::Connection::open(&path).unwrap();
        // The base schema: without the tables and columns of later steps.
        connection
            .execute_batch("DROP TABLE agent_updates; DROP TABLE tenant_requests; PRAGMA user_version = 3;")
            .unwrap();
        drop(connection);
        let old = Store::open_existing(&path).unwrap().unwrap();
        assert_eq!(old.latest_agent_update().unwrap(), None, "read without changing it");
        drop(old);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.device_id().unwrap(), device_id);
        store.add_agent_update(&attempt("2.0.0", AgentUpdateOutcome::Failed)).unwrap();
        assert!(store.latest_agent_update().unwrap().is_some());
    }
}
