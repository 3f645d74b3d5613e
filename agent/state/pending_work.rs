//! Disruptive work that waits on the person at the Mac or on a deadline (an OS
//! update's install and restart, an app that must quit to be replaced), and the
//! deferrals the person chose: what `agent status` lists, what the results
//! report carries, and what keeps a notice from being shown twice within its
//! interval. Kept across restarts, so a countdown resumes where it was.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::store::{Store, StoreError, parse_time, time_text};

/// An item's disruptive work still to happen, as `agent status` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingWork {
    /// The library item's id.
    pub item_id: String,
    /// The library item's name.
    pub item_name: String,
    /// What will happen, in words: `install macOS Sequoia 15.2 and restart`.
    pub action: String,
    /// What the notices are about (an update's label, an app's version): work
    /// about another subject starts the counting over.
    #[serde(skip)]
    pub subject: String,
    /// When it happens whatever the person says (a managed OS deadline, an app's
    /// `force_install_after`), if ever.
    pub deadline: Option<DateTime<Utc>>,
    /// Where it stands, in words: `deferred by ada (1 of 3)`, `waiting for Foo to quit`.
    pub state: String,
    /// When the person was last shown a notice about it.
    pub notice_shown_at: Option<DateTime<Utc>>,
    /// How many of the allowed deferrals the person used.
    pub deferrals_used: u32,
    /// When a countdown to the install ends, once one started.
    pub countdown_ends_at: Option<DateTime<Utc>>,
    /// When this was last written.
    pub updated_at: DateTime<Utc>,
}

/// One answer of the person to a notice, or an install held back by a running
/// app, as the run that met it recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deferral {
    /// The run it happened in.
    #[serde(skip)]
    pub run_id: String,
    /// The library item's id.
    pub item_id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The person at the Mac (their user name), or empty when nobody was.
    pub user: String,
    /// `later` (counted against `max_deferrals`), `no_answer` (the notice gave
    /// up; not counted), `blocked` (an app that must quit was running).
    pub choice: String,
    /// Why, in words.
    pub reason: String,
}

const WORK_COLUMNS: &str = "item_id, item_name, action, subject, deadline, state, notice_shown_at, \
                            deferrals_used, countdown_ends_at, updated_at";

impl Store {
    /// The pending work of `item_id`, if any.
    pub fn pending_work(&self, item_id: &str) -> Result<Option<PendingWork>, StoreError> {
        let query = format!("SELECT {WORK_COLUMNS} FROM pending_work WHERE item_id = ?1");
        self.connection
            .query_row(&query, [item_id], read_work)
            .optional()
            .map_err(self.failed("cannot read the pending work"))
    }

    /// Every item's pending work, the nearest deadline first (none last), then
    /// by item name. A store an older agent wrote, which `agent status` opens
    /// without changing, has none.
    pub fn all_pending_work(&self) -> Result<Vec<PendingWork>, StoreError> {
        let failed = self.failed("cannot read the pending work");
        if !self.has_table("pending_work")? {
            return Ok(Vec::new());
        }
        let query =
            format!("SELECT {WORK_COLUMNS} FROM pending_work ORDER BY deadline IS NULL, deadline, item_name, item_id");
        let mut statement = self.connection.prepare(&query).map_err(&failed)?;
        let rows = statement.query_map([], read_work).map_err(&failed)?;
        rows.collect::<Result<_, _>>().map_err(&failed)
    }

    /// Saves `work`, replacing what its item had.
    pub fn save_pending_work(&self, work: &PendingWork) -> Result<(), StoreError> {
        let query = format!(
            "INSERT OR REPLACE INTO pending_work ({WORK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        );
        self.connection
            .execute(
                &query,
                params![
                    work.item_id,
                    work.item_name,
                    work.action,
                    work.subject,
                    work.deadline.map(time_text),
                    work.state,
                    work.notice_shown_at.map(time_text),
                    work.deferrals_used,
                    work.countdown_ends_at.map(time_text),
                    time_text(work.updated_at),
                ],
            )
            .map(drop)
            .map_err(self.failed("cannot save the pending work"))
    }

    /// Forgets the pending work of `item_id`: done, or no longer needed.
    pub fn clear_pending_work(&self, item_id: &str) -> Result<(), StoreError> {
        self.connection
            .execute("DELETE FROM pending_work WHERE item_id = ?1", [item_id])
            .map(drop)
            .map_err(self.failed("cannot clear the pending work"))
    }

    /// Records a deferral; it goes with its run when the run is pruned.
    pub fn record_deferral(&self, deferral: &Deferral) -> Result<(), StoreError> {
        self.connection
            .execute(
                "INSERT INTO deferrals (run_id, item_id, at, user, choice, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    deferral.run_id,
                    deferral.item_id,
                    time_text(deferral.at),
                    deferral.user,
                    deferral.choice,
                    deferral.reason
                ],
            )
            .map(drop)
            .map_err(self.failed("cannot record the deferral"))
    }

