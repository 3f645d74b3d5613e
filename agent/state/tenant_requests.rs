//! Check-ins the tenant asked for: `blankpush` (check in now), `dailycheckin`
//! (run the daily check-in now) and, through the command channel,
//! `updateinventory` (send inventory now), kept with the tenant's command id until
//! a check-in serves them, so a crash or a restart loses none.
//!
//! A request is served by the first check-in that starts after it was saved,
//! whatever started that check-in. `run_at_once` tells the daemon it may start
//! that check-in right away; a request that arrived during a check-in the tenant
//! itself asked for has it unset and waits for the schedule (`tenant::requests`
//! explains why).
//!
//! A served request stays (with `served_at`) for [`SERVED_KEPT_DAYS`], so a
//! command id seen again, as when the command channel delivered it and the next
//! check-in's reply carries it too, is recognised and acted on once.

use chrono::{DateTime, Utc};
use rusqlite::{Row, params};

use super::store::{Store, StoreError, parse_time, time_text};

/// How long a served request is remembered, to recognise its command id.
pub(crate) const SERVED_KEPT_DAYS: i64 = 30;

/// What the tenant asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TenantCommand {
    /// `blankpush`: check in now.
    CheckInNow,
    /// `dailycheckin`: run the daily check-in now.
    DailyCheckIn,
    /// `updateinventory`: send inventory now (a check-in of its own only when it
    /// came through the command channel).
    UpdateInventory,
}

impl TenantCommand {
    /// The command's name in the tenant protocol.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TenantCommand::CheckInNow => "blankpush",
            TenantCommand::DailyCheckIn => "dailycheckin",
            TenantCommand::UpdateInventory => "updateinventory",
        }
    }

    /// The command named `name`, if the agent knows it.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name {
            "blankpush" => Some(TenantCommand::CheckInNow),
            "dailycheckin" => Some(TenantCommand::DailyCheckIn),
            "updateinventory" => Some(TenantCommand::UpdateInventory),
            _ => None,
        }
    }
}

/// One saved request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TenantRequest {
    /// Order of arrival; only grows.
    pub(crate) sequence: i64,
    /// The tenant's id for the command.
    pub(crate) command_id: String,
    /// What it asks for.
    pub(crate) command: TenantCommand,
    /// When the agent received it.
    pub(crate) received_at: DateTime<Utc>,
    /// The daemon may start a check-in for it at once.
    pub(crate) run_at_once: bool,
}

impl Store {
    /// Saves a request; a command id already saved (or served within
    /// [`SERVED_KEPT_DAYS`]) is not saved again. Says whether it was new.
    pub(crate) fn save_tenant_request(
        &self,
        command_id: &str,
        command: TenantCommand,
        received_at: DateTime<Utc>,
        run_at_once: bool,
    ) -> Result<bool, StoreError> {
        self.connection
            .execute(
                "INSERT OR IGNORE INTO tenant_requests (command_id, command, received_at, run_at_once)
                 VALUES (?1, ?2, ?3, ?4)",
                params![command_id, command.as_str(), time_text(received_at), run_at_once],
            )
            .map(|inserted| inserted == 1)
            .map_err(self.failed("cannot save the tenant's request"))
    }

    /// Records a command acted on at once (as `updateinventory` in a check-in's
    /// reply is) as served at `received_at`, so it is acted on once; says whether
    /// its id was new.
    pub(crate) fn record_served_command(
        &self,
        command_id: &str,
        command: TenantCommand,
        received_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let at = time_text(received_at);
        self.connection
            .execute(
                "INSERT OR IGNORE INTO tenant_requests (command_id, command, received_at, run_at_once, served_at)
                 VALUES (?1, ?2, ?3, 0, ?3)",
                params![command_id, command.as_str(), at],
            )
            .map(|inserted| inserted == 1)
            .map_err(self.failed("cannot save the tenant's command"))
    }

    /// Every saved request not served yet, oldest first.
    pub(crate) fn pending_tenant_requests(&self) -> Result<Vec<TenantRequest>, StoreError> {
        let failed = self.failed("cannot read the tenant's requests");
        let mut statement = self
            .connection
            .prepare(
                "SELECT sequence, command_id, command, received_at, run_at_once FROM tenant_requests
                 WHERE served_at IS NULL ORDER BY sequence",
            )
            .map_err(&failed)?;
        let rows = statement.query_map([], request_from_row).map_err(&failed)?;
        rows.collect::<Result<_, _>>().map_err(failed)
    }

