//! Opening a check-in's run: the local blueprint checked before anything is
//! touched, then the lock, the store (healed, and what a crash left stopped and
//! closed), the kind of check-in, the tenant's contact, the blueprint and the
//! plan, and the run's record with the drift it starts with.

use chrono::Utc;

use super::{CheckinError, CheckinRequest, ProgressEvent, close_interrupted_runs, drift, report_drift};
use crate::blueprint::{self, LoadedBlueprint};
use crate::config::AgentConfig;
use crate::paths::AgentPaths;
use crate::plan::{self, CheckinKind, Plan};
use crate::run_lock;
use crate::schedule::{self, Cadence, ScheduleState};
use crate::state::{Drift, RunHeader, RunRecord, Store};
use crate::{self_update, telemetry, tenant};

/// A check-in whose run is open: the lock held, the store open (and rebuilt if it
/// was damaged), the blueprint read and the plan made.
pub(super) struct OpenRun {
    /// Held until the check-in ends.
    pub(super) _lock: run_lock::CheckinLock,
    pub(super) store: Store,
    /// The damaged store this check-in moved aside, if it did.
    pub(super) rebuilt_now: Option<crate::state::StoreRebuilt>,
    /// The tenant's requests this check-in serves.
    pub(super) served: Vec<crate::state::TenantRequest>,
    pub(super) kind: CheckinKind,
    pub(super) contact: Option<tenant::Contact>,
    pub(super) loaded: LoadedBlueprint,
    pub(super) plan: Plan,
    pub(super) run: RunRecord,
}

/// Opens the run: takes the lock, opens the store and stops what a crash left,
/// decides the kind, talks to the tenant, reads the blueprint and plans.
pub(super) async fn open_run(
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
    // A run of one item asked for serves none of the tenant's requests: they
    // wait for the next scheduled check-in.
    let (served, kind) = match request.one_item_kind() {
        Some(kind) => (Vec::new(), kind),
        None => checkin_kind(config, request, &store, started_at)?,
    };
    let contact =
        if from_tenant { Some(tenant::begin(paths, config, &store, kind, request.trigger).await) } else { None };
    let stale_token = stale_token(&store, contact.as_ref());
    let loaded = match local {
        Some(loaded) => loaded,
        None => tenant_blueprint(paths, config, request, &store, stale_token).await?,
    };
    telemetry::prepare(paths, config, &store, Some(&loaded.blueprint)).await;
    let plan = match &request.item {
        Some(asked) if kind == CheckinKind::SelfService => {
            let waiting = store.all_pending_work()?.into_iter().map(|work| work.item_id).collect();
            plan::self_service_plan(&loaded.blueprint, asked, &waiting, &config.timeouts)?
        }
        Some(asked) => {
            plan::item_plan(&loaded.blueprint, asked, &store.succeeded_once()?, request.force, &config.timeouts)?
        }
        None => make_plan(config, &store, &loaded, kind)?,
    };
    let drift = run_drift(&store, &loaded, contact.as_ref(), stale_token)?;
    let mut header = RunHeader::begun(uuid::Uuid::now_v7().to_string(), kind, request.trigger, started_at);
    header.requested_by = request.requested_by.clone();
    let run = RunRecord {
        header,
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
    Ok(plan::plan(&loaded.blueprint, kind, &store.succeeded_once()?, &config.timeouts))
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
