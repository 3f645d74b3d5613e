//! A check-in reached its end: counted by kind and outcome, timed; its items
//! whose work waits on the person (deferred, waiting for the user) counted by
//! type; the items it found out of compliance and re-applied counted by kind.

use std::collections::BTreeMap;

use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;

use crate::state::{ItemStatus, RunRecord};
use crate::telemetry::pipeline;

/// The counter of check-ins.
pub(crate) const RUNS: &str = "agent.checkin.runs";
/// The histogram of check-in durations, in seconds.
pub(crate) const DURATION: &str = "agent.checkin.duration";
/// The counter of items that ended `deferred`, by `item.type`.
pub(crate) const DEFERRED: &str = "agent.checkin.deferred";
/// The counter of items that ended `waiting_for_user`, by `item.type`.
pub(crate) const WAITING_FOR_USER: &str = "agent.checkin.waiting_for_user";
/// The counter of items (and parameters) re-applied, by check-in `kind`.
pub(crate) const REAPPLIED: &str = "agent.checkin.reapplied";

/// Bucket bounds (seconds) of [`DURATION`]: check-ins take from seconds (all
/// compliant) to hours (an OS update), up to the 12-hour budget.
const DURATION_BOUNDS: [f64; 13] =
    [1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0, 43200.0];

/// A finished (or interrupted) run.
pub(crate) struct CheckinFinished<'a> {
    /// The run, with its outcome and end set.
    pub(crate) run: &'a RunRecord,
}

impl CheckinFinished<'_> {
    /// Logs the end of the run with how many of its items ended each way, and
    /// counts and times it.
    pub(crate) fn emit(self) {
        let run = self.run;
        let outcome = run.header.outcome.map_or("unknown", |outcome| outcome.as_str());
        let duration_ms = run.header.duration_ms().unwrap_or_default();
        let count = |status: ItemStatus| run.items.iter().filter(|item| item.status == status).count();
        tracing::info!(
            outcome,
            duration_ms,
            reapplied = run.drift.reapplied,
            succeeded = count(ItemStatus::Succeeded),
            failed = count(ItemStatus::Failed),
            timed_out = count(ItemStatus::TimedOut),
            skipped = count(ItemStatus::Skipped),
            not_run = count(ItemStatus::NotRun),
            deferred = count(ItemStatus::Deferred),
            waiting_for_user = count(ItemStatus::WaitingForUser),
            "Check-in finished."
        );
        let attributes = [KeyValue::new("kind", run.header.kind.as_str()), KeyValue::new("outcome", outcome)];
        pipeline::record_metrics(|meter| {
            let runs =
                meter.u64_counter(RUNS).with_unit("{run}").with_description("Check-ins run, by kind and outcome.");
            runs.build().add(1, &attributes);
            let seconds = meter
                .f64_histogram(DURATION)
                .with_unit("s")
                .with_description("How long check-ins took, from the lock taken to the last item.")
                .with_boundaries(DURATION_BOUNDS.to_vec());
            seconds.build().record(duration_ms as f64 / 1000.0, &attributes);
            let deferred = meter.u64_counter(DEFERRED).with_unit("{item}");
            let deferred = deferred.with_description(
                "Items whose disruptive work was put off (the person chose Later, or an app that must quit ran), by item.type.",
            );
            add_by_type(&deferred.build(), run, ItemStatus::Deferred);
            let waiting = meter.u64_counter(WAITING_FOR_USER).with_unit("{item}");
            let waiting = waiting.with_description("Items only the person at the Mac can finish, by item.type.");
            add_by_type(&waiting.build(), run, ItemStatus::WaitingForUser);
            let reapplied = meter
                .u64_counter(REAPPLIED)
                .with_unit("{item}")
                .with_description("Items and parameters found out of compliance and re-applied, by kind of check-in.");
            // Added even when 0, so the series exists from the first check-in on.
            let kind = [KeyValue::new("kind", run.header.kind.as_str())];
            reapplied.build().add(u64::from(run.drift.reapplied), &kind);
        });
    }
}

/// Adds to `counter` how many items of `run` ended `status`, one series per
/// item type that had any (few: the item types are a closed list).
fn add_by_type(counter: &Counter<u64>, run: &RunRecord, status: ItemStatus) {
    for (item_type, count) in count_by_type(run, status) {
        counter.add(count, &[KeyValue::new("item.type", item_type.to_string())]);
    }
}

/// How many items of `run` ended `status`, by item type; types without any are left out.
fn count_by_type(run: &RunRecord, status: ItemStatus) -> BTreeMap<&str, u64> {
    let mut by_type: BTreeMap<&str, u64> = BTreeMap::new();
    for item in run.items.iter().filter(|item| item.status == status) {
        *by_type.entry(item.item_type.as_str()).or_default() += 1;
    }
    by_type
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::plan::CheckinKind;
    use crate::state::{ItemRecord, Trigger};

    #[test]
    fn deferred_and_waiting_items_are_counted_by_type() {
        let item = |item_type: &str, status| ItemRecord {
            item_type: item_type.into(),
            ..ItemRecord::ended("li", status, Utc::now())
        };
        let mut run = RunRecord::begun("run-1", CheckinKind::Recurring, Trigger::Schedule, Utc::now());
        run.items = vec![
            item("custom_app", ItemStatus::Deferred),
            item("auto_app", ItemStatus::Deferred),
            item("custom_app", ItemStatus::Deferred),
            item("managed_os", ItemStatus::WaitingForUser),
            item("custom_script", ItemStatus::Succeeded),
        ];
        let deferred = count_by_type(&run, ItemStatus::Deferred);
        assert_eq!(deferred.into_iter().collect::<Vec<_>>(), [("auto_app", 1), ("custom_app", 2)]);
        let waiting = count_by_type(&run, ItemStatus::WaitingForUser);
        assert_eq!(waiting.into_iter().collect::<Vec<_>>(), [("managed_os", 1)]);
        assert!(count_by_type(&run, ItemStatus::TimedOut).is_empty(), "no series for what did not happen");
    }
}