    /// Marks the requests up to `sequence` served at `now` (those a starting
    /// check-in serves), and forgets those served more than [`SERVED_KEPT_DAYS`] ago.
    pub(crate) fn serve_tenant_requests(&self, sequence: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        let forget_before = time_text(now - chrono::TimeDelta::days(SERVED_KEPT_DAYS));
        self.connection
            .execute(
                "UPDATE tenant_requests SET served_at = ?2 WHERE sequence <= ?1 AND served_at IS NULL",
                params![sequence, time_text(now)],
            )
            .and_then(|_| self.connection.execute("DELETE FROM tenant_requests WHERE served_at < ?1", [forget_before]))
            .map(drop)
            .map_err(self.failed("cannot mark the tenant's requests served"))
    }
}

fn request_from_row(row: &Row<'_>) -> rusqlite::Result<TenantRequest> {
    let command: String = row.get(2)?;
    let received_at: String = row.get(3)?;
    Ok(TenantRequest {
        sequence: row.get(0)?,
        command_id: row.get(1)?,
        command: TenantCommand::parse(&command).unwrap_or(TenantCommand::CheckInNow),
        received_at: parse_time(&received_at)?,
        run_at_once: row.get(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_kept_once_per_command_id_in_order_until_removed() {
        let (_folder, path) = Store::scratch_file();
        let store = Store::open(&path).unwrap();
        let now = Utc::now();
        assert!(store.save_tenant_request("cmd-1", TenantCommand::CheckInNow, now, true).unwrap());
        assert!(!store.save_tenant_request("cmd-1", TenantCommand::CheckInNow, now, true).unwrap(), "sent twice");
        assert!(store.save_tenant_request("cmd-2", TenantCommand::DailyCheckIn, now, false).unwrap());
        drop(store);
        let store = Store::open(&path).unwrap();
        let pending = store.pending_tenant_requests().unwrap();
        let seen: Vec<_> =
            pending.iter().map(|request| (request.command_id.as_str(), request.command, request.run_at_once)).collect();
        assert_eq!(seen, [("cmd-1", TenantCommand::CheckInNow, true), ("cmd-2", TenantCommand::DailyCheckIn, false)]);
        assert_eq!(time_text(pending[0].received_at), time_text(now));
        store.serve_tenant_requests(pending[0].sequence, now).unwrap();
        assert_eq!(store.pending_tenant_requests().unwrap()[0].command_id, "cmd-2");
        store.serve_tenant_requests(pending[1].sequence, now).unwrap();
        assert!(store.pending_tenant_requests().unwrap().is_empty());
        assert!(!store.save_tenant_request("cmd-1", TenantCommand::CheckInNow, now, true).unwrap(), "served: known");
        assert!(store.pending_tenant_requests().unwrap().is_empty());
    }

    #[test]
    fn a_command_acted_on_at_once_is_known_and_served_ones_are_forgotten_after_thirty_days() {
        let (_folder, store) = Store::scratch();
        let long_ago = Utc::now() - chrono::TimeDelta::days(SERVED_KEPT_DAYS + 1);
        assert!(store.record_served_command("cmd-9", TenantCommand::UpdateInventory, long_ago).unwrap());
        assert!(!store.record_served_command("cmd-9", TenantCommand::UpdateInventory, long_ago).unwrap());
        assert!(!store.save_tenant_request("cmd-9", TenantCommand::UpdateInventory, long_ago, true).unwrap());
        assert!(store.pending_tenant_requests().unwrap().is_empty(), "served, not pending");
        assert!(store.save_tenant_request("cmd-10", TenantCommand::CheckInNow, Utc::now(), true).unwrap());
        let pending = store.pending_tenant_requests().unwrap();
        store.serve_tenant_requests(pending[0].sequence, Utc::now()).unwrap();
        assert!(
            store.save_tenant_request("cmd-9", TenantCommand::UpdateInventory, Utc::now(), true).unwrap(),
            "forgotten"
        );
        assert!(!store.save_tenant_request("cmd-10", TenantCommand::CheckInNow, Utc::now(), true).unwrap(), "kept");
    }
}
