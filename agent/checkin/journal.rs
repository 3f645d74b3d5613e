//! Writing one run's item results: each in the same commit as the next thing a
//! hard stop must not lose, made by the run's writer thread.
//!
//! A result waits in memory until the next write that cannot wait: the start of
//! an item that runs programs (so a `kill -9` shows it running and the next agent
//! closes it as interrupted), or the end of the run; or until
//! [`RESULTS_PER_WRITE`] wait, so a run of many items that start no program is
//! written while it goes on rather than all at its end. An item that runs a
//! program costs one commit for its start (with the result before it), and one
//! more if its program's process group is recorded (see `orphans`); 10,000
//! skipped items cost ten. The process groups that ended go into the next of
//! these commits ([`ItemGroupRecorder::write_later`]).
//!
//! The commits are made by the run's writer thread ([`crate::state::StoreWriter`]),
//! in order, while the check-in goes on: an item's start is handed over and its
//! script written and started at once; the run's end waits for everything. What a
//! hard stop can cost is what was handed over in the last fraction of a
//! millisecond before it, as with the process group of a program that had just
//! started: the item that had just finished is then closed as interrupted with
//! the run, and runs again at the next check-in.
//!
//! Nothing here stops the run: a write the store refuses (a full disk) is kept by
//! the writer and tried again with the next ones, so an item runs whether or not
//! its start was recorded, and [`RunJournal::write`] at the run's end says which
//! results the store never took.

use crate::orphans::ItemGroupRecorder;
use crate::state::{ItemRecord, RunRecord, Store, StoreError, Unwritten};

/// How many results may wait in memory before they are handed over in one write.
pub(super) const RESULTS_PER_WRITE: usize = 1000;

/// Which of one run's results were handed to the writer.
///
/// A run's results are made in order, parameters first, then the items; a
/// result's position in the store is its place in that order. Everything from
/// `handed_over` on is in memory only.
pub(super) struct RunJournal<'a> {
    /// Writes through the writer that records the run's process groups.
    store: &'a ItemGroupRecorder,
    handed_over: usize,
}

impl<'a> RunJournal<'a> {
    pub(super) fn new(store: &'a ItemGroupRecorder) -> Self {
        RunJournal { store, handed_over: 0 }
    }

    /// A result was added to `run`: hands over every result waiting, in one write,
    /// once [`RESULTS_PER_WRITE`] wait, and returns at once.
    pub(super) fn result_added(&mut self, run: &RunRecord) {
        if run.parameters.len() + run.items.len() - self.handed_over >= RESULTS_PER_WRITE {
            self.hand_over(run);
        }
    }

    /// Hands over every result of `run` not yet handed over, in one write, and
    /// returns at once.
    pub(super) fn hand_over(&mut self, run: &RunRecord) {
        let (results, write) = self.results_since(run, None);
        self.store.write_later(results, write);
    }

    /// Writes every result of `run` not yet in the store, in one transaction, after
    /// trying again what the store refused, and waits until everything handed over
    /// is in the store.
    ///
    /// # Errors
    ///
    /// The results the store has not taken: kept in memory, and tried again at the
    /// next write or wait, until the run's writer is dropped.
    pub(super) fn write(&mut self, run: &RunRecord) -> Result<(), Unwritten> {
        let (results, write) = self.results_since(run, None);
        self.store.write(results, write)
    }

    /// The next item of `run` is about to run programs: hands over its start, in
    /// one transaction with every result before it, and returns at once. The item
    /// runs whether or not the store takes it.
    pub(super) fn item_started(&mut self, run: &RunRecord, starting: &ItemRecord) {
        let (results, write) = self.results_since(run, Some(starting));
        self.store.write_later(results, write);
    }

    /// The `once` item `item` of run `run_id` succeeded: hands over remembering it
    /// (counted as a result should it be refused), and returns at once.
    pub(super) fn succeeded_once(&self, run_id: &str, item: &ItemRecord) {
        let (item_id, at, run_id) = (item.id.clone(), item.finished_at, run_id.to_string());
        self.store.write_later(1, move |store| store.mark_succeeded_once(&item_id, at, &run_id));
    }

