//! What the store keeps: at most `state.max_size` bytes, and at most
//! [`MAX_STORED_OUTPUT`] bytes of one item's output.
//!
//! After each run ([`Store::keep_within`]) the store measures the data it holds:
//! its pages in use (`page_count − freelist_count` pages). When that, plus room
//! for a next run that adds as much as the last one did (what the data grew by
//! since the last pruning; at least a tenth of the budget), passes 80 % of the
//! budget, it prunes, oldest run first (in the order runs were recorded), until
//! it fits:
//!
//! 1. the item output of the oldest runs is replaced by [`PRUNED_OUTPUT`]; their
//!    rows (status, message, times) stay;
//! 2. then the oldest runs are deleted whole, except the newest run of each kind
//!    and the newest completed daily check-in, which the schedule and `agent
//!    status` count from;
//! 3. last, the run just ended loses its output (its rows stay): a run whose
//!    results alone leave no room for the next one.
//!
//! Runs not yet ended are never touched (the next start closes them as
//! interrupted from their rows), nor is the spool: a report waits there until the
//! tenant has it, whatever its size.
//!
//! The other 20 % is for what a run holds only while it runs: its saved plan
//! (about 12 MiB for 100,000 items), and the write-ahead log, which SQLite copies
//! into the file every 1,000 pages (4 MiB) and the agent deletes when it closes
//! the store. Pruning commits every [`RESULTS_PER_COMMIT`] results, so it never
//! grows the log past that; a log past a tenth of the budget after a run is
//! emptied at once.
//!
//! Freed pages go to SQLite's free list and are reused by the next runs, so the
//! file stops growing once pruning keeps pace; it only shrinks through a
//! `VACUUM`, run when the file is above the budget with a quarter or more of
//! it free (a store from an agent without a budget, a budget lowered, a
//! run larger than the room kept for it). That copy needs, for a moment, free
//! disk for about twice the data kept.

use std::borrow::Cow;

use rusqlite::{OptionalExtension, params};

use super::schedule_marks::COMPLETED_DAILY;
use super::store::{Store, StoreError};

/// The most bytes of one item's output the store keeps; past it, its head and
/// tail (half each) around a line naming how much was left out. Above the
/// largest transcript of a custom script (three programs, 128 KiB kept of each),
/// so it only cuts the long transcripts of installers and parameter summaries.
pub const MAX_STORED_OUTPUT: usize = 512 * 1024;

/// What a pruned item's output reads instead (when it was longer than this).
pub const PRUNED_OUTPUT: &str = "[output pruned to keep the store within state.max_size]";

/// The store is brought under this many tenths of the budget, room for the next
/// run included; the rest is for the saved plan of the run in progress, the
/// write-ahead log and its index.
const GOAL_TENTHS: u64 = 8;

/// Results pruned or deleted per commit, so the write-ahead log (where a commit's
/// pages wait for the next checkpoint) stays a few MiB whatever a run's size.
const RESULTS_PER_COMMIT: i64 = 10_000;

/// The least room kept for the next run, in tenths of the budget.
const LEAST_ROOM_TENTHS: u64 = 1;

/// Bytes an item result takes besides its texts (run id, times, status, the
/// record's header, its share of the page), to judge a run's size from its
/// texts when the store's growth since the last pruning is not known.
const ROW_OVERHEAD: u64 = 192;

/// The `device` key holding the bytes of data the store held after the last
/// pruning: what it holds now less that is what the last run added.
const DATA_AFTER_PRUNING_KEY: &str = "store_data_after_pruning";

/// The `device` key holding the newest run (by rowid) whose output was pruned:
/// every older run's output is too, so the next pruning starts after it.
const OUTPUT_PRUNED_THROUGH_KEY: &str = "output_pruned_through_run";

/// The size of the store's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSize {
    /// Bytes of the database's pages in use.
    pub data: u64,
    /// Bytes of the database's free pages, reused before the file grows.
    pub free: u64,
    /// Bytes of the write-ahead log file.
    pub journal: u64,
}

impl StoreSize {
    /// What the store holds now: its pages in use and the write-ahead log.
    pub fn used(&self) -> u64 {
        self.data + self.journal
    }

    /// The database's pages, in use and free, and the write-ahead log: what the
    /// files take once the log is copied into the database.
    pub fn on_disk(&self) -> u64 {
        self.data + self.free + self.journal
    }
}

/// What one [`Store::keep_within`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruning {
    /// Runs whose item output was pruned.
    pub outputs_pruned: u32,
    /// Runs deleted whole.
    pub runs_deleted: u32,
    /// The run just ended lost its output too.
    pub own_output_pruned: bool,
    /// The database file was rewritten to give its free pages back (`VACUUM`).
    pub compacted: bool,
    /// Bytes used (pages in use and the write-ahead log) before.
    pub used_before: u64,
    /// Bytes used after.
    pub used_after: u64,
    /// Bytes of pages in use after: above the budget, what is never pruned
    /// (see the module's doc) takes more than it.
    pub data_after: u64,
}

