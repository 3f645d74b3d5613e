//! The tenant's SQLite store: devices, check-ins, reports (de-duplicated by their
//! id), queued commands and how each reached the device (the command channel or a
//! check-in, see `commands`), and what waits on the person at each Mac (deferrals
//! and pending work, see `waiting`). A file with `--database`, else in memory.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use anyhow::Context;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

mod commands;
mod credentials;
mod waiting;

pub(crate) use commands::Command;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    first_seen TEXT NOT NULL,
    last_checkin TEXT,
    agent_version TEXT,
    serial_number TEXT,
    hostname TEXT,
    os_version TEXT,
    blueprint_id TEXT,
    blueprint_etag TEXT,
    blueprint_sent_at TEXT,
    last_inventory TEXT,
    mdm_profile_installed INTEGER,
    mdm_enrolled_at TEXT,
    removed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS checkins (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    kind TEXT,
    received_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    report_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (kind, report_id)
);
CREATE TABLE IF NOT EXISTS commands (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    command_id TEXT NOT NULL UNIQUE,
    device_id TEXT NOT NULL,
    type TEXT NOT NULL,
    queued_at TEXT NOT NULL,
    offered_at TEXT,
    delivered_at TEXT
);
";

/// Columns added after the first release, added to a database file that predates
/// them (`CREATE TABLE IF NOT EXISTS` leaves an existing table as it was).
const ADDED_COLUMNS: [(&str, &str, &str); 3] = [
    ("devices", "blueprint_etag", "TEXT"),
    ("devices", "blueprint_sent_at", "TEXT"),
    ("commands", "offered_at", "TEXT"),
];

/// What the agent said about itself at check-in.
#[derive(Debug)]
pub(crate) struct CheckinRecord<'a> {
    pub(crate) device_id: &'a str,
    pub(crate) kind: Option<&'a str>,
    pub(crate) agent_version: Option<&'a str>,
    pub(crate) serial_number: Option<&'a str>,
    pub(crate) hostname: Option<&'a str>,
    pub(crate) os_version: Option<&'a str>,
    pub(crate) body: &'a str,
}

/// One device as the devices API shows it (before the verdicts).
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct DeviceRow {
    pub(crate) device_id: String,
    pub(crate) first_seen: DateTime<Utc>,
    pub(crate) last_checkin: Option<DateTime<Utc>>,
    pub(crate) agent_version: Option<String>,
    pub(crate) serial_number: Option<String>,
    pub(crate) hostname: Option<String>,
    pub(crate) os_version: Option<String>,
    pub(crate) blueprint_id: Option<String>,
    /// The `ETag` of the blueprint the device holds: sent to it, or confirmed by a `304`.
    pub(crate) blueprint_etag: Option<String>,
    /// When the blueprint body was last sent (a `304` leaves it alone).
    pub(crate) blueprint_sent_at: Option<DateTime<Utc>>,
    pub(crate) last_inventory: Option<DateTime<Utc>>,
    pub(crate) mdm_profile_installed: Option<bool>,
    pub(crate) mdm_enrolled_at: Option<DateTime<Utc>>,
    pub(crate) removed: bool,
}

/// A stored report, as listed back for tests and integrations.
#[derive(Debug, serde::Serialize)]
pub(crate) struct StoredReport {
    pub(crate) report_id: String,
    pub(crate) received_at: DateTime<Utc>,
    pub(crate) body: serde_json::Value,
}

/// A check-in, as the device's history lists it.
#[derive(Debug, serde::Serialize)]
pub(crate) struct StoredCheckin {
    pub(crate) received_at: DateTime<Utc>,
    /// `daily` or `recurring`, as the agent said.
    pub(crate) kind: Option<String>,
    /// The check-in body as the agent sent it.
    pub(crate) body: serde_json::Value,
}

/// The blueprint a device was answered with.
#[derive(Debug)]
pub(crate) struct HeldBlueprint<'a> {
    pub(crate) id: Option<&'a str>,
    pub(crate) etag: &'a str,
    /// The body was sent (`200`), not confirmed unchanged (`304`).
    pub(crate) sent: bool,
}

