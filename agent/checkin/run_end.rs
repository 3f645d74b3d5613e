//! A run's end, in the store and in memory. When the store did not take all of
//! the run's results (a full disk, an I/O error: see `run_writer`) or does not
//! take its end, the record is incomplete, and the run says so: it cannot have
//! succeeded, and its message names what the store could not record.

use chrono::Utc;

use super::run_writer::Unwritten;
use crate::state::{RunOutcome, RunRecord, Store};
use crate::telemetry::events;

/// Ends `run` with `outcome`, in the store and in memory, with its items that
/// ended `deferred` or `waiting_for_user` counted into its drift. When the store did not
/// take all of its results (`unwritten`) or does not take its end, the record is
/// incomplete: a run that would have succeeded ends `failed`, and its message
/// says what the store could not record. The run in memory stays whole: it is
/// what is shown and reported to the tenant. A run whose end is not recorded is
/// closed as interrupted by the next check-in.
pub(super) fn finish(store: &Store, run: &mut RunRecord, outcome: RunOutcome, unwritten: Option<Unwritten>) {
    let finished_at = Utc::now();
    // What waits on the person is drift the run measured: counted before it is stored.
    run.drift.count_waiting(&run.items);
    let mut missing: Vec<String> = unwritten.iter().map(ToString::to_string).collect();
    let incomplete = |missing: &[String]| format!("{}; the record of this run is incomplete", missing.join("; "));
    let outcome = if missing.is_empty() { outcome } else { at_least_failed(outcome) };
    run.header.finished_at = Some(finished_at);
    run.header.outcome = Some(outcome);
    run.message = (!missing.is_empty()).then(|| incomplete(&missing));
    let ended = store.in_transaction(|| {
        store.finish_run(&run.header.id, finished_at, outcome, &run.drift)?;
        run.message.as_ref().map_or(Ok(()), |message| store.set_run_message(&run.header.id, message))
    });
    if let Err(error) = ended {
        let error = anyhow::Error::from(error);
        missing.push(format!("the state store could not record the end of this run: {error:#}"));
        run.header.outcome = Some(at_least_failed(outcome));
        run.message = Some(incomplete(&missing));
    }
    if let Some(message) = &run.message {
        tracing::error!(run_id = %run.header.id, message = %message, "The run's record is incomplete.");
    }
    events::CheckinFinished { run }.emit();
}

/// A run whose record is incomplete did not succeed: `failed`, unless it already
/// ended worse (timed out, interrupted), which says more.
fn at_least_failed(outcome: RunOutcome) -> RunOutcome {
    match outcome {
        RunOutcome::Succeeded => RunOutcome::Failed,
        worse => worse,
    }
}

/// Prunes the store to `state.max_size` after run `run_id` (see
/// `state::retention`); a failure is logged, never the check-in's.
pub(super) fn keep_store_within(store: &Store, max_size: u64, run_id: &str) {
    let pruning = match store.keep_within(max_size, run_id) {
        Ok(pruning) => pruning,
        Err(error) => {
            tracing::warn!(error = %error, "Cannot prune the state store to state.max_size.");
            return;
        }
    };
    if pruning.changed_anything() {
        tracing::info!(
            outputs_pruned = pruning.outputs_pruned,
            runs_deleted = pruning.runs_deleted,
            own_output_pruned = pruning.own_output_pruned,
            compacted = pruning.compacted,
            used_before = pruning.used_before,
            used_after = pruning.used_after,
            max_size,
            "Pruned the oldest runs to keep the state store within state.max_size."
        );
    }
    if pruning.data_after > max_size {
        tracing::warn!(
            used = pruning.data_after,
            max_size,
            "The state store is above state.max_size with nothing left to prune: it keeps the newest runs' rows and the reports waiting for the tenant."
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::CheckinKind;
    use crate::state::{Store, Trigger};

    fn finished(outcome: RunOutcome, unwritten: Option<Unwritten>) -> (RunRecord, Option<RunRecord>) {
        let (_folder, store) = Store::scratch();
        let mut run = RunRecord::begun("run-1", CheckinKind::Recurring, Trigger::Cli, Utc::now());
        store.begin_run(&run, 1).unwrap();
        finish(&store, &mut run, outcome, unwritten);
        let stored = store.run("run-1").unwrap();
        (run, stored)
    }

    #[test]
    fn a_run_with_results_the_store_did_not_take_ends_failed_and_says_so() {
        let unwritten = Unwritten { results: 3, error: "database or disk is full".into() };
        let (run, stored) = finished(RunOutcome::Succeeded, Some(unwritten));
        let message = "the state store could not record 3 results: database or disk is full; \
                       the record of this run is incomplete";
        assert_eq!((run.header.outcome, run.message.as_deref()), (Some(RunOutcome::Failed), Some(message)));
        let stored = stored.unwrap();
        assert_eq!((stored.header.outcome, stored.message.as_deref()), (Some(RunOutcome::Failed), Some(message)));
    }

    #[test]
    fn a_worse_outcome_stays_and_a_whole_record_has_no_message() {
        let unwritten = Unwritten { results: 1, error: "disk I/O error".into() };
        let (run, _) = finished(RunOutcome::TimedOut, Some(unwritten));
        assert_eq!(run.header.outcome, Some(RunOutcome::TimedOut));
        assert!(run.message.unwrap().contains("could not record 1 result: disk I/O error"));
        let (run, stored) = finished(RunOutcome::Succeeded, None);
        assert_eq!((run.header.outcome, run.message), (Some(RunOutcome::Succeeded), None));
        assert_eq!(stored.unwrap().message, None);
    }
}
