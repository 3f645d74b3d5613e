//! Recording one run in the state store: its start, its item results, the start
//! of each item that runs programs and those programs' process groups, each in
//! the same commit as the next thing a hard stop must not lose, written in the
//! order they happen by a writer thread of the run's own ([`RunWriter`]).
//!
//! A result waits in memory until the next write that cannot wait: the start of
//! an item that runs programs (so a `kill -9` shows it running and the next agent
//! closes it as interrupted), or the end of the run; or until
//! [`RESULTS_PER_WRITE`] wait, so a run of many items that start no program is
//! written while it goes on rather than all at its end. An item that runs a
//! program costs one commit for its start (with the result before it), and one
//! more if its program's process group is recorded; 10,000 skipped items cost
//! ten.
//!
//! While an item's program runs, its process group is kept in the store (the
//! leader's pid and start time) from when the process module reports it (once
//! the program has run for a moment, or is to be stopped), so that after a hard
//! stop the next agent stops what it left running ([`crate::orphans`]). That a
//! group ended is written with the run's next results, in their transaction:
//! until then a hard stop leaves the record of a group that is gone, which the
//! next agent recognizes (its leader no longer exists with the recorded start
//! time) and forgets.
//!
//! The commits are made by the writer thread ([`thread`]), in order, while the
//! check-in goes on: an item's start is handed over and its script written and
//! started at once; the run's end waits for everything, awaiting the thread's
//! answer rather than blocking a runtime thread. What a hard stop can cost is
//! what was handed over in the last fraction of a millisecond before it, as with
//! the process group of a program that had just started: the item that had just
//! finished is then closed as interrupted with the run, and runs again at the
//! next check-in.
//!
//! Nothing here stops the run: a write the store refuses (a full disk) is kept by
//! the writer and tried again with the next ones, so an item runs whether or not
//! its start was recorded, and [`RunWriter::write`] at the run's end says which
//! results the store never took. What is kept is one run's writes (the writer
//! lives as long as the run), each a copy of results the run holds in memory
//! anyway (each result once, plus a small record per item start): at most about
//! twice the run's own results, an item's output being at most 128 KiB
//! (`process`'s capture limits). Whatever is still kept when the writer is
//! dropped is lost; the run's end says so (`run_end`).

#[cfg(test)]
mod tests;
mod thread;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::unistd::Pid;

use crate::orphans::process_start_time;
use crate::plan::Plan;
use crate::process::GroupWatcher;
use crate::state::{ItemRecord, RecordedGroup, RunRecord, Store, StoreError};
pub(crate) use thread::Unwritten;
use thread::WriterThread;

/// How many results may wait in memory before they are handed over in one write.
pub(super) const RESULTS_PER_WRITE: usize = 1000;

/// Records one run: hands its writes to the run's writer thread in order, and
/// hears from the process module when its items' process groups start and end.
///
/// A run's results are made in order, parameters first, then the items; a
/// result's position in the store is its place in that order. Everything from
/// `handed_over` on is in memory only.
pub(super) struct RunWriter {
    run_id: String,
    thread: WriterThread,
    /// How many of the run's results were handed to the thread. Only the task
    /// running the check-in moves it; an atomic because the process module
    /// shares the writer (as its [`GroupWatcher`]).
    handed_over: AtomicUsize,
}

impl RunWriter {
    /// A writer for run `run_id`, writing to the store at `store_file`.
    pub(super) fn start(store_file: &Path, run_id: &str) -> Self {
        RunWriter {
            run_id: run_id.to_string(),
            thread: WriterThread::start(store_file),
            handed_over: AtomicUsize::new(0),
        }
    }

    /// Records the start of `run` with its plan, so a run cut short still lists
    /// every item and is reported (`reports`: to the tenant). Should the store
    /// refuse it (a full disk), the run goes on: its start is handed over, ahead
    /// of every result, and written with them once there is room.
    pub(super) fn begin(&self, store: &Store, run: &RunRecord, plan: &Plan, reports: bool) {
        let pid = std::process::id();
        let record = move |store: &Store, run: &RunRecord, plan: &Plan| {
            store.in_transaction(|| {
                store.begin_run(run, pid)?;
                store.save_run_plan(&run.header.id, plan, reports)
            })
        };
        if let Err(error) = record(store, run, plan) {
            let error = anyhow::Error::from(error);
            tracing::error!(error = %format!("{error:#}"), "Cannot record the start of the run; enforcing all the same, the start is written with its results once there is room.");
            let (run, plan) = (run.clone(), plan.clone());
            self.thread.write_later(0, move |store| record(store, &run, &plan));
        }
    }