    /// The deferrals recorded in `run_id`, in order. A store an older agent
    /// wrote has none.
    pub fn deferrals_of_run(&self, run_id: &str) -> Result<Vec<Deferral>, StoreError> {
        let failed = self.failed("cannot read the deferrals");
        if !self.has_table("deferrals")? {
            return Ok(Vec::new());
        }
        let mut statement = self
            .connection
            .prepare(
                "SELECT run_id, item_id, at, user, choice, reason FROM deferrals WHERE run_id = ?1 ORDER BY sequence",
            )
            .map_err(&failed)?;
        let rows = statement
            .query_map([run_id], |row| {
                Ok(Deferral {
                    run_id: row.get(0)?,
                    item_id: row.get(1)?,
                    at: parse_time(&row.get::<_, String>(2)?)?,
                    user: row.get(3)?,
                    choice: row.get(4)?,
                    reason: row.get(5)?,
                })
            })
            .map_err(&failed)?;
        rows.collect::<Result<_, _>>().map_err(&failed)
    }
}

fn optional_time(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    row.get::<_, Option<String>>(index)?.as_deref().map(parse_time).transpose()
}

fn read_work(row: &Row<'_>) -> rusqlite::Result<PendingWork> {
    Ok(PendingWork {
        item_id: row.get(0)?,
        item_name: row.get(1)?,
        action: row.get(2)?,
        subject: row.get(3)?,
        deadline: optional_time(row, 4)?,
        state: row.get(5)?,
        notice_shown_at: optional_time(row, 6)?,
        deferrals_used: row.get(7)?,
        countdown_ends_at: optional_time(row, 8)?,
        updated_at: parse_time(&row.get::<_, String>(9)?)?,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::plan::CheckinKind;
    use crate::state::{RunRecord, Trigger};

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, hour, 0, 0).unwrap()
    }

    fn work(item_id: &str, name: &str, deadline: Option<DateTime<Utc>>) -> PendingWork {
        PendingWork {
            item_id: item_id.into(),
            item_name: name.into(),
            action: "install macOS Sequoia 15.2 and restart".into(),
            subject: "macOS Sequoia 15.2-24C101".into(),
            deadline,
            state: "deferred by ada (1 of 3)".into(),
            notice_shown_at: Some(at(9)),
            deferrals_used: 1,
            countdown_ends_at: None,
            updated_at: at(9),
        }
    }

    #[test]
    fn pending_work_is_saved_replaced_listed_by_deadline_and_cleared() {
        let (_folder, store) = Store::scratch();
        assert_eq!(store.pending_work("os").unwrap(), None);
        store.save_pending_work(&work("os", "macOS", Some(at(17)))).unwrap();
        store.save_pending_work(&work("app", "Foo", None)).unwrap();
        store.save_pending_work(&work("early", "Zed", Some(at(12)))).unwrap();
        let counted =
            PendingWork { deferrals_used: 2, countdown_ends_at: Some(at(18)), ..work("os", "macOS", Some(at(17))) };
        store.save_pending_work(&counted).unwrap();
        assert_eq!(store.pending_work("os").unwrap(), Some(counted));
        let order: Vec<String> = store.all_pending_work().unwrap().into_iter().map(|work| work.item_id).collect();
        assert_eq!(order, ["early", "os", "app"]);
        store.clear_pending_work("os").unwrap();
        assert_eq!(store.pending_work("os").unwrap(), None);
        assert_eq!(store.all_pending_work().unwrap().len(), 2);
    }

    #[test]
    fn deferrals_are_kept_with_their_run_and_go_with_it() {
        let (_folder, store) = Store::scratch();
        store.begin_run(&RunRecord::begun("r1", CheckinKind::Recurring, Trigger::Schedule, at(9)), 1).unwrap();
        store.begin_run(&RunRecord::begun("r2", CheckinKind::Recurring, Trigger::Schedule, at(10)), 1).unwrap();
        let deferral = |run_id: &str, choice: &str| Deferral {
            run_id: run_id.into(),
            item_id: "os".into(),
            at: at(9),
            user: "ada".into(),
            choice: choice.into(),
            reason: "chose Later".into(),
        };
        store.record_deferral(&deferral("r1", "later")).unwrap();
        store.record_deferral(&deferral("r1", "no_answer")).unwrap();
        store.record_deferral(&deferral("r2", "blocked")).unwrap();
        assert_eq!(store.deferrals_of_run("r1").unwrap(), [deferral("r1", "later"), deferral("r1", "no_answer")]);
        assert!(store.record_deferral(&deferral("none", "later")).is_err(), "a deferral belongs to a recorded run");
        store.connection.execute("DELETE FROM runs WHERE id = 'r1'", []).unwrap();
        assert_eq!(store.deferrals_of_run("r1").unwrap(), []);
        assert_eq!(store.deferrals_of_run("r2").unwrap().len(), 1);
    }
}
