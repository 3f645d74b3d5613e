//! The process group of the program an item runs right now, recorded when the
//! program starts and removed when it is gone, so that after a `kill -9` of the
//! agent the next agent knows what was left running ([`crate::orphans`]).
//!
//! The leader's start time is kept with its pid: a pid the system handed to
//! another process since is not the group the item started.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::store::{Store, StoreError, time_text};

/// A process group an item started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordedGroup {
    /// The group's id, the pid of its leader (the program the item started).
    pub(crate) process_group: i32,
    /// The run whose item started it.
    pub(crate) run_id: String,
    /// When the leader started, in seconds since the Unix epoch, as the system
    /// reports it.
    pub(crate) leader_started_at: u64,
    /// The program, for the log.
    pub(crate) program: String,
}

impl Store {
    /// Records a group that just started (replacing an old record of the same id).
    pub(crate) fn record_process_group(&self, group: &RecordedGroup, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.execute_cached(
            "INSERT OR REPLACE INTO running_process_groups
                 (process_group, run_id, leader_started_at, program, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![group.process_group, group.run_id, group.leader_started_at as i64, group.program, time_text(now)],
        )
        .map(drop)
        .map_err(self.failed("cannot record a running process group"))
    }

    /// Forgets a group that is gone.
    pub(crate) fn forget_process_group(&self, process_group: i32) -> Result<(), StoreError> {
        self.execute_cached("DELETE FROM running_process_groups WHERE process_group = ?1", [process_group])
            .map(drop)
            .map_err(self.failed("cannot forget a process group"))
    }

    /// Every recorded group, oldest first.
    pub(crate) fn recorded_process_groups(&self) -> Result<Vec<RecordedGroup>, StoreError> {
        let failed = self.failed("cannot read the recorded process groups");
        let mut statement = self
            .connection
            .prepare(
                "SELECT process_group, run_id, leader_started_at, program FROM running_process_groups
                 ORDER BY recorded_at",
            )
            .map_err(&failed)?;
        let rows = statement
            .query_map([], |row| {
                Ok(RecordedGroup {
                    process_group: row.get(0)?,
                    run_id: row.get(1)?,
                    leader_started_at: row.get::<_, i64>(2)?.max(0) as u64,
                    program: row.get(3)?,
                })
            })
            .map_err(&failed)?;
        rows.collect::<Result<_, _>>().map_err(failed)
    }
}
