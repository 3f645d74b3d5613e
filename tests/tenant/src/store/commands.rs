//! The commands an admin queues for a device (`blankpush`, `dailycheckin`,
//! `updateinventory`) and their way to it. Each command has three times:
//!
//! ```text
//! action route ──> queued_at
//!   ├─ command channel (GET /api/v1/agent/commands) ──> offered_at   (at most once)
//!   └─ check-in reply (POST /api/v1/agent/checkin)  ──> delivered_at (exactly once)
//! ```
//!
//! The check-in stays the source of truth: it hands over every command not yet
//! delivered, offered ones included, so a channel reply the device missed still
//! arrives once (the agent de-duplicates by command id). The channel offers only
//! what is neither offered nor delivered, so a command a check-in delivered is
//! never offered afterwards.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::{Result, Store};

/// A command waiting for (or handed to) a device, as the agent receives it.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Command {
    pub(crate) id: String,
    #[serde(rename = "type")]
    pub(crate) command_type: String,
}

/// A command with when it was queued, offered on the channel and delivered by a check-in.
#[derive(Debug, serde::Serialize)]
pub(crate) struct QueuedCommand {
    pub(crate) id: String,
    #[serde(rename = "type")]
    pub(crate) command_type: String,
    pub(crate) queued_at: DateTime<Utc>,
    /// When the command channel handed it out; `None` if it never did.
    pub(crate) offered_at: Option<DateTime<Utc>>,
    /// `None` while it waits for the device's next check-in.
    pub(crate) delivered_at: Option<DateTime<Utc>>,
}

impl Store {
    /// The commands queued for the device, in the order they were queued.
    pub(crate) fn commands(&self, device_id: &str) -> Result<Vec<QueuedCommand>> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT command_id, type, queued_at, offered_at, delivered_at FROM commands
                WHERE device_id = ?1 ORDER BY sequence",
        )?;
        let rows = statement.query_map([device_id], |row| {
            Ok(QueuedCommand {
                id: row.get(0)?,
                command_type: row.get(1)?,
                queued_at: row.get(2)?,
                offered_at: row.get(3)?,
                delivered_at: row.get(4)?,
            })
        })?;
        rows.collect()
    }

    /// Queues a command for the device's channel and next check-in; returns its id.
    pub(crate) fn queue_command(&self, device_id: &str, command_type: &str, now: DateTime<Utc>) -> Result<String> {
        let connection = self.lock();
        Self::ensure_device(&connection, device_id, now)?;
        connection.execute(
            "INSERT INTO commands (command_id, device_id, type, queued_at) VALUES ('', ?1, ?2, ?3)",
            params![device_id, command_type, now.to_rfc3339()],
        )?;
        let command_id = format!("cmd-{}", connection.last_insert_rowid());
        connection.execute(
            "UPDATE commands SET command_id = ?1 WHERE sequence = ?2",
            params![command_id, connection.last_insert_rowid()],
        )?;
        Ok(command_id)
    }

    /// Hands the command channel every command of the device that was neither
    /// delivered by a check-in nor offered before, and marks them offered.
    pub(crate) fn offer_commands(&self, device_id: &str, now: DateTime<Utc>) -> Result<Vec<Command>> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        let waiting = "device_id = ?1 AND delivered_at IS NULL AND offered_at IS NULL";
        let commands = select_commands(&transaction, waiting, device_id)?;
        if !commands.is_empty() {
            transaction.execute(
                &format!("UPDATE commands SET offered_at = ?2 WHERE {waiting}"),
                params![device_id, now.to_rfc3339()],
            )?;
        }
        transaction.commit()?;
        Ok(commands)
    }

    /// Hands a check-in every command of the device not yet delivered (offered
    /// ones included) and marks them delivered; runs inside the check-in's transaction.
    pub(super) fn deliver_commands(
        connection: &Connection,
        device_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Command>> {
        let commands = select_commands(connection, "device_id = ?1 AND delivered_at IS NULL", device_id)?;
        connection.execute(
            "UPDATE commands SET delivered_at = ?2 WHERE device_id = ?1 AND delivered_at IS NULL",
            params![device_id, now.to_rfc3339()],
        )?;
        Ok(commands)
    }
}

/// The device's commands matching `condition` (on `?1`, the device), oldest first.
fn select_commands(connection: &Connection, condition: &str, device_id: &str) -> Result<Vec<Command>> {
    let mut statement =
        connection.prepare(&format!("SELECT command_id, type FROM commands WHERE {condition} ORDER BY sequence"))?;
    let rows = statement.query_map([device_id], |row| Ok(Command { id: row.get(0)?, command_type: row.get(1)? }))?;
    rows.collect()
}