/// The one connection, behind a lock: a reference tenant needs no pool.
pub(crate) struct Store {
    connection: Mutex<Connection>,
}

type Result<T> = std::result::Result<T, rusqlite::Error>;

impl Store {
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        let connection = Connection::open(path).with_context(|| format!("could not open {}", path.display()))?;
        Self::with(connection)
    }

    pub(crate) fn open_in_memory() -> anyhow::Result<Self> {
        Self::with(Connection::open_in_memory().context("could not open an in-memory database")?)
    }

    fn with(connection: Connection) -> anyhow::Result<Self> {
        connection.execute_batch(SCHEMA).context("could not create the schema")?;
        connection.execute_batch(waiting::SCHEMA).context("could not create the schema")?;
        connection.execute_batch(credentials::SCHEMA).context("could not create the schema")?;
        add_missing_columns(&connection).context("could not bring the schema up to date")?;
        Ok(Self { connection: Mutex::new(connection) })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes sure the device has a row, so reports and actions may precede a check-in.
    fn ensure_device(connection: &Connection, device_id: &str, now: DateTime<Utc>) -> Result<()> {
        connection.execute(
            "INSERT OR IGNORE INTO devices (device_id, first_seen) VALUES (?1, ?2)",
            params![device_id, now.to_rfc3339()],
        )?;
        Ok(())
    }

    /// Records a check-in and hands over (and marks delivered) every command not yet
    /// delivered, offered on the command channel or not.
    /// A field the agent sent empty (it does not know it) leaves the known value alone.
    pub(crate) fn record_checkin(&self, record: &CheckinRecord<'_>, now: DateTime<Utc>) -> Result<Vec<Command>> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        Self::ensure_device(&transaction, record.device_id, now)?;
        transaction.execute(
            "UPDATE devices SET last_checkin = ?2, agent_version = COALESCE(NULLIF(?3, ''), agent_version),
                serial_number = COALESCE(NULLIF(?4, ''), serial_number), hostname = COALESCE(NULLIF(?5, ''), hostname),
                os_version = COALESCE(NULLIF(?6, ''), os_version) WHERE device_id = ?1",
            params![
                record.device_id,
                now.to_rfc3339(),
                record.agent_version,
                record.serial_number,
                record.hostname,
                record.os_version
            ],
        )?;
        transaction.execute(
            "INSERT INTO checkins (device_id, kind, received_at, body) VALUES (?1, ?2, ?3, ?4)",
            params![record.device_id, record.kind, now.to_rfc3339(), record.body],
        )?;
        let commands = Self::deliver_commands(&transaction, record.device_id, now)?;
        transaction.commit()?;
        Ok(commands)
    }

    /// Remembers which blueprint the device holds, and when its body was last
    /// `sent` (rather than confirmed unchanged with a `304`).
    pub(crate) fn record_blueprint(&self, device_id: &str, held: &HeldBlueprint<'_>, now: DateTime<Utc>) -> Result<()> {
        let connection = self.lock();
        Self::ensure_device(&connection, device_id, now)?;
        connection.execute(
            "UPDATE devices SET blueprint_id = ?2, blueprint_etag = ?3,
                blueprint_sent_at = CASE WHEN ?4 THEN ?5 ELSE blueprint_sent_at END WHERE device_id = ?1",
            params![device_id, held.id, held.etag, held.sent, now.to_rfc3339()],
        )?;
        Ok(())
    }

    /// Stores a report unless one with the same kind and id is already stored;
    /// returns whether it was new.
    pub(crate) fn store_report(
        &self,
        kind: &str,
        report_id: &str,
        device_id: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let connection = self.lock();
        Self::ensure_device(&connection, device_id, now)?;
        let inserted = connection.execute(
            "INSERT OR IGNORE INTO reports (kind, report_id, device_id, received_at, body) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![kind, report_id, device_id, now.to_rfc3339(), body],
        )?;
        Ok(inserted == 1)
    }

    /// Notes a new inventory: its time and what it says about the MDM profile.
    pub(crate) fn record_inventory(
        &self,
        device_id: &str,
        mdm_profile_installed: Option<bool>,
        mdm_enrolled_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.lock().execute(
            "UPDATE devices SET last_inventory = ?2, mdm_profile_installed = ?3,
                mdm_enrolled_at = COALESCE(?4, mdm_enrolled_at) WHERE device_id = ?1",
            params![device_id, now.to_rfc3339(), mdm_profile_installed, mdm_enrolled_at.map(|time| time.to_rfc3339())],
        )?;
        Ok(())
    }

    /// Stored reports of one kind for one device, in arrival order.
    pub(crate) fn reports(&self, device_id: &str, kind: &str) -> Result<Vec<StoredReport>> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT report_id, received_at, body FROM reports WHERE device_id = ?1 AND kind = ?2 ORDER BY sequence",
        )?;
        let rows = statement.query_map(params![device_id, kind], |row| {
            Ok(StoredReport { report_id: row.get(0)?, received_at: row.get(1)?, body: json_or_text(row.get(2)?) })
        })?;
        rows.collect()
    }

    /// The device's check-ins, in arrival order.
    pub(crate) fn checkins(&self, device_id: &str) -> Result<Vec<StoredCheckin>> {
        let connection = self.lock();
        let mut statement = connection
            .prepare("SELECT received_at, kind, body FROM checkins WHERE device_id = ?1 ORDER BY sequence")?;
        let rows = statement.query_map([device_id], |row| {
            Ok(StoredCheckin { received_at: row.get(0)?, kind: row.get(1)?, body: json_or_text(row.get(2)?) })
        })?;
        rows.collect()
    }

    /// Marks a device removed (kept for the record, never verified again).
    pub(crate) fn remove_device(&self, device_id: &str) -> Result<bool> {
        Ok(self.lock().execute("UPDATE devices SET removed = 1 WHERE device_id = ?1", [device_id])? == 1)
    }

    pub(crate) fn device(&self, device_id: &str) -> Result<Option<DeviceRow>> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!("{DEVICE_COLUMNS} WHERE device_id = ?1"))?;
        statement.query_row([device_id], device_row).optional()
    }

    pub(crate) fn devices(&self) -> Result<Vec<DeviceRow>> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!("{DEVICE_COLUMNS} ORDER BY device_id"))?;
        let rows = statement.query_map([], device_row)?;
        rows.collect()
    }
}

