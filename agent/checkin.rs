//! One check-in: blueprint → plan → execute → record → report (and inventory).
//!
//! The blueprint is loaded and checked before anything is touched, so bad input
//! leaves no trace (a missing one is still reported as `missing_policy` drift when
//! telemetry is on). Then the run is opened ([`open`]): the check-in lock is taken
//! (one check-in at a time), the processes a crashed agent's item left running are
//! stopped ([`crate::orphans`]) and its run closed as interrupted with every item
//! of its plan, its results report spooled for the tenant
//! ([`close_interrupted_runs`]), and the plan is made (and saved beside the run,
//! for the same end should this one be cut short). Each item runs under the
//! earlier of its own timeout and the run's budget ([`executor`]), its programs'
//! process groups recorded while they run. An item that runs programs is
//! committed when it starts; every result is committed with the next such start,
//! with the run's end, or with a thousand others, by a writer thread of the run's
//! own ([`run_writer`]); a full disk stops none of it: what the store refuses is
//! kept and tried again, and a run whose record stays incomplete ends `failed`
//! and says so (`run_end`). The tenant's saved requests for a check-in are served
//! (removed) when the run starts. With a tenant, the results are reported at the
//! end, after the inventory is collected when one is due. What happened goes out
//! as telemetry (`telemetry::events`), flushed once the check-in is over.

mod drift;
mod executor;
mod open;
mod progress;
mod run_end;
mod run_writer;

use std::path::PathBuf;

use chrono::Utc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::blueprint::BlueprintErrors;
use crate::config::AgentConfig;
use crate::inventory::{self, Platform};
use crate::items::RunFolder;
use crate::paths::AgentPaths;
use crate::plan::CheckinKind;
use crate::run_lock::LockError;
use crate::state::{Drift, RunOutcome, RunRecord, Store, StoreError, Trigger};
use crate::telemetry::{self, events};
use crate::{self_update, tenant};
use executor::Executor;
use open::{OpenRun, open_run};
use run_end::finish;
use run_writer::RunWriter;

pub use progress::ProgressEvent;

/// What was asked for.
#[derive(Debug, Clone)]
pub struct CheckinRequest {
    /// Make this the daily check-in whatever the schedule says.
    pub reset_daily: bool,
    /// Use this blueprint file instead of the configured or saved one.
    pub blueprint: Option<PathBuf>,
    /// Who asked.
    pub trigger: Trigger,
    /// Wait for a running check-in instead of giving up.
    pub wait: bool,
    /// The one item (id or name) asked for: in Self Service (trigger
    /// `self_service`) the run is of kind `self_service`, with `agent library
    /// --item` of kind `item`; either way it holds that item alone.
    pub item: Option<String>,
    /// With `agent library --item`: run the item even when its frequency
    /// would skip it (`-F`).
    pub force: bool,
    /// The user who asked through Self Service (an install or a sync), recorded
    /// with the run.
    pub requested_by: Option<String>,
}

impl CheckinRequest {
    /// A request made through Self Service by `requested_by`: the one offered
    /// `item` (its id or name), or without one a sync, the daily check-in. It
    /// waits behind a running check-in.
    pub fn self_service(item: Option<String>, requested_by: String) -> Self {
        CheckinRequest {
            reset_daily: item.is_none(),
            blueprint: None,
            trigger: Trigger::SelfService,
            wait: true,
            item,
            force: false,
            requested_by: Some(requested_by),
        }
    }

    /// `agent library --item`: the one library item `item` (its id or name),
    /// with trigger `cli`, waiting behind a running check-in; `force` runs it
    /// whatever its frequency says.
    pub fn library_item(item: String, force: bool) -> Self {
        CheckinRequest {
            reset_daily: false,
            blueprint: None,
            trigger: Trigger::Cli,
            wait: true,
            item: Some(item),
            force,
            requested_by: None,
        }
    }

    /// The kind of run that holds the one item asked for, if one was.
    pub fn one_item_kind(&self) -> Option<CheckinKind> {
        let self_service = self.trigger == Trigger::SelfService;
        self.item.as_ref().map(|_| if self_service { CheckinKind::SelfService } else { CheckinKind::Item })
    }

    /// Whether this is a Self Service sync (the daily check-in, no one item).
    pub fn is_sync(&self) -> bool {
        self.trigger == Trigger::SelfService && self.item.is_none()
    }
}

