//! What the schedule reads from the store: the newest runs by the order they were
//! recorded, and whether a daily check-in was asked for.
//!
//! "Newest" follows the order runs were recorded in (SQLite's rowid, which only
//! grows: pruning removes the oldest rows), never the largest timestamp: after the
//! wall clock goes back, the run recorded last is the one the schedule must count
//! from, even though a run recorded before the jump carries a later time.
//!
//! A daily request is kept as the newest run recorded when it was made. It holds
//! until a daily check-in recorded after it reaches its end (not interrupted), so a
//! request made while a daily check-in is already running is served by the next
//! one, and a request survives a restart or a crash.

use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;

use super::store::{Store, StoreError, parse_time};

/// The `device` key under which a pending daily request is kept.
const DAILY_REQUEST_KEY: &str = "daily_requested_after_run";

/// The runs that count as a completed daily check-in.
pub(super) const COMPLETED_DAILY: &str = "kind = 'daily' AND outcome IS NOT NULL AND outcome != 'interrupted'";

impl Store {
    /// When the most recently recorded scheduled kind of check-in (recurring or daily) started.
    pub fn newest_run_start(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        // A Self Service or `agent library --item` run holds one item asked for:
        // it moves no slot.
        self.newest_start("kind IN ('recurring', 'daily')")
    }

    /// When the most recently recorded daily check-in that reached its end started.
    pub fn newest_completed_daily_start(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.newest_start(COMPLETED_DAILY)
    }

    fn newest_start(&self, condition: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let query = format!("SELECT started_at FROM runs WHERE {condition} ORDER BY rowid DESC LIMIT 1");
        let text: Option<String> = self
            .connection
            .query_row(&query, [], |row| row.get(0))
            .optional()
            .map_err(self.failed("cannot read run times"))?;
        text.map(|text| parse_time(&text)).transpose().map_err(self.failed("cannot read run times"))
    }

    /// Asks for the next check-in to be the daily one (`--reset-daily`, the tenant's
    /// `dailycheckin`); kept until a daily check-in recorded after now completes.
    pub fn request_daily(&self) -> Result<(), StoreError> {
        self.connection
            .execute(
                "INSERT OR REPLACE INTO device (key, value)
                 VALUES (?1, (SELECT CAST(COALESCE(MAX(rowid), 0) AS TEXT) FROM runs))",
                [DAILY_REQUEST_KEY],
            )
            .map(drop)
            .map_err(self.failed("cannot save the daily request"))
    }

    /// Whether a daily check-in was asked for and no daily check-in recorded since
    /// has completed.
    pub fn daily_requested(&self) -> Result<bool, StoreError> {
        let query = format!(
            "SELECT NOT EXISTS (SELECT 1 FROM runs WHERE {COMPLETED_DAILY} AND rowid > CAST(request.value AS INTEGER))
             FROM device AS request WHERE request.key = ?1"
        );
        let pending: Option<bool> = self
            .connection
            .query_row(&query, [DAILY_REQUEST_KEY], |row| row.get(0))
            .optional()
            .map_err(self.failed("cannot read the daily request"))?;
        Ok(pending.unwrap_or(false))
    }
}
