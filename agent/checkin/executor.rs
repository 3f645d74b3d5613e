//! Running a check-in's plan: the blueprint's parameters, then its items in
//! order, each under the earlier of its own timeout and the run's budget; what
//! each ended as, and what that makes the run.

use std::ffi::OsString;

use chrono::{DateTime, Utc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::ProgressEvent;
use super::run_writer::RunWriter;
use crate::blueprint::{LibraryItem, Parameters};
use crate::config::AgentConfig;
use crate::items::{self, ItemContext, ItemReport, RunFolder};
use crate::parameters::{self, ParameterContext};
use crate::paths::AgentPaths;
use crate::plan::{CheckinKind, Decision, Plan, PlannedItem};
use crate::state::{ItemRecord, ItemStatus, PARAMETER_TYPE, RunOutcome, RunRecord, Store};
use crate::telemetry::events;

/// Runs one plan: the blueprint's parameters, then its items.
pub(super) struct Executor<'a> {
    pub(super) paths: &'a AgentPaths,
    pub(super) config: &'a AgentConfig,
    pub(super) store: &'a Store,
    /// Records the run's results, item starts and process groups.
    pub(super) writer: std::sync::Arc<RunWriter>,
    pub(super) cancel: &'a CancellationToken,
    /// The run's private folder: made at its first item that runs.
    pub(super) run_folder: RunFolder,
}

