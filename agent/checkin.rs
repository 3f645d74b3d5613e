//! One check-in: blueprint → plan → execute → record → report (and inventory).
//!
//! The blueprint is loaded and checked before anything is touched, so bad input
//! leaves no trace (a missing one is still reported as `missing_policy` drift when
//! telemetry is on). Then the check-in lock is taken (one check-in at a time), the
//! processes a crashed agent's item left running are stopped ([`crate::orphans`])
//! and its run closed as interrupted with every item of its plan, its results
//! report spooled for the tenant ([`close_interrupted_runs`]), the plan is made
//! (and saved beside the run, for the same end should this one be cut short),
//! and each item runs under the earlier of its own timeout and the run's budget,
//! its programs' process groups recorded while they run. An item that runs programs is committed when
//! it starts; every result is committed with the next such start, with the
//! run's end, or with a thousand others, by a writer thread of the run's own
//! ([`run_writer`]); a full disk stops none of it: what the store refuses is kept and
//! tried again, and a run whose record stays incomplete ends `failed` and says so
//! (`run_end`). The tenant's
//! saved requests for a check-in are served (removed) when the run starts. With a
//! tenant, the results are reported at the end, after the inventory is collected
//! when one is due. What happened goes out as telemetry
//! (`telemetry::events`), flushed once the check-in is over.

mod drift;
mod executor;
mod progress;
mod run_end;
mod run_writer;

use std::path::PathBuf;

use chrono::Utc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::blueprint::{self, BlueprintErrors, LoadedBlueprint};
use crate::config::AgentConfig;
use crate::inventory::{self, Platform};
use crate::items::RunFolder;
use crate::paths::AgentPaths;
use crate::plan::{self, CheckinKind, ItemTimeouts, Plan};
use crate::run_lock::{self, LockError};
use crate::schedule::{self, Cadence, ScheduleState};
use crate::state::{Drift, RunOutcome, RunRecord, Store, StoreError, Trigger};
use crate::telemetry::{self, events};
use crate::{self_update, tenant};
use executor::Executor;
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
            let span = tracing::info_span!("checkin", run_id = %open.run.id, kind = %open.kind);
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

/// A check-in whose run is open: the lock held, the store open (and rebuilt if it
/// was damaged), the blueprint read and the plan made.
struct OpenRun {
    /// Held until the check-in ends.
    _lock: run_lock::CheckinLock,
    store: Store,
    /// The damaged store this check-in moved aside, if it did.
    rebuilt_now: Option<crate::state::StoreRebuilt>,
    /// The tenant's requests this check-in serves.
    served: Vec<crate::state::TenantRequest>,
    kind: CheckinKind,
    contact: Option<tenant::Contact>,
    loaded: LoadedBlueprint,
    plan: Plan,
    run: RunRecord,
}

/// Opens the run: takes the lock, opens the store and stops what a crash left,
/// decides the kind, talks to the tenant, reads the blueprint and plans.
async fn open_run(
    paths: &AgentPaths,
    config: &AgentConfig,
    request: &CheckinRequest,
    progress: &mut dyn FnMut(ProgressEvent),
) -> Result<OpenRun, CheckinError> {
    // From a tenant, the blueprint arrives once the lock is held; a local one is
    // checked before anything is touched.
    let from_tenant = request.blueprint.is_none() && config.blueprint_file.is_none() && config.tenant.url.is_some();
    let local = if from_tenant { None } else { Some(local_blueprint(paths, config, request).await?) };
    crate::state::create_private_folder(&paths.root, &paths.state_dir)?;
    let lock = run_lock::acquire(&paths.checkin_lock, Utc::now(), request.wait, |holder| {
        progress(ProgressEvent::Waiting { holder: holder.cloned() })
    })
    .await?;
    let (store, rebuilt_now) = open_store(paths, config).await?;
    let started_at = Utc::now();
    let (served, kind) = checkin_kind(config, request, &store, started_at)?;
    let contact =
        if from_tenant { Some(tenant::begin(paths, config, &store, kind, request.trigger).await) } else { None };
    let stale_token = stale_token(&store, contact.as_ref());
    let loaded = match local {
        Some(loaded) => loaded,
        None => tenant_blueprint(paths, config, request, &store, stale_token).await?,
    };
    telemetry::prepare(paths, config, &store, Some(&loaded.blueprint)).await;
    let plan = make_plan(config, &store, &loaded, kind)?;
    let drift = run_drift(&store, &loaded, contact.as_ref(), stale_token)?;
    let run = RunRecord {
        id: uuid::Uuid::now_v7().to_string(),
        kind,
        trigger: request.trigger,
        started_at,
        finished_at: None,
        outcome: None,
        blueprint_id: Some(loaded.blueprint.id.clone()),
        message: None,
        drift,
        parameters: Vec::new(),
        items: Vec::new(),
    };
    Ok(OpenRun { _lock: lock, store, rebuilt_now, served, kind, contact, loaded, plan, run })
}