impl Pruning {
    /// Whether anything was pruned or compacted.
    pub fn changed_anything(&self) -> bool {
        self.outputs_pruned > 0 || self.runs_deleted > 0 || self.own_output_pruned || self.compacted
    }
}

impl Store {
    /// The size of the store's files, as this connection sees the database.
    pub fn size(&self) -> Result<StoreSize, StoreError> {
        let failed = self.failed("cannot measure the store");
        let pragma = |name: &str| -> Result<u64, StoreError> {
            self.connection
                .query_row(&format!("PRAGMA {name}"), [], |row| row.get::<_, i64>(0))
                .map_err(&failed)
                .map(|value| value.max(0) as u64)
        };
        let (pages, free_pages, page_size) = (pragma("page_count")?, pragma("freelist_count")?, pragma("page_size")?);
        let mut journal = self.path.as_os_str().to_owned();
        journal.push("-wal");
        let journal = std::fs::metadata(journal).map(|metadata| metadata.len()).unwrap_or(0);
        Ok(StoreSize { data: pages.saturating_sub(free_pages) * page_size, free: free_pages * page_size, journal })
    }

    /// Prunes the oldest runs' output, then the oldest runs, until the store fits
    /// in `max_size` with room for a run like `just_ended` (see the module's
    /// doc); then gives free pages back when the file is still above it.
    /// Cheap when there is room: a few pragmas, a `stat` and one small write.
    pub fn keep_within(&self, max_size: u64, just_ended: &str) -> Result<Pruning, StoreError> {
        let start = self.size()?;
        let goal = max_size / 10 * GOAL_TENTHS;
        let room = self.room_for_next_run(start.data, just_ended)?.max(max_size / 10 * LEAST_ROOM_TENTHS);
        let fits = |size: StoreSize| size.data + room <= goal;
        let mut pruning = Pruning { used_before: start.used(), used_after: start.used(), ..Pruning::default() };
        if !fits(start) {
            for run_id in self.runs_with_output(just_ended)? {
                if fits(self.size()?) {
                    break;
                }
                self.prune_output(&run_id)?;
                pruning.outputs_pruned += 1;
            }
            for run_id in self.deletable_runs(just_ended)? {
                if fits(self.size()?) {
                    break;
                }
                self.delete_run(&run_id)?;
                pruning.runs_deleted += 1;
            }
            if !fits(self.size()?) {
                self.prune_output(just_ended)?;
                pruning.own_output_pruned = true;
            }
        }
        pruning.compacted = self.give_back_free_pages(max_size)?;
        let end = self.size()?;
        self.remember_data_size(end.data)?;
        (pruning.used_after, pruning.data_after) = (end.used(), end.data);
        Ok(pruning)
    }

    /// How much the next run may add: what the store grew by since the last
    /// pruning (this run's results, and whatever else the check-in kept), or,
    /// when that is not known, roughly what `just_ended`'s results take.
    fn room_for_next_run(&self, data: u64, just_ended: &str) -> Result<u64, StoreError> {
        let remembered: Option<String> = self
            .connection
            .query_row("SELECT value FROM device WHERE key = ?1", [DATA_AFTER_PRUNING_KEY], |row| row.get(0))
            .optional()
            .map_err(self.failed("cannot read the store's size after the last pruning"))?;
        match remembered.and_then(|text| text.parse::<u64>().ok()) {
            Some(before) => Ok(data.saturating_sub(before)),
            None => Ok(self.run_size(just_ended)?.min(data)),
        }
    }

    /// Remembers the bytes of data the store holds after a pruning, to see what
    /// the next run adds.
    fn remember_data_size(&self, data: u64) -> Result<(), StoreError> {
        self.connection
            .execute(
                "INSERT OR REPLACE INTO device (key, value) VALUES (?1, ?2)",
                params![DATA_AFTER_PRUNING_KEY, data.to_string()],
            )
            .map(drop)
            .map_err(self.failed("cannot remember the store's size"))
    }

    /// Roughly the bytes run `run_id`'s results take.
    fn run_size(&self, run_id: &str) -> Result<u64, StoreError> {
        let (rows, text): (i64, i64) = self
            .connection
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(length(CAST(output AS BLOB)) + length(CAST(message AS BLOB))
                        + length(CAST(name AS BLOB)) + length(CAST(item_id AS BLOB))), 0)
                 FROM item_results WHERE run_id = ?1",
                [run_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(self.failed("cannot measure a run"))?;
        Ok(text.max(0) as u64 + rows.max(0) as u64 * ROW_OVERHEAD)
    }

    /// The ended runs, oldest first, whose output may still be whole (after the
    /// last one pruned), except `just_ended`.
    fn runs_with_output(&self, just_ended: &str) -> Result<Vec<String>, StoreError> {
        self.run_ids(
            "SELECT id FROM runs WHERE outcome IS NOT NULL AND id != ?1
               AND rowid > COALESCE((SELECT CAST(value AS INTEGER) FROM device WHERE key = ?2), 0)
             ORDER BY rowid",
            params![just_ended, OUTPUT_PRUNED_THROUGH_KEY],
        )
    }