impl Executor<'_> {
    /// Enforces the blueprint's parameters and records each like an item, ahead
    /// of the library items; what they re-applied counts as drift.
    pub(super) async fn enforce_parameters(
        &self,
        parameters: &Parameters,
        kind: CheckinKind,
        budget_deadline: Instant,
        run: &mut RunRecord,
        progress: &mut dyn FnMut(ProgressEvent),
    ) {
        let context = ParameterContext { paths: self.paths, kind, deadline: budget_deadline, cancel: self.cancel };
        for enforced in parameters::enforce(parameters, &context).await {
            let parameter = enforced.report;
            let elapsed = chrono::Duration::from_std(enforced.duration).unwrap_or_default();
            let record = ItemRecord {
                id: parameter.id,
                name: parameter.name,
                item_type: PARAMETER_TYPE.to_string(),
                status: parameter.report.status,
                started_at: enforced.started_at,
                finished_at: enforced.started_at + elapsed,
                duration_ms: enforced.duration.as_millis() as u64,
                exit_code: parameter.report.exit_code,
                message: parameter.report.message,
                output: parameter.report.output,
            };
            events::ItemFinished { run_id: &run.header.id, record: &record }.emit();
            progress(ProgressEvent::ParameterFinished { record: record.clone() });
            run.drift.reapplied += parameter.reapplied;
            run.parameters.push(record);
        }
        // Their results arrived together, so they are written together.
        self.writer.hand_over(run);
    }

    /// Runs every planned item in order and says how the run ended.
    pub(super) async fn execute(
        &self,
        plan: &Plan,
        run: &mut RunRecord,
        budget_deadline: Instant,
        progress: &mut dyn FnMut(ProgressEvent),
    ) -> RunOutcome {
        let budget = self.config.timeouts.run;
        let total = plan.items.len();
        let first_position = run.parameters.len();
        let mut budget_spent = false;
        let mut interrupted = false;
        let mut reapplied = run.drift.reapplied;
        for (position, planned) in plan.items.iter().enumerate() {
            let record: ItemRecord = match &planned.decision {
                Decision::Skip { reason } => not_running(planned, ItemStatus::Skipped, reason),
                Decision::Run { .. } if interrupted => {
                    not_running(planned, ItemStatus::NotRun, "the agent stopped before this item")
                }
                Decision::Run { .. } if budget_spent || Instant::now() >= budget_deadline => {
                    budget_spent = true;
                    let reason =
                        format!("the run's {} budget ran out before this item", humantime::format_duration(budget));
                    not_running(planned, ItemStatus::NotRun, &reason)
                }
                Decision::Run { timeout } => {
                    let (item_type, name) = (planned.item.item_type().to_string(), planned.item.name.clone());
                    progress(ProgressEvent::ItemStarted { position, total, item_type, name });
                    let next = plan.items.iter().enumerate().skip(position + 1).find_map(|(next, planned)| {
                        matches!(planned.decision, Decision::Run { .. })
                            .then_some((first_position + next, &planned.item))
                    });
                    let turn = Turn { position: first_position + position, planned, timeout: *timeout, next };
                    let ran = self.run_item(run, &turn, budget_deadline, progress).await;
                    budget_spent |= ran.stopped_by_budget;
                    reapplied += u32::from(ran.reapplied);
                    interrupted |= self.cancel.is_cancelled();
                    ran.record
                }
            };
            // Written with the next item's start, the run's end, or a batch (see `run_writer`).
            run.items.push(record);
            self.writer.result_added(run);
            let record = &run.items[run.items.len() - 1];
            events::ItemFinished { run_id: &run.header.id, record }.emit();
            progress(ProgressEvent::ItemFinished { position, total, record: record.clone() });
            if record.status == ItemStatus::Succeeded && planned.item.frequency == crate::blueprint::Frequency::Once {
                self.writer.succeeded_once(record);
            }
        }
        run.drift.reapplied = reapplied;
        // The items' scripts and folders go with the run's folder, once, at its end.
        self.run_folder.remove();
        run_outcome(run.parameters.iter().chain(&run.items), budget_spent, interrupted)
    }

    /// Runs one item under the earlier of its timeout and the budget; says whether
    /// the budget is what stopped it.
    async fn run_item(
        &self,
        run: &RunRecord,
        turn: &Turn<'_>,
        budget_deadline: Instant,
        progress: &mut dyn FnMut(ProgressEvent),
    ) -> RanItem {
        let item = &turn.planned.item;
        let started_at = Utc::now();
        let clock = Instant::now();
        let own_deadline = turn.timeout.map(|timeout| crate::process::deadline_after(clock, timeout));
        let deadline = own_deadline.map_or(budget_deadline, |own| own.min(budget_deadline));
        let starting = item_record(item, ItemStatus::NotRun, started_at, String::new());
        // The item runs whether or not the store takes its start (see `run_writer`).
        self.writer.item_started(run, &starting);
        tracing::info!(item_id = %item.id, item_name = %item.name, item_type = %item.item_type(), "Item started.");
        // The run's private folder holds what its items write (scripts, a disk
        // image's mount point); an item's own folder is made only if it needs one.
        let report = match self.run_folder.make() {
            Ok(()) => self.run_in_folder(run, turn, deadline, progress).await,
            Err(error) => ItemReport::failed(format!("cannot prepare the item's folder: {error}")),
        };
        let by_budget = report.status == ItemStatus::TimedOut && own_deadline.is_none_or(|own| budget_deadline <= own);
        let message = timeout_message(&report, by_budget, turn.timeout, self.config.timeouts.run);
        let mut record = item_record(item, report.status, started_at, message);
        record.finished_at = Utc::now();
        record.duration_ms = clock.elapsed().as_millis() as u64;
        record.exit_code = report.exit_code;
        record.output = report.output;
        RanItem { record, stopped_by_budget: by_budget, reapplied: report.reapplied }
    }

    /// Runs the item of `turn` until `deadline`, in the run's folder, with its
    /// process groups recorded. While its program runs, the scripts that ran
    /// before are deleted and the next item to run is prepared.
    async fn run_in_folder(
        &self,
        run: &RunRecord,
        turn: &Turn<'_>,
        deadline: Instant,
        progress: &mut dyn FnMut(ProgressEvent),
    ) -> ItemReport {
        let item = &turn.planned.item;
        let work_dir = self.run_folder.item_path(turn.position);
        let mut on_phase = |phase: &str| progress(ProgressEvent::ItemPhase { phase: phase.to_string() });
        let mut context = ItemContext {
            item_id: &item.id,
            item_name: &item.name,
            run_id: &run.header.id,
            requested_by: run.header.requested_by.as_deref().filter(|_| run.header.kind == CheckinKind::SelfService),
            config: self.config,
            paths: self.paths,
            store: self.store,
            now: run.header.started_at,
            work_dir: &work_dir,
            run_folder: &self.run_folder,
            root: &self.paths.root,
            deadline,
            termination_grace: self.config.timeouts.termination_grace,
            cancel: self.cancel,
            environment: item_environment(run, item),
            on_phase: &mut on_phase,
        };
        // Every line a handler logs carries the item, so `agent logs --item NAME` finds it.
        let span = tracing::info_span!("item", item_id = %item.id, item_name = %item.name);
        let item_run = crate::process::watching(self.writer.clone(), items::run(item, &mut context).instrument(span));
        // Polled once the item waits, which for most is once its program has
        // started: the file work then runs beside the program, not between two.
        let meanwhile = async {
            self.run_folder.tidy();
            if let Some((position, next)) = turn.next {
                items::prepare(next, &self.run_folder.item_path(position), &self.run_folder);
            }
        };
        tokio::join!(biased; item_run, meanwhile).0
    }
}

