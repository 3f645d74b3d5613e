//! The spool: reports waiting for the tenant, and the little the tenant client
//! remembers between check-ins (the blueprint's `ETag`, the run of refused tokens).
//!
//! A report is written here before it is sent and deleted only once the tenant
//! accepted it, so a crash, a reboot or a tenant that is down loses nothing. They
//! go out oldest first (by `sequence`, which only grows). A report the tenant
//! refused for good is parked: kept for an admin to look at, never sent again.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::store::{Store, StoreError, parse_time, time_text};

/// One report waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpooledReport {
    /// Stable across attempts; the tenant de-duplicates by it.
    pub(crate) report_id: String,
    /// The request path, e.g. `/api/v1/agent/results`.
    pub(crate) path: String,
    /// The JSON body, exactly as it will be sent.
    pub(crate) body: String,
    /// How many attempts failed so far.
    pub(crate) attempts: u32,
}

/// Where a report stands in the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpoolEntry {
    /// The tenant refused it for good: kept, never sent again.
    pub(crate) parked: bool,
    /// Why the last attempt failed, if one did.
    pub(crate) last_error: Option<String>,
    /// When it is tried again (`None`: at the next check-in).
    pub(crate) next_attempt_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Adds a report; adding the same `report_id` twice keeps the first.
    pub(crate) fn spool_add(
        &self,
        report_id: &str,
        path: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.connection
            .execute(
                "INSERT OR IGNORE INTO spool (report_id, path, body, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![report_id, path, body, time_text(now)],
            )
            .map(drop)
            .map_err(self.failed("cannot spool a report"))
    }

    /// The reports to try now, oldest first: not parked, and older than the oldest
    /// one still waiting out its backoff at `now` (so a newer report never overtakes
    /// it), unless `ignore_backoff` (the tenant just answered, so waiting helps nobody).
    pub(crate) fn spool_due(&self, now: DateTime<Utc>, ignore_backoff: bool) -> Result<Vec<SpooledReport>, StoreError> {
        let failed = self.failed("cannot read the spool");
        let mut statement = self
            .connection
            .prepare(
                "SELECT report_id, path, body, attempts FROM spool
                 WHERE parked = 0 AND (?1 OR sequence < COALESCE(
                     (SELECT MIN(sequence) FROM spool WHERE parked = 0 AND next_attempt_at > ?2),
                     9223372036854775807))
                 ORDER BY sequence",
            )
            .map_err(&failed)?;
        let rows = statement
            .query_map(params![ignore_backoff, time_text(now)], |row| {
                Ok(SpooledReport {
                    report_id: row.get(0)?,
                    path: row.get(1)?,
                    body: row.get(2)?,
                    attempts: row.get(3)?,
                })
            })
            .map_err(&failed)?;
        rows.collect::<Result<_, _>>().map_err(failed)
    }

    /// The tenant accepted the report.
    pub(crate) fn spool_remove(&self, report_id: &str) -> Result<(), StoreError> {
        self.connection
            .execute("DELETE FROM spool WHERE report_id = ?1", [report_id])
            .map(drop)
            .map_err(self.failed("cannot remove a sent report"))
    }

    /// An attempt failed; try again at `next_attempt_at`.
    pub(crate) fn spool_retry_later(
        &self,
        report_id: &str,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.connection
            .execute(
                "UPDATE spool SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 WHERE report_id = ?1",
                params![report_id, time_text(next_attempt_at), error],
            )
            .map(drop)
            .map_err(self.failed("cannot reschedule a report"))
    }

    /// The tenant refused the report for good: keep it, never send it again.
    pub(crate) fn spool_park(&self, report_id: &str, error: &str) -> Result<(), StoreError> {
        self.connection
            .execute(
                "UPDATE spool SET attempts = attempts + 1, parked = 1, last_error = ?2 WHERE report_id = ?1",
                params![report_id, error],
            )
            .map(drop)
            .map_err(self.failed("cannot park a report"))
    }

    /// Where one report stands; `None` once the tenant accepted it (or it never was spooled).
    pub(crate) fn spool_entry(&self, report_id: &str) -> Result<Option<SpoolEntry>, StoreError> {
        let failed = self.failed("cannot read the spool");
        let row: Option<(bool, Option<String>, Option<String>)> = self
            .connection
            .query_row(
                "SELECT parked, last_error, next_attempt_at FROM spool WHERE report_id = ?1",
                [report_id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .map_err(&failed)?;
        let Some((parked, last_error, next_attempt)) = row else { return Ok(None) };
        let next_attempt_at = next_attempt.map(|text| parse_time(&text)).transpose().map_err(failed)?;
        Ok(Some(SpoolEntry { parked, last_error, next_attempt_at }))
    }

    /// How many reports wait (not parked) and how many are parked.
    pub(crate) fn spool_counts(&self) -> Result<(u64, u64), StoreError> {
        self.connection
            .query_row("SELECT COALESCE(SUM(parked = 0), 0), COALESCE(SUM(parked = 1), 0) FROM spool", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .map_err(self.failed("cannot count the spool"))
    }

    /// When the next waiting report is due, if one waits.
    pub(crate) fn spool_next_attempt(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let text: Option<Option<String>> = self
            .connection
            .query_row("SELECT MIN(next_attempt_at) FROM spool WHERE parked = 0", [], |row| row.get(0))
            .optional()
            .map_err(self.failed("cannot read the spool"))?;
        text.flatten().map(|text| parse_time(&text)).transpose().map_err(self.failed("cannot read the spool"))
    }

    /// A value the tenant client keeps in the `device` table.
    pub(crate) fn tenant_value(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.connection
            .query_row("SELECT value FROM device WHERE key = ?1", [key], |row| row.get(0))
            .optional()
            .map_err(self.failed("cannot read a tenant value"))
    }

    /// Sets (or, with `None`, forgets) a value the tenant client keeps.
    pub(crate) fn set_tenant_value(&self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        let result = match value {
            Some(value) => {
                self.connection.execute("INSERT OR REPLACE INTO device (key, value) VALUES (?1, ?2)", [key, value])
            }
            None => self.connection.execute("DELETE FROM device WHERE key = ?1", [key]),
        };
        result.map(drop).map_err(self.failed("cannot save a tenant value"))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn ids(reports: &[SpooledReport]) -> Vec<&str> {
        reports.iter().map(|report| report.report_id.as_str()).collect()
    }

    #[test]
    fn reports_come_back_oldest_first_and_once_per_id() {
        let (_folder, store) = Store::scratch();
        let now = Utc::now();
        for id in ["b", "a", "c", "a"] {
            store.spool_add(id, "/api/v1/agent/results", &format!("{{\"id\":\"{id}\"}}"), now).unwrap();
        }
        let due = store.spool_due(now, false).unwrap();
        assert_eq!(ids(&due), ["b", "a", "c"]);
        assert_eq!(due[1].body, "{\"id\":\"a\"}");
        store.spool_remove("a").unwrap();
        assert_eq!(ids(&store.spool_due(now, false).unwrap()), ["b", "c"]);
    }

    #[test]
    fn backoff_holds_a_report_until_it_is_due_or_the_tenant_answered() {
        let (_folder, store) = Store::scratch();
        let now = Utc::now();
        store.spool_add("r1", "/p", "{}", now).unwrap();
        store.spool_retry_later("r1", now + Duration::minutes(5), "timed out").unwrap();
        assert!(store.spool_due(now, false).unwrap().is_empty());
        assert_eq!(store.spool_due(now + Duration::minutes(5), false).unwrap()[0].attempts, 1);
        assert_eq!(ids(&store.spool_due(now, true).unwrap()), ["r1"]);
        assert_eq!(store.spool_next_attempt().unwrap().map(time_text), Some(time_text(now + Duration::minutes(5))));
        store.spool_add("r2", "/p", "{}", now).unwrap();
        assert!(store.spool_due(now, false).unwrap().is_empty(), "a newer report never overtakes a waiting one");
        assert_eq!(ids(&store.spool_due(now + Duration::minutes(5), false).unwrap()), ["r1", "r2"]);
        assert_eq!(ids(&store.spool_due(now, true).unwrap()), ["r1", "r2"]);
    }

    #[test]
    fn a_parked_report_is_kept_but_never_due() {
        let (_folder, store) = Store::scratch();
        let now = Utc::now();
        store.spool_add("r1", "/p", "{}", now).unwrap();
        store.spool_add("r2", "/p", "{}", now).unwrap();
        store.spool_park("r1", "422: malformed").unwrap();
        assert_eq!(ids(&store.spool_due(now, true).unwrap()), ["r2"]);
        assert_eq!(store.spool_counts().unwrap(), (1, 1));
        let parked = store.spool_entry("r1").unwrap().unwrap();
        assert_eq!((parked.parked, parked.last_error.as_deref()), (true, Some("422: malformed")));
        store.spool_retry_later("r2", now, "timed out").unwrap();
        let waiting = store.spool_entry("r2").unwrap().unwrap();
        assert_eq!((waiting.parked, waiting.next_attempt_at.map(time_text)), (false, Some(time_text(now))));
        store.spool_remove("r2").unwrap();
        assert_eq!(store.spool_entry("r2").unwrap(), None);
    }

    #[test]
    fn tenant_values_are_set_replaced_and_forgotten() {
        let (_folder, store) = Store::scratch();
        assert_eq!(store.tenant_value("etag").unwrap(), None);
        store.set_tenant_value("etag", Some("\"v1\"")).unwrap();
        store.set_tenant_value("etag", Some("\"v2\"")).unwrap();
        assert_eq!(store.tenant_value("etag").unwrap().as_deref(), Some("\"v2\""));
        store.set_tenant_value("etag", None).unwrap();
        assert_eq!(store.tenant_value("etag").unwrap(), None);
    }
}