    /// The write of the results not handed over yet (and of the start of the item
    /// `starting`, if any), with copies of what it writes, and how many results
    /// it carries.
    fn results_since(
        &mut self,
        run: &RunRecord,
        starting: Option<&ItemRecord>,
    ) -> (usize, impl FnMut(&Store) -> Result<(), StoreError> + Send + 'static) {
        let results = run.parameters.iter().chain(&run.items).enumerate().skip(self.handed_over);
        let waiting: Vec<(usize, ItemRecord)> = results.map(|(position, result)| (position, result.clone())).collect();
        self.handed_over += waiting.len();
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

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::plan::CheckinKind;
    use crate::state::{Drift, ItemStatus, RunOutcome, RunRecord, Store, Trigger};

    fn record(id: &str, status: ItemStatus) -> ItemRecord {
        let now = Utc::now();
        ItemRecord {
            id: id.into(),
            name: id.into(),
            item_type: "custom_script".into(),
            status,
            started_at: now,
            finished_at: now,
            duration_ms: 0,
            exit_code: None,
            message: String::new(),
            output: String::new(),
        }
    }

    /// A fresh store with run `run-1` begun, and the recorder a journal of it writes through.
    fn begun() -> (tempfile::TempDir, Store, RunRecord, ItemGroupRecorder) {
        let folder = tempfile::tempdir().unwrap();
        let store = Store::open(&folder.path().join("agent.sqlite3")).unwrap();
        let run = RunRecord::begun("run-1", CheckinKind::Recurring, Trigger::Cli, Utc::now());
        store.begin_run(&run, 1).unwrap();
        let recorder = ItemGroupRecorder::new(&folder.path().join("agent.sqlite3"), "run-1");
        (folder, store, run, recorder)
    }

    fn recorded(store: &Store) -> Vec<(String, ItemStatus)> {
        let run = store.run("run-1").unwrap().unwrap();
        run.items.into_iter().map(|item| (item.id, item.status)).collect()
    }

    #[test]
    fn decided_results_wait_for_the_next_write_that_cannot() {
        let (folder, store, mut run, recorder) = begun();
        let mut journal = RunJournal::new(&recorder);
        run.items.push(record("a", ItemStatus::Skipped));
        run.items.push(record("b", ItemStatus::Skipped));
        assert_eq!(recorded(&store), [], "nothing written yet");

        // A second connection, as `agent status` would read it, sees the skipped
        // items as soon as the next item starts its programs.
        journal.item_started(&run, &record("c", ItemStatus::NotRun));
        recorder.written().unwrap();
        let reader = Store::open(&folder.path().join("agent.sqlite3")).unwrap();
        let written: Vec<_> = reader.run("run-1").unwrap().unwrap().items.into_iter().map(|item| item.id).collect();
        assert_eq!(written, ["a", "b"], "the running item is not a result yet");

        run.items.push(record("c", ItemStatus::Succeeded));
        journal.write(&run).unwrap();
        run.items.push(record("d", ItemStatus::NotRun));
        assert_eq!(recorded(&store).len(), 3, "d waits");
        journal.write(&run).unwrap();
        journal.write(&run).unwrap();
        store.finish_run("run-1", Utc::now(), RunOutcome::Succeeded, &Drift::default()).unwrap();
        assert_eq!(
            recorded(&store),
            [
                ("a".into(), ItemStatus::Skipped),
                ("b".into(), ItemStatus::Skipped),
                ("c".into(), ItemStatus::Succeeded),
                ("d".into(), ItemStatus::NotRun),
            ]
        );
    }

    #[test]
    fn a_result_goes_into_the_commit_of_the_next_start() {
        let (_folder, store, mut run, recorder) = begun();
        let mut journal = RunJournal::new(&recorder);
        journal.item_started(&run, &record("a", ItemStatus::NotRun));
        recorder.written().unwrap();
        run.items.push(record("a", ItemStatus::Failed));
        assert_eq!(recorded(&store), [], "a is still shown running");
        journal.item_started(&run, &record("b", ItemStatus::NotRun));
        recorder.written().unwrap();
        assert_eq!(recorded(&store), [("a".into(), ItemStatus::Failed)]);
        // Nothing waiting, nothing ended: nothing to write.
        journal.write(&run).unwrap();
        assert_eq!(recorded(&store).len(), 1);
    }

    #[test]
    fn results_are_handed_over_once_enough_wait() {
        let (_folder, store, mut run, recorder) = begun();
        let mut journal = RunJournal::new(&recorder);
        for index in 0..RESULTS_PER_WRITE - 1 {
            run.items.push(record(&format!("i{index}"), ItemStatus::Skipped));
            journal.result_added(&run);
        }
        recorder.written().unwrap();
        assert_eq!(recorded(&store), [], "fewer than enough wait in memory");
        run.items.push(record("last", ItemStatus::Skipped));
        journal.result_added(&run);
        recorder.written().unwrap();
        assert_eq!(recorded(&store).len(), RESULTS_PER_WRITE);
        run.items.push(record("after", ItemStatus::Skipped));
        journal.result_added(&run);
        recorder.written().unwrap();
        assert_eq!(recorded(&store).len(), RESULTS_PER_WRITE, "the count starts again");
    }

    #[test]
    fn parameters_come_first_in_the_store() {
        let (_folder, store, mut run, recorder) = begun();
        let mut journal = RunJournal::new(&recorder);
        let mut parameter = record("p", ItemStatus::Succeeded);
        parameter.item_type = crate::state::PARAMETER_TYPE.into();
        run.parameters.push(parameter);
        journal.write(&run).unwrap();
        run.items.push(record("a", ItemStatus::Skipped));
        journal.write(&run).unwrap();
        let stored = store.run("run-1").unwrap().unwrap();
        assert_eq!(stored.parameters.len(), 1);
        assert_eq!(recorded(&store), [("a".into(), ItemStatus::Skipped)]);
    }

    #[test]
    fn a_hard_stop_keeps_every_result_written_before_a_program_started() {
        let (folder, store, mut run, recorder) = begun();
        let mut journal = RunJournal::new(&recorder);
        run.items.push(record("a", ItemStatus::Skipped));
        journal.item_started(&run, &record("b", ItemStatus::NotRun));
        recorder.written().unwrap();
        // The agent dies here: nothing more is written.
        drop(recorder);
        drop(store);
        let store = Store::open(&folder.path().join("agent.sqlite3")).unwrap();
        assert_eq!(store.mark_dangling_runs_interrupted(None).unwrap()[0].run_id, "run-1");
        assert_eq!(recorded(&store), [("a".into(), ItemStatus::Skipped), ("b".into(), ItemStatus::Failed)]);
    }
}