/// Why a check-in could not run.
#[derive(Debug, thiserror::Error)]
pub enum CheckinError {
    /// No blueprint given, configured, or saved from the tenant.
    #[error("no blueprint: pass --blueprint PATH, set blueprint_file in the configuration, or enroll with a tenant")]
    NoBlueprint,
    /// Enrolled, but the tenant has not sent a blueprint yet (it could not be
    /// reached, refused the token, or has none for this device).
    #[error("no blueprint yet: the tenant has not sent one (`agent logs --level warn` says why)")]
    NoBlueprintYet,
    /// Enrolled, but the saved blueprint is damaged and the tenant did not send a
    /// new one to replace it.
    #[error(
        "no usable blueprint: the saved blueprint {} is damaged and the tenant has not sent a new one (`agent logs --level warn` says why)",
        path.display()
    )]
    SavedBlueprintDamaged {
        /// The saved blueprint.
        path: PathBuf,
    },
    /// The blueprint is malformed.
    #[error(transparent)]
    Blueprint(#[from] BlueprintErrors),
    /// The check-in lock could not be taken.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The item asked for in Self Service is not in the blueprint or not offered.
    #[error(transparent)]
    SelfService(#[from] crate::plan::SelfServiceError),
}

/// A check-in that ran to its end.
#[derive(Debug)]
pub struct CheckedIn {
    /// The run, as recorded.
    pub run: RunRecord,
    /// The newer agent this check-in installed, if it did: the process that ran it
    /// is still the old binary (the daemon exits so launchd starts the new one).
    pub agent_updated_to: Option<semver::Version>,
}

/// Runs one check-in to its end and returns its record; its telemetry is flushed
/// before this returns, within the export timeout, whatever the outcome.
pub async fn run_checkin(
    paths: &AgentPaths,
    config: &AgentConfig,
    request: &CheckinRequest,
    progress: &mut dyn FnMut(ProgressEvent),
    cancel: &CancellationToken,
) -> Result<CheckedIn, CheckinError> {
    let result = match open_run(paths, config, request, progress).await {
        Ok(open) => {
            let span = tracing::info_span!("checkin", run_id = %open.run.header.id, kind = %open.kind);
            execute_and_report(paths, config, request, open, progress, cancel).instrument(span).await
        }
        Err(error) => Err(error),
    };
    if let Err(CheckinError::Store(error)) = &result {
        if error.is_damage() {
            // The error left its mark (see `state::damage`): the next check-in heals.
            tracing::warn!(error = %error, "The state store is damaged; the next check-in moves it aside and starts a fresh one.");
        }
    }
    telemetry::flush().await;
    result
}

/// Runs the open run's parameters and items, ends it, then reports to the tenant
/// and updates the agent (see [`report_and_update`]).
async fn execute_and_report(
    paths: &AgentPaths,
    config: &AgentConfig,
    request: &CheckinRequest,
    open: OpenRun,
    progress: &mut dyn FnMut(ProgressEvent),
    cancel: &CancellationToken,
) -> Result<CheckedIn, CheckinError> {
    let OpenRun { _lock, store, rebuilt_now, served, kind, contact, loaded, plan, mut run } = open;
    // Its results, item starts and programs' process groups (see `run_writer`).
    let writer = std::sync::Arc::new(RunWriter::start(&paths.store_file, &run.header.id));
    writer.begin(&store, &run, &plan, contact.is_some());
    let run_folder = RunFolder::new(paths.root.clone(), paths.scripts_dir.join(&run.header.id));
    let executor = Executor { paths, config, store: &store, writer, cancel, run_folder };
    tracing::info!(blueprint_id = %loaded.blueprint.id, items = plan.items.len(), trigger = %request.trigger, "Check-in started.");
    tenant::requests::serve(&store, &served, request.trigger);
    progress(ProgressEvent::RunStarted { run: run.clone(), items: plan.items.len() });
    let budget_deadline = crate::process::deadline_after(Instant::now(), config.timeouts.run);
    // A run of one item asked for holds that item, nothing else.
    if !kind.is_on_request() {
        executor.enforce_parameters(&loaded.blueprint.parameters, kind, budget_deadline, &mut run, progress).await;
    }
    let outcome = executor.execute(&plan, &mut run, budget_deadline, progress).await;
    // The last try for what the store refused during the run (a full disk).
    let unwritten = executor.writer.write(&run).await.err();
    finish(&store, &mut run, outcome, unwritten);
    run_end::keep_store_within(&store, config.state.max_size, &run.header.id);
    // A daily check-in after the one that rebuilt the store ends its drift.
    let daily_ended = kind == CheckinKind::Daily && outcome != RunOutcome::Interrupted;
    if daily_ended && rebuilt_now.is_none() && run.drift.store_rebuilt {
        if let Err(error) = store.settle_store_rebuilt_drift() {
            tracing::warn!(error = %error, "Cannot end the store_rebuilt drift; the next daily check-in tries again.");
        }
    }
    report_drift(&store, Some(&run.header.id), &run.drift);
    progress(ProgressEvent::RunFinished { run: run.clone() });
    let agent_updated_to = report_and_update(paths, config, &store, &run, contact, cancel).await;
    if kind == CheckinKind::Daily && !cancel.is_cancelled() {
        crate::downloads::prune_unneeded(paths, &loaded.blueprint);
    }
    if let Err(error) = store.make_durable() {
        tracing::warn!(error = %error, "Cannot sync the check-in's records to disk; a power cut could lose the newest.");
    }
    crate::items::restart_if_asked(paths, config, &store, cancel).await;
    Ok(CheckedIn { run, agent_updated_to })
}

/// With a tenant: the inventory when one is due, the results report, then the
/// agent's own update when the tenant offers one; the version installed, if any.
async fn report_and_update(
    paths: &AgentPaths,
    config: &AgentConfig,
    store: &Store,
    run: &RunRecord,
    contact: Option<tenant::Contact>,
    cancel: &CancellationToken,
) -> Option<semver::Version> {
    let mut contact = contact?;
    let kind = run.header.kind;
    let advice = contact.take_agent_advice();
    // Inventory only goes to a tenant; a stopping agent sends its results only;
    // a run of one item asked for leaves the inventory and the agent's update to
    // the schedule.
    let on_request = kind.is_on_request();
    let inventory = if !on_request && tenant::inventory_due(store, kind) && !cancel.is_cancelled() {
        Some(inventory::collect_and_save(paths, config, Platform::current(), cancel).await)
    } else {
        None
    };
    tenant::report(paths, store, run, inventory.as_ref(), contact).await;
    if on_request {
        return None;
    }
    // After the results: an installed update ends with the daemon restarting.
    let update = self_update::UpdateContext { paths, config, store, kind, cancel };
    self_update::update_agent(&update, &advice?).await
}

/// Closes the runs the agent did not finish as `interrupted`, each with every
/// item of its plan, and spools the results report of each that goes to the
/// tenant, in one transaction: a run is closed and spooled once, and its report
/// goes out with the next delivery. `stopped_at` is when the caller knows the run
/// stopped (see [`Store::mark_dangling_runs_interrupted`]). Call while holding
/// the check-in lock. Returns the ids of the runs closed.
pub fn close_interrupted_runs(
    paths: &AgentPaths,
    store: &Store,
    stopped_at: Option<chrono::DateTime<Utc>>,
) -> Result<Vec<String>, StoreError> {
    let closed = store.in_transaction(|| {
        let closed = store.mark_dangling_runs_interrupted(stopped_at)?;
        for run in closed.iter().filter(|run| run.reports_to_tenant) {
            tenant::spool_interrupted_run(store, &run.run_id)?;
        }
        Ok(closed)
    })?;
    Ok(closed
        .into_iter()
        .map(|run| {
            tracing::warn!(run_id = %run.run_id, reported = run.reports_to_tenant, "Closed a run the agent did not finish as interrupted.");
            // Its scripts, which its end would have removed.
            let _ = std::fs::remove_dir_all(paths.scripts_dir.join(&run.run_id));
            run.run_id
        })
        .collect())
}

/// Emits the drift gauge, and a change event for each kind that moved since the
/// drift last reported (by a run, or by a check-in that found no blueprint).
fn report_drift(store: &Store, run_id: Option<&str>, drift: &Drift) {
    events::DriftMeasured { drift }.emit();
    for (kind, was, now) in drift::changes(drift::last_reported(store).as_ref(), drift) {
        events::DriftChanged { run_id, kind, was, now }.emit();
    }
    drift::remember(store, drift);
}