    /// The ended runs that may be deleted, oldest first: all but `just_ended`, the
    /// newest of each kind and the newest completed daily check-in.
    fn deletable_runs(&self, just_ended: &str) -> Result<Vec<String>, StoreError> {
        let query = format!(
            "SELECT id FROM runs WHERE outcome IS NOT NULL AND id != ?1
               AND rowid NOT IN (SELECT MAX(rowid) FROM runs GROUP BY kind)
               AND rowid NOT IN (SELECT MAX(rowid) FROM runs WHERE {COMPLETED_DAILY})
             ORDER BY rowid"
        );
        self.run_ids(&query, params![just_ended])
    }

    fn run_ids(&self, query: &str, parameters: impl rusqlite::Params) -> Result<Vec<String>, StoreError> {
        let failed = self.failed("cannot list the runs to prune");
        let mut statement = self.connection.prepare(query).map_err(&failed)?;
        let ids = statement.query_map(parameters, |row| row.get(0)).and_then(Iterator::collect).map_err(&failed)?;
        Ok(ids)
    }

    /// Replaces the output of run `run_id`'s items by [`PRUNED_OUTPUT`] (where
    /// longer), [`RESULTS_PER_COMMIT`] results a commit, and notes it as the newest
    /// run pruned so far. Cut short, it is done again whole next time.
    fn prune_output(&self, run_id: &str) -> Result<(), StoreError> {
        let failed = self.failed("cannot prune a run's output");
        for first in self.result_chunks(run_id)? {
            self.connection
                .execute(
                    "UPDATE item_results SET output = ?2
                     WHERE run_id = ?1 AND position >= ?3 AND position < ?3 + ?4 AND length(output) > length(?2)",
                    params![run_id, PRUNED_OUTPUT, first, RESULTS_PER_COMMIT],
                )
                .map_err(&failed)?;
        }
        self.connection
            .execute(
                "INSERT INTO device (key, value) SELECT ?1, CAST(rowid AS TEXT) FROM runs WHERE id = ?2
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value
                 WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)",
                params![OUTPUT_PRUNED_THROUGH_KEY, run_id],
            )
            .map(drop)
            .map_err(&failed)
    }

    /// Deletes run `run_id` with its item results, [`RESULTS_PER_COMMIT`] results a
    /// commit, the run's row last. Cut short, the run is left with fewer results
    /// until the next pruning deletes it.
    fn delete_run(&self, run_id: &str) -> Result<(), StoreError> {
        let failed = self.failed("cannot delete an old run");
        for first in self.result_chunks(run_id)?.into_iter().rev() {
            self.connection
                .execute("DELETE FROM item_results WHERE run_id = ?1 AND position >= ?2", params![run_id, first])
                .map_err(&failed)?;
        }
        self.connection.execute("DELETE FROM runs WHERE id = ?1", [run_id]).map(drop).map_err(&failed)
    }

    /// The first position of each [`RESULTS_PER_COMMIT`] of run `run_id`'s results.
    fn result_chunks(&self, run_id: &str) -> Result<Vec<i64>, StoreError> {
        let last: Option<i64> = self
            .connection
            .query_row("SELECT MAX(position) FROM item_results WHERE run_id = ?1", [run_id], |row| row.get(0))
            .map_err(self.failed("cannot read a run's results"))?;
        Ok((0..=last.unwrap_or(-1)).step_by(RESULTS_PER_COMMIT as usize).collect())
    }

    /// Rewrites the database file (`VACUUM`) when it is above `max_size` and a
    /// quarter or more of it is free pages, then empties the
    /// write-ahead log; empties it also when it alone is past a tenth of the
    /// budget. Returns whether the file was rewritten.
    fn give_back_free_pages(&self, max_size: u64) -> Result<bool, StoreError> {
        let size = self.size()?;
        let file = size.data + size.free;
        let compact = file > max_size && size.free >= file / 4;
        if compact {
            self.connection.execute_batch("VACUUM").map_err(self.failed("cannot compact the store"))?;
        }
        if compact || size.journal > max_size / 10 {
            self.connection
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(self.failed("cannot empty the write-ahead log"))?;
        }
        Ok(compact)
    }
}

/// `output` as the store keeps it: whole up to [`MAX_STORED_OUTPUT`] bytes, else
/// its head and tail around a line naming the bytes left out.
pub(super) fn stored_output(output: &str) -> Cow<'_, str> {
    if output.len() <= MAX_STORED_OUTPUT {
        return Cow::Borrowed(output);
    }
    let half = MAX_STORED_OUTPUT / 2;
    let head_end = (0..=half).rev().find(|&index| output.is_char_boundary(index)).unwrap_or(0);
    let tail_start =
        (output.len() - half..output.len()).find(|&index| output.is_char_boundary(index)).unwrap_or(output.len());
    let left_out = tail_start - head_end;
    Cow::Owned(format!(
        "{}\n[… {left_out} bytes omitted by the store …]\n{}",
        &output[..head_end],
        &output[tail_start..]
    ))
}

#[cfg(test)]
mod tests;