    /// A result was added to `run`: hands over every result waiting, in one write,
    /// once [`RESULTS_PER_WRITE`] wait, and returns at once.
    pub(super) fn result_added(&self, run: &RunRecord) {
        let made = run.parameters.len() + run.items.len();
        if made - self.handed_over.load(Ordering::Relaxed) >= RESULTS_PER_WRITE {
            self.hand_over(run);
        }
    }

    /// Hands over every result of `run` not yet handed over, in one write, and
    /// returns at once.
    pub(super) fn hand_over(&self, run: &RunRecord) {
        let (results, write) = self.results_since(run, None);
        self.thread.write_later(results, write);
    }

    /// The next item of `run` is about to run programs: hands over its start, in
    /// one transaction with every result before it, and returns at once. The item
    /// runs whether or not the store takes it.
    pub(super) fn item_started(&self, run: &RunRecord, starting: &ItemRecord) {
        let (results, write) = self.results_since(run, Some(starting));
        self.thread.write_later(results, write);
    }

    /// The `once` item `item` succeeded: hands over remembering it (counted as a
    /// result should it be refused), and returns at once.
    pub(super) fn succeeded_once(&self, item: &ItemRecord) {
        let (item_id, at, run_id) = (item.id.clone(), item.finished_at, self.run_id.clone());
        self.thread.write_later(1, move |store| store.mark_succeeded_once(&item_id, at, &run_id));
    }

    /// Writes every result of `run` not yet in the store, in one transaction, after
    /// trying again what the store refused, and waits until everything handed over
    /// is in the store.
    ///
    /// # Errors
    ///
    /// The results the store has not taken: kept in memory, and tried again at the
    /// next write or wait, until the writer is dropped.
    pub(super) async fn write(&self, run: &RunRecord) -> Result<(), Unwritten> {
        self.hand_over(run);
        self.written().await
    }

    /// Tries again what the store refused, then waits until everything handed
    /// over is in the store.
    ///
    /// # Errors
    ///
    /// The results the store has not taken (kept in memory while this lives).
    pub(super) async fn written(&self) -> Result<(), Unwritten> {
        self.thread.written().await
    }

    /// The write of the results not handed over yet (and of the start of the item
    /// `starting`, if any), with copies of what it writes, and how many results
    /// it carries.
    fn results_since(
        &self,
        run: &RunRecord,
        starting: Option<&ItemRecord>,
    ) -> (usize, impl FnMut(&Store) -> Result<(), StoreError> + Send + 'static) {
        let handed_over = self.handed_over.load(Ordering::Relaxed);
        let results = run.parameters.iter().chain(&run.items).enumerate().skip(handed_over);
        let waiting: Vec<(usize, ItemRecord)> = results.map(|(position, result)| (position, result.clone())).collect();
        self.handed_over.store(handed_over + waiting.len(), Ordering::Relaxed);
        let waiting_count = waiting.len();
        let start = starting.map(|starting| (run.parameters.len() + run.items.len(), starting.clone()));
        let run_id = run.header.id.clone();
        let write = move |store: &Store| {
            if !waiting.is_empty() {
                let results: Vec<(usize, &ItemRecord)> =
                    waiting.iter().map(|(position, result)| (*position, result)).collect();
                store.items_finished(&run_id, &results)?;
            }
            start.as_ref().map_or(Ok(()), |(position, starting)| store.item_started(&run_id, *position, starting))
        };
        (waiting_count, write)
    }
}

impl GroupWatcher for RunWriter {
    fn started(&self, group: Pid, program: &Path) {
        let Some(leader_started_at) = process_start_time(group) else {
            // Nothing to record; a group of the same pid that ended earlier in
            // the run is forgotten all the same.
            tracing::debug!(process_group = group.as_raw(), "The item's program ended before it could be recorded.");
            return;
        };
        // Not waited for: the program already runs.
        self.thread.group_started(RecordedGroup {
            process_group: group.as_raw(),
            run_id: self.run_id.clone(),
            leader_started_at,
            program: program.display().to_string(),
        });
    }

    fn ended(&self, group: Pid) {
        self.thread.group_ended(group.as_raw());
    }
}