const DEVICE_COLUMNS: &str = "SELECT device_id, first_seen, last_checkin, agent_version, serial_number, hostname,
    os_version, blueprint_id, blueprint_etag, blueprint_sent_at, last_inventory, mdm_profile_installed,
    mdm_enrolled_at, removed FROM devices";

fn device_row(row: &rusqlite::Row<'_>) -> Result<DeviceRow> {
    Ok(DeviceRow {
        device_id: row.get(0)?,
        first_seen: row.get(1)?,
        last_checkin: row.get(2)?,
        agent_version: row.get(3)?,
        serial_number: row.get(4)?,
        hostname: row.get(5)?,
        os_version: row.get(6)?,
        blueprint_id: row.get(7)?,
        blueprint_etag: row.get(8)?,
        blueprint_sent_at: row.get(9)?,
        last_inventory: row.get(10)?,
        mdm_profile_installed: row.get(11)?,
        mdm_enrolled_at: row.get(12)?,
        removed: row.get(13)?,
    })
}

/// A stored body as JSON, or as a string if it somehow is not JSON.
fn json_or_text(body: String) -> serde_json::Value {
    serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body))
}

/// Adds each of [`ADDED_COLUMNS`] its table lacks.
fn add_missing_columns(connection: &Connection) -> Result<()> {
    for (table, column, column_type) in ADDED_COLUMNS {
        let present: bool = connection.query_row(
            &format!("SELECT EXISTS (SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1)"),
            [column],
            |row| row.get(0),
        )?;
        if !present {
            connection.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {column_type}"))?;
        }
    }
    Ok(())
}