/// The tenant's requests this check-in serves, and the kind of check-in it is.
///
/// The tenant's requests saved so far are served by this check-in (the daily one
/// if `dailycheckin` is among them); those its own tenant contact brings wait for
/// the next one.
fn checkin_kind(
    config: &AgentConfig,
    request: &CheckinRequest,
    store: &Store,
    now: chrono::DateTime<Utc>,
) -> Result<(Vec<crate::state::TenantRequest>, CheckinKind), CheckinError> {
    let served = store.pending_tenant_requests()?;
    let mut schedule_state = ScheduleState::load(store)?;
    schedule_state.daily_requested |= request.reset_daily || tenant::requests::asks_for_daily(&served);
    let kind = schedule::checkin_kind(&schedule_state, &Cadence::from(&config.schedule), now);
    Ok((served, kind))
}

/// Whether the tenant refused the token: as this contact found, or as the last
/// one did when there is no contact.
fn stale_token(store: &Store, contact: Option<&tenant::Contact>) -> bool {
    match contact {
        Some(contact) => contact.stale_token(),
        None => tenant::token_is_stale(store).unwrap_or_else(|error| {
            tracing::error!(error = %error, "Cannot read the token's outcome.");
            false
        }),
    }
}

/// The plan for `loaded`: which items run, in which order, under which timeout.
fn make_plan(
    config: &AgentConfig,
    store: &Store,
    loaded: &LoadedBlueprint,
    kind: CheckinKind,
) -> Result<Plan, CheckinError> {
    let timeouts = ItemTimeouts {
        custom_script: config.timeouts.custom_script,
        custom_printer: config.timeouts.custom_printer,
        auto_app: config.timeouts.auto_app,
    };
    Ok(plan::plan(&loaded.blueprint, kind, &store.succeeded_once()?, &timeouts))
}

/// The drift a run starts with: the blueprint's and the tenant's, the token's and
/// the store's.
fn run_drift(
    store: &Store,
    loaded: &LoadedBlueprint,
    contact: Option<&tenant::Contact>,
    stale_token: bool,
) -> Result<Drift, CheckinError> {
    Ok(Drift {
        stale_token,
        store_rebuilt: store.store_rebuilt_drift()?,
        ..drift::policy_drift(
            Some(&loaded.blueprint),
            contact.and_then(tenant::Contact::minimum_agent_version).as_ref(),
            &drift::agent_version(),
        )
    })
}

