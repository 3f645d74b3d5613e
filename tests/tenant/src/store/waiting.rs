//! What waits on the person at each Mac, from the results reports: every
//! deferral the agent recorded (who chose what, when, and why), and the device's
//! pending disruptive work as its newest run left it (deadlines, waiting for
//! the user). Recorded once per report: a report sent twice is stored once.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, params};
use serde_json::Value;

use super::{Result, Store};

/// The tables, created with the rest of the schema.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS deferrals (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    at TEXT,
    user TEXT,
    choice TEXT,
    reason TEXT
);
CREATE TABLE IF NOT EXISTS pending_work (
    device_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    run_started_at TEXT NOT NULL,
    work TEXT NOT NULL
);
";

/// One deferral, as the devices API lists it.
#[derive(Debug, serde::Serialize)]
pub(crate) struct StoredDeferral {
    /// The run that recorded it.
    pub(crate) run_id: String,
    pub(crate) item_id: String,
    pub(crate) at: Option<String>,
    pub(crate) user: Option<String>,
    /// `later`, `no_answer` or `blocked`, as the agent said.
    pub(crate) choice: Option<String>,
    pub(crate) reason: Option<String>,
}

/// The text of `value[key]`, if it is a string.
fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

impl Store {
    /// Records the deferrals and the pending work a new results report carries
    /// (`report` as the agent sent it). Pending work replaces the device's only
    /// when the report's run started no earlier than the one it came from, so a
    /// late report of an old run does not bring back work since done.
    pub(crate) fn record_waiting_work(&self, device_id: &str, report: &Value, now: DateTime<Utc>) -> Result<()> {
        let run_id = text(report, "run_id").unwrap_or_default();
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        for deferral in report.get("deferrals").and_then(Value::as_array).into_iter().flatten() {
            transaction.execute(
                "INSERT INTO deferrals (device_id, run_id, item_id, at, user, choice, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    device_id,
                    run_id,
                    text(deferral, "item_id").unwrap_or_default(),
                    text(deferral, "at"),
                    text(deferral, "user"),
                    text(deferral, "choice"),
                    text(deferral, "reason")
                ],
            )?;
        }
        if let Some(work) = report.get("pending_work").filter(|work| work.is_array()) {
            let started = report.get("run").and_then(|run| text(run, "started_at"));
            let started = started.and_then(|time| time.parse::<DateTime<Utc>>().ok()).unwrap_or(now);
            replace_pending_work(&transaction, device_id, run_id, started, work)?;
        }
        transaction.commit()
    }

    /// The device's deferrals, in the order they arrived.
    pub(crate) fn deferrals(&self, device_id: &str) -> Result<Vec<StoredDeferral>> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT run_id, item_id, at, user, choice, reason FROM deferrals WHERE device_id = ?1 ORDER BY sequence",
        )?;
        let rows = statement.query_map([device_id], |row| {
            Ok(StoredDeferral {
                run_id: row.get(0)?,
                item_id: row.get(1)?,
                at: row.get(2)?,
                user: row.get(3)?,
                choice: row.get(4)?,
                reason: row.get(5)?,
            })
        })?;
        rows.collect()
    }

    /// The device's pending disruptive work as its newest reported run left it:
    /// an empty list when none was ever reported.
    pub(crate) fn pending_work(&self, device_id: &str) -> Result<Value> {
        let connection = self.lock();
        let mut statement = connection.prepare("SELECT work FROM pending_work WHERE device_id = ?1")?;
        let mut rows = statement.query([device_id])?;
        let work = match rows.next()? {
            Some(row) => serde_json::from_str(&row.get::<_, String>(0)?).unwrap_or_default(),
            None => Value::Array(Vec::new()),
        };
        Ok(work)
    }
}

/// Keeps `work` as the device's pending work unless a run that started later
/// already reported its own.
fn replace_pending_work(
    connection: &Connection,
    device_id: &str,
    run_id: &str,
    started: DateTime<Utc>,
    work: &Value,
) -> Result<()> {
    // A fixed width, so the times compare as text.
    let started = started.to_rfc3339_opts(SecondsFormat::Nanos, true);
    connection.execute(
        "INSERT INTO pending_work (device_id, run_id, run_started_at, work) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (device_id) DO UPDATE SET run_id = excluded.run_id, run_started_at = excluded.run_started_at,
             work = excluded.work WHERE excluded.run_started_at >= pending_work.run_started_at",
        params![device_id, run_id, started, work.to_string()],
    )?;
    Ok(())
}