/// One item's turn in the run.
struct Turn<'plan> {
    /// Where the item stands among the run's results (after the parameters).
    position: usize,
    planned: &'plan PlannedItem,
    /// Its own timeout, if its type has one.
    timeout: Option<std::time::Duration>,
    /// The item to run after it, and where it will stand.
    next: Option<(usize, &'plan LibraryItem)>,
}

/// An item that ran, and what its run means for the whole check-in.
struct RanItem {
    record: ItemRecord,
    stopped_by_budget: bool,
    reapplied: bool,
}

/// Says which limit stopped a timed-out item.
fn timeout_message(
    report: &ItemReport,
    by_budget: bool,
    timeout: Option<std::time::Duration>,
    budget: std::time::Duration,
) -> String {
    match (report.status, by_budget, timeout) {
        (ItemStatus::TimedOut, true, _) => {
            format!("the run's {} budget ran out: {}", humantime::format_duration(budget), report.message)
        }
        (ItemStatus::TimedOut, false, Some(timeout)) => {
            format!("exceeded its {} timeout: {}", humantime::format_duration(timeout), report.message)
        }
        _ => report.message.clone(),
    }
}

/// The variables every program of an item sees, besides the agent's own environment.
fn item_environment(run: &RunRecord, item: &LibraryItem) -> Vec<(OsString, OsString)> {
    [
        ("AGENT_RUN_ID", run.header.id.as_str()),
        ("AGENT_CHECKIN_KIND", run.header.kind.as_str()),
        ("AGENT_ITEM_ID", item.id.as_str()),
    ]
    .into_iter()
    .map(|(name, value)| (name.into(), value.into()))
    .collect()
}

fn item_record(item: &LibraryItem, status: ItemStatus, at: DateTime<Utc>, message: String) -> ItemRecord {
    ItemRecord {
        id: item.id.clone(),
        name: item.name.clone(),
        item_type: item.item_type().as_str().to_string(),
        status,
        started_at: at,
        finished_at: at,
        duration_ms: 0,
        exit_code: None,
        message,
        output: String::new(),
    }
}

fn not_running(planned: &PlannedItem, status: ItemStatus, reason: &str) -> ItemRecord {
    item_record(&planned.item, status, Utc::now(), reason.to_string())
}

/// The run's outcome from its items.
fn run_outcome<'a>(
    mut items: impl Iterator<Item = &'a ItemRecord>,
    budget_spent: bool,
    interrupted: bool,
) -> RunOutcome {
    if interrupted {
        RunOutcome::Interrupted
    } else if budget_spent {
        RunOutcome::TimedOut
    } else if items.any(|item| matches!(item.status, ItemStatus::Failed | ItemStatus::TimedOut)) {
        RunOutcome::Failed
    } else {
        RunOutcome::Succeeded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_that_waits_on_the_person_does_not_fail_the_run() {
        let ended = |statuses: &[ItemStatus]| -> Vec<ItemRecord> {
            statuses.iter().map(|status| ItemRecord::ended("li", *status, Utc::now())).collect()
        };
        let waiting =
            ended(&[ItemStatus::Succeeded, ItemStatus::Deferred, ItemStatus::WaitingForUser, ItemStatus::Skipped]);
        assert_eq!(run_outcome(waiting.iter(), false, false), RunOutcome::Succeeded);
        let with_a_failure = ended(&[ItemStatus::Deferred, ItemStatus::Failed]);
        assert_eq!(run_outcome(with_a_failure.iter(), false, false), RunOutcome::Failed);
        assert_eq!(run_outcome(waiting.iter(), true, false), RunOutcome::TimedOut);
    }
}