/// Opens the store under the lock (a damaged one is moved aside and a fresh one
/// started), stops what a crashed agent left running and closes its runs.
async fn open_store(
    paths: &AgentPaths,
    config: &AgentConfig,
) -> Result<(Store, Option<crate::state::StoreRebuilt>), CheckinError> {
    let (store, rebuilt_now) = Store::open_healing(&paths.store_file)?;
    crate::orphans::stop_left_behind(&store, config.timeouts.termination_grace).await;
    // On a full disk the runs left without an end stay so until there is room.
    if let Err(error) = close_interrupted_runs(paths, &store, None) {
        let error = anyhow::Error::from(error);
        tracing::error!(error = %format!("{error:#}"), "Cannot close the runs the agent did not finish; the next check-in tries again.");
    }
    self_update::settle_unfinished(&store, paths);
    Ok((store, rebuilt_now))
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
    let writer = std::sync::Arc::new(RunWriter::start(&paths.store_file, &run.id));
    writer.begin(&store, &run, &plan, contact.is_some());
    let run_folder = RunFolder::new(paths.root.clone(), paths.scripts_dir.join(&run.id));
    let executor = Executor { paths, config, store: &store, writer, cancel, run_folder };
    tracing::info!(blueprint_id = %loaded.blueprint.id, items = plan.items.len(), trigger = %request.trigger, "Check-in started.");
    tenant::requests::serve(&store, &served, request.trigger);
    progress(ProgressEvent::RunStarted { run: run.clone(), items: plan.items.len() });
    let budget_deadline = crate::process::deadline_after(Instant::now(), config.timeouts.run);
    executor.enforce_parameters(&loaded.blueprint.parameters, kind, budget_deadline, &mut run, progress).await;
    let outcome = executor.execute(&plan, &mut run, budget_deadline, progress).await;
    // The last try for what the store refused during the run (a full disk).
    let unwritten = executor.writer.write(&run).await.err();
    finish(&store, &mut run, outcome, unwritten);
    run_end::keep_store_within(&store, config.state.max_size, &run.id);
    // A daily check-in after the one that rebuilt the store ends its drift.
    let daily_ended = kind == CheckinKind::Daily && outcome != RunOutcome::Interrupted;
    if daily_ended && rebuilt_now.is_none() && run.drift.store_rebuilt {
        if let Err(error) = store.settle_store_rebuilt_drift() {
            tracing::warn!(error = %error, "Cannot end the store_rebuilt drift; the next daily check-in tries again.");
        }
    }
    report_drift(&store, Some(&run.id), &run.drift);
    progress(ProgressEvent::RunFinished { run: run.clone() });
    let agent_updated_to = report_and_update(paths, config, &store, &run, contact, cancel).await;
    if kind == CheckinKind::Daily && !cancel.is_cancelled() {
        crate::downloads::prune_unneeded(paths, &loaded.blueprint);
    }
    if let Err(error) = store.make_durable() {
        tracing::warn!(error = %error, "Cannot sync the check-in's records to disk; a power cut could lose the newest.");
    }
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
    let kind = run.kind;
    let advice = contact.take_agent_advice();
    // Inventory only goes to a tenant; a stopping agent sends its results only.
    let inventory = if tenant::inventory_due(store, kind) && !cancel.is_cancelled() {
        Some(inventory::collect_and_save(paths, config, Platform::current(), cancel).await)
    } else {
        None
    };
    tenant::report(paths, store, run, inventory.as_ref(), contact).await;
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

fn load_blueprint(
    paths: &AgentPaths,
    config: &AgentConfig,
    request: &CheckinRequest,
) -> Result<LoadedBlueprint, CheckinError> {
    let path = request
        .blueprint
        .clone()
        .or_else(|| config.blueprint_file.clone())
        .or_else(|| paths.saved_blueprint.exists().then(|| paths.saved_blueprint.clone()))
        .ok_or(if config.tenant.url.is_some() { CheckinError::NoBlueprintYet } else { CheckinError::NoBlueprint })?;
    let loaded = blueprint::load(&path)?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    Ok(loaded)
}

/// The blueprint given (`--blueprint`), configured (`blueprint_file`) or saved,
/// checked before anything is touched. When there is none, nothing runs, but "no
/// policy" is what a fleet console must see: with telemetry on, the store is
/// opened (for the device id and the drift last reported) and the drift reported
/// before the error; with it off, nothing is touched.
async fn local_blueprint(
    paths: &AgentPaths,
    config: &AgentConfig,
    request: &CheckinRequest,
) -> Result<LoadedBlueprint, CheckinError> {
    let error = match load_blueprint(paths, config, request) {
        Err(error @ (CheckinError::NoBlueprint | CheckinError::NoBlueprintYet)) => error,
        loaded => return loaded,
    };
    if telemetry::is_on(config) {
        let opened = crate::state::create_private_folder(&paths.root, &paths.state_dir)
            .and_then(|_| Store::open(&paths.store_file));
        match opened {
            Ok(store) => {
                let stale_token = tenant::token_is_stale(&store).unwrap_or(false);
                report_missing_policy(paths, config, &store, stale_token).await;
            }
            Err(error) => {
                let error = format!("{:#}", anyhow::Error::from(error));
                tracing::warn!(error = %error, "Cannot open the state store; the missing policy is not exported.");
            }
        }
    }
    Err(error)
}

/// The blueprint the tenant sent (or the one saved from it). When none has
/// arrived (or the saved one is damaged and no new one came), nothing runs, but "no policy yet" is exactly what a fleet console must
/// see: the drift is reported (and exported) before the error.
async fn tenant_blueprint(
    paths: &AgentPaths,
    config: &AgentConfig,
    request: &CheckinRequest,
    store: &Store,
    stale_token: bool,
) -> Result<LoadedBlueprint, CheckinError> {
    // Here the blueprint can only come from the saved one: damaged, it is as good
    // as none (the session already logged why and asked for the full copy).
    let error = match load_blueprint(paths, config, request) {
        Err(error @ (CheckinError::NoBlueprint | CheckinError::NoBlueprintYet)) => error,
        Err(CheckinError::Blueprint(_)) => CheckinError::SavedBlueprintDamaged { path: paths.saved_blueprint.clone() },
        loaded => return loaded,
    };
    report_missing_policy(paths, config, store, stale_token).await;
    Err(error)
}

/// A check-in that found no blueprint: the drift (`missing_policy`) is reported
/// under a resource with no blueprint and no team; [`run_checkin`] exports it.
async fn report_missing_policy(paths: &AgentPaths, config: &AgentConfig, store: &Store, stale_token: bool) {
    telemetry::prepare(paths, config, store, None).await;
    let store_rebuilt = store.store_rebuilt_drift().unwrap_or(false);
    let drift = Drift { stale_token, store_rebuilt, ..drift::policy_drift(None, None, &drift::agent_version()) };
    report_drift(store, None, &drift);
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
