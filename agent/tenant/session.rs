//! What a check-in does with its tenant: `checkin` and `blueprint` at the start,
//! the results report (and the inventory, when one was collected) at the end,
//! and the spool flushed after it.
//!
//! Nothing here fails a check-in: a tenant that is down, hung, refuses the token
//! or talks garbage is logged, and the check-in goes on from the saved blueprint.
//! A `401` is tried again once with the configuration read afresh (a rotated token
//! may have arrived through managed preferences); three check-ins in a row that
//! end in `401` show as drift `stale_token` until a request succeeds.

use std::hash::BuildHasher;
use std::time::Duration;

use chrono::Utc;

use super::client::{BlueprintReply, TenantClient, TenantError};
use super::inventory_report::{request_inventory, spool_inventory};
use super::protocol::{CheckinBody, CheckinReply, ResultsBody};
use crate::config::AgentConfig;
use crate::inventory::{self, Inventory, Platform};
use crate::paths::AgentPaths;
use crate::plan::CheckinKind;
use crate::self_update::Advice;
use crate::state::{RunRecord, Store, StoreError, Trigger};

/// Where results go.
const RESULTS_PATH: &str = "/api/v1/agent/results";

/// The `device` keys the client keeps.
pub(crate) const ETAG_KEY: &str = "tenant_blueprint_etag";
const UNAUTHORIZED_STREAK_KEY: &str = "tenant_unauthorized_streak";

/// How many check-ins in a row must end in `401` before the token counts as stale.
const STALE_TOKEN_STREAK: u32 = 3;

/// The first wait after a failed send, doubled per failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(60);
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 60 * 60);

/// What the start of a check-in learned about the tenant.
pub(crate) struct Contact {
    /// The client, with the freshest token; `None` when it could not be built.
    client: Option<TenantClient>,
    /// The tenant answered `checkin` (so spooled reports need not wait out their backoff).
    answered: bool,
    /// Enough check-ins in a row ended in `401` for drift `stale_token`.
    stale_token: bool,
    /// What the check-in reply said about the agent's version, for the self-update
    /// after the results; `None` when the tenant did not answer.
    agent_advice: Option<Advice>,
}

impl Contact {
    /// Whether the token counts as stale (drift `stale_token`).
    pub(crate) fn stale_token(&self) -> bool {
        self.stale_token
    }

    /// Takes what the check-in reply said about the agent's version.
    /// The oldest agent the tenant's check-in reply accepts, when it named a valid one.
    pub(crate) fn minimum_agent_version(&self) -> Option<semver::Version> {
        let minimum = self.agent_advice.as_ref()?.minimum_agent_version.as_deref()?;
        semver::Version::parse(minimum.trim()).ok()
    }

    pub(crate) fn take_agent_advice(&mut self) -> Option<Advice> {
        self.agent_advice.take()
    }
}

/// Starts a tenant check-in: `checkin` (acting on its commands), then `blueprint`,
/// saving a new one to `paths.saved_blueprint`. Never fails the check-in.
/// `trigger` (what started this check-in) decides what the tenant's requests for
/// a check-in do (see [`super::requests`]).
pub(crate) async fn begin(
    paths: &AgentPaths,
    config: &AgentConfig,
    store: &Store,
    kind: CheckinKind,
    trigger: Trigger,
) -> Contact {
    let client = match TenantClient::new(config) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %error, "Cannot set up the tenant client; using the saved blueprint.");
            None
        }
    };
    let Some(client) = client else {
        return Contact { client: None, answered: false, stale_token: false, agent_advice: None };
    };
    let saved_usable = saved_blueprint_usable(paths);
    let facts = inventory::cheap_facts(paths, config, Platform::current()).await;
    let mut session = Session { paths, client, reloaded: false, unauthorized: false, succeeded: false };
    let (answered, agent_advice) = session.checkin(store, kind, trigger, &facts).await;
    if answered {
        session.fetch_blueprint(store, saved_usable).await;
    }
    let stale_token = match record_token_outcome(store, &session, true) {
        Ok(stale) => stale,
        Err(error) => {
            tracing::error!(error = %error, "Cannot record the token's outcome.");
            false
        }
    };
    Contact { client: Some(session.client), answered, stale_token, agent_advice }
}

/// Whether a saved blueprint is there and loads. A damaged one counts as none
/// (no `If-None-Match`, so the tenant sends its full copy to replace it); the
/// damage is logged here, once per check-in, naming the file.
fn saved_blueprint_usable(paths: &AgentPaths) -> bool {
    match super::saved::damage(paths) {
        None => paths.saved_blueprint.exists(),
        Some(errors) => {
            tracing::error!(
                path = %paths.saved_blueprint.display(),
                error = %errors,
                "The saved blueprint is damaged; asking the tenant for its full copy to replace it."
            );
            false
        }
    }
}

/// Spools the run's results, then `inventory` if one was collected, and sends
/// every due report, oldest first. The report is made from the run in memory, so
/// it is whole even when the store's record of the run is not (a full disk); when
/// the store cannot take it into the spool either, it is sent once, directly,
/// and not kept for a retry.
pub(crate) async fn report(
    paths: &AgentPaths,
    store: &Store,
    run: &RunRecord,
    inventory: Option<&Inventory>,
    contact: Contact,
) {
    if let Err(error) = spool_results(store, run) {
        tracing::error!(error = %error, "Cannot spool the run's results; sending them directly, once.");
        if let Some(client) = contact.client {
            send_directly(paths, client, store, run).await;
        }
        return;
    }
    if let Some(inventory) = inventory {
        match spool_inventory(store, inventory) {
            Ok(report_id) => tracing::info!(report_id = %report_id, "Inventory spooled for the tenant."),
            Err(error) => tracing::error!(error = %error, "Cannot spool the inventory."),
        }
    }
    let Some(client) = contact.client else { return };
    send_spool(paths, client, store, contact.answered).await;
}

/// Sends every waiting report now, outside a check-in (`agent update-mdm`): oldest
/// first, backoff ignored since someone asked for it now. Nothing happens
/// without a tenant; a failure is logged and the reports stay in the spool.
pub(super) async fn flush_now(paths: &AgentPaths, config: &AgentConfig, store: &Store) {
    match TenantClient::new(config) {
        Ok(Some(client)) => send_spool(paths, client, store, true).await,
        Ok(None) => {}
        Err(error) => {
            tracing::error!(error = %error, "Cannot set up the tenant client; the reports wait in the spool.")
        }
    }
}

/// Sends the due reports with `client` (all of them when `ignore_backoff`), with
/// the `401` retry, and logs what is left.
async fn send_spool(paths: &AgentPaths, client: TenantClient, store: &Store, ignore_backoff: bool) {
    let mut session = Session { paths, client, reloaded: false, unauthorized: false, succeeded: false };
    if let Err(error) = session.flush(store, ignore_backoff).await {
        tracing::error!(error = %error, "Cannot flush the spool.");
    }
    // A check-in was counted at its start; a success here still clears the count.
    if let Err(error) = record_token_outcome(store, &session, false) {
        tracing::error!(error = %error, "Cannot record the token's outcome.");
    }
    log_spool(store);
}

/// Writes the results report into the spool; its id is the run's, so sending it
/// twice is harmless. It carries the newest agent update no earlier report did.
fn spool_results(store: &Store, run: &RunRecord) -> anyhow::Result<()> {
    let device_id = store.device_id()?;
    let agent_update = store.unreported_agent_update()?;
    let body = ResultsBody { device_id: &device_id, run_id: &run.id, run, agent_update: agent_update.as_ref() };
    store.spool_add(&run.id, RESULTS_PATH, &serde_json::to_string(&body)?, Utc::now())?;
    if let Some(update) = &agent_update {
        store.mark_agent_updates_reported(update.id, &run.id)?;
    }
    Ok(())
}

/// Sends the results report of `run` straight to the tenant, once, without the
/// spool (which the store could not take it into); logs what became of it.
async fn send_directly(paths: &AgentPaths, client: TenantClient, store: &Store, run: &RunRecord) {
    let body = store.device_id().map_err(anyhow::Error::from).and_then(|device_id| {
        let body = ResultsBody { device_id: &device_id, run_id: &run.id, run, agent_update: None };
        Ok(serde_json::to_string(&body)?)
    });
    let body = match body {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(run_id = %run.id, error = %error, "Cannot make the run's results report; the tenant will not receive it.");
            return;
        }
    };
    let mut session = Session { paths, client, reloaded: false, unauthorized: false, succeeded: false };
    let mut result = session.client.post_report(RESULTS_PATH, &body).await;
    if matches!(result, Err(TenantError::Unauthorized)) && session.reload() {
        result = session.client.post_report(RESULTS_PATH, &body).await;
    }
    match session.settle(result) {
        Ok(()) => tracing::warn!(run_id = %run.id, "The run's results were sent directly to the tenant, not spooled."),
        Err(error) => {
            tracing::error!(run_id = %run.id, error = %error, "Cannot send the run's results directly; the tenant will not receive them.")
        }
    }
}

/// Writes the results report of run `run_id`, just closed as interrupted, into
/// the spool (in the caller's transaction, see `checkin::close_interrupted_runs`);
/// it goes out with the next delivery, before the reports spooled after it.
pub(crate) fn spool_interrupted_run(store: &Store, run_id: &str) -> Result<(), StoreError> {
    let Some(run) = store.run(run_id)? else { return Ok(()) };
    match spool_results(store, &run) {
        Ok(()) => {
            tracing::info!(run_id = %run_id, "The interrupted run's results are spooled for the tenant.");
            Ok(())
        }
        Err(error) => match error.downcast::<StoreError>() {
            Ok(error) => Err(error),
            Err(error) => {
                tracing::error!(run_id = %run_id, error = %error, "Cannot spool the interrupted run's results.");
                Ok(())
            }
        },
    }
}

/// Says what is left in the spool, if anything.
fn log_spool(store: &Store) {
    match store.spool_counts().and_then(|counts| Ok((counts, store.spool_next_attempt()?))) {
        Ok(((0, 0), _)) => {}
        Ok(((waiting, parked), next)) => {
            let next = next.map(crate::state::time_text).unwrap_or_else(|| "the next check-in".to_string());
            tracing::info!(waiting, parked, next_attempt = %next, "Reports remain in the spool.");
        }
        Err(error) => tracing::error!(error = %error, "Cannot read the spool."),
    }
}

/// One stretch of talking to the tenant.
struct Session<'a> {
    paths: &'a AgentPaths,
    client: TenantClient,
    /// The configuration was read again after a `401` (once per stretch).
    reloaded: bool,
    /// A request ended in `401` even after the reload.
    unauthorized: bool,
    /// A request succeeded.
    succeeded: bool,
}

impl Session<'_> {
    /// Sends `checkin` and acts on its commands; says whether the tenant answered,
    /// and what it said about the agent's version.
    async fn checkin(
        &mut self,
        store: &Store,
        kind: CheckinKind,
        trigger: Trigger,
        facts: &inventory::CheapFacts,
    ) -> (bool, Option<Advice>) {
        let body = match checkin_body(store, kind, facts) {
            Ok(body) => body,
            Err(error) => {
                tracing::error!(error = %error, "Cannot read the device id for the tenant check-in.");
                return (false, None);
            }
        };
        let mut result = self.client.checkin(&body).await;
        if matches!(result, Err(TenantError::Unauthorized)) && self.reload() {
            result = self.client.checkin(&body).await;
        }
        match self.settle(result) {
            Ok(reply) => {
                super::answered::remember(store);
                act_on_commands(store, &reply, trigger);
                let advice =
                    Advice { minimum_agent_version: reply.minimum_agent_version, latest_agent: reply.latest_agent };
                (true, Some(advice))
            }
            Err(error) if error.tenant_down() => {
                tracing::warn!(error = %error, "Tenant check-in failed; using the saved blueprint.");
                (false, None)
            }
            Err(error) => {
                tracing::error!(error = %error, "Tenant check-in failed.");
                (error != TenantError::Unauthorized, None)
            }
        }
    }

    /// Fetches the blueprint if it changed and saves it; keeps the saved one otherwise.
    /// Without a usable saved blueprint, no `If-None-Match`: the full copy.
    async fn fetch_blueprint(&mut self, store: &Store, saved_usable: bool) {
        let etag = store.tenant_value(ETAG_KEY).ok().flatten().filter(|_| saved_usable);
        let device_id = match store.device_id() {
            Ok(device_id) => device_id,
            Err(error) => {
                tracing::error!(error = %error, "Cannot read the device id; using the saved blueprint.");
                return;
            }
        };
        let mut result = self.client.blueprint(&device_id, etag.as_deref()).await;
        if matches!(result, Err(TenantError::Unauthorized)) && self.reload() {
            result = self.client.blueprint(&device_id, etag.as_deref()).await;
        }
        match self.settle(result) {
            Ok(BlueprintReply::NotModified) => tracing::info!("The blueprint is unchanged (304); using the saved one."),
            Ok(BlueprintReply::Changed { body, etag }) => match super::saved::save(self.paths, &body) {
                Ok(id) => {
                    tracing::info!(blueprint_id = %id, "Received a new blueprint.");
                    if let Err(error) = store.set_tenant_value(ETAG_KEY, etag.as_deref()) {
                        tracing::error!(error = %error, "Cannot save the blueprint's ETag.");
                    }
                }
                Err(error) => {
                    tracing::error!(error = %error, "The tenant's blueprint is unusable; using the saved one.")
                }
            },
            Err(error) => tracing::warn!(error = %error, "Cannot fetch the blueprint; using the saved one."),
        }
    }

    /// Sends due reports oldest first; stops at the first one the tenant did not
    /// take (so order holds), parks the ones it refused for good.
    async fn flush(&mut self, store: &Store, ignore_backoff: bool) -> Result<(), StoreError> {
        for report in store.spool_due(Utc::now(), ignore_backoff)? {
            let mut result = self.client.post_report(&report.path, &report.body).await;
            if matches!(result, Err(TenantError::Unauthorized)) && self.reload() {
                result = self.client.post_report(&report.path, &report.body).await;
            }
            match self.settle(result) {
                Ok(()) => {
                    store.spool_remove(&report.report_id)?;
                    tracing::info!(report_id = %report.report_id, path = %report.path, "Report sent to the tenant.");
                }
                Err(error) if error.parks_report() => {
                    store.spool_park(&report.report_id, &error.to_string())?;
                    tracing::error!(report_id = %report.report_id, error = %error, "The tenant refused the report; it is kept aside and not sent again.");
                }
                Err(error) => {
                    let wait = backoff(report.attempts + 1, jitter());
                    let next = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                    store.spool_retry_later(&report.report_id, next, &error.to_string())?;
                    tracing::warn!(report_id = %report.report_id, error = %error, retry_in = %humantime::format_duration(wait), "Report not sent; it waits in the spool.");
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Reads the configuration again for a rotated token; `true` when there is a
    /// client to try again with (once per stretch).
    fn reload(&mut self) -> bool {
        if self.reloaded {
            return false;
        }
        self.reloaded = true;
        let environment =
            std::env::vars_os().filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)));
        match crate::config::load(self.paths, environment, &[]).map(|loaded| TenantClient::new(&loaded.config)) {
            Ok(Ok(Some(client))) => {
                if !client.same_token(&self.client) {
                    tracing::info!("The tenant refused the token; trying again with the token now configured.");
                }
                self.client = client;
                true
            }
            Ok(Ok(None)) => false,
            Ok(Err(error)) => {
                tracing::error!(error = %error, "Cannot set up the tenant client after reading the configuration again.");
                true
            }
            Err(errors) => {
                tracing::error!(errors = %errors, "The configuration read after a 401 is invalid; keeping the token in use.");
                true
            }
        }
    }

    /// Notes how a request ended, for the stale-token count.
    fn settle<T>(&mut self, result: Result<T, TenantError>) -> Result<T, TenantError> {
        match &result {
            Ok(_) => self.succeeded = true,
            Err(TenantError::Unauthorized) => self.unauthorized = true,
            Err(_) => {}
        }
        result
    }
}

/// Whether the token counts as stale now (drift `stale_token`): enough check-ins in
/// a row ended in `401` and no request has succeeded since. It holds even when no
/// check-in could run, e.g. on a device enrolled with a wrong token that never got
/// a blueprint.
pub(crate) fn token_is_stale(store: &Store) -> Result<bool, StoreError> {
    Ok(refusal_streak(store)? >= STALE_TOKEN_STREAK)
}

/// How many check-ins in a row ended in `401`.
fn refusal_streak(store: &Store) -> Result<u32, StoreError> {
    Ok(store.tenant_value(UNAUTHORIZED_STREAK_KEY)?.and_then(|text| text.parse().ok()).unwrap_or(0))
}

/// Counts check-ins ending in `401` (when `count_refusal`); any success resets the
/// count. Says whether the token is stale now.
fn record_token_outcome(store: &Store, session: &Session<'_>, count_refusal: bool) -> Result<bool, StoreError> {
    let streak = refusal_streak(store)?;
    let streak = if session.succeeded {
        0
    } else if session.unauthorized && count_refusal {
        streak + 1
    } else {
        streak
    };
    store.set_tenant_value(UNAUTHORIZED_STREAK_KEY, Some(&streak.to_string()))?;
    if streak >= STALE_TOKEN_STREAK {
        tracing::error!(streak, "The tenant has refused the token in {streak} check-ins in a row: drift stale_token.");
    }
    Ok(streak >= STALE_TOKEN_STREAK)
}

fn checkin_body(store: &Store, kind: CheckinKind, facts: &inventory::CheapFacts) -> Result<CheckinBody, StoreError> {
    Ok(CheckinBody {
        device_id: store.device_id()?,
        kind: kind.as_str().to_string(),
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        serial_number: facts.serial_number.clone(),
        hostname: nix::unistd::gethostname().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default(),
        os_version: facts.os_version.clone(),
    })
}

/// Acts on the tenant's commands: `blankpush` and `dailycheckin` are saved as
/// requests for a check-in ([`super::requests`]); `updateinventory` makes this
/// check-in collect and send inventory after its items. `minimum_agent_version` and
/// `latest_agent` are the self-update's, after the results.
fn act_on_commands(store: &Store, reply: &CheckinReply, trigger: Trigger) {
    for command in &reply.commands {
        match command.command_type.as_str() {
            "blankpush" | "dailycheckin" => {
                if let Some(asked) = super::requests::TenantCommand::parse(&command.command_type) {
                    super::requests::save(store, &command.id, asked, trigger);
                }
            }
            "updateinventory" => match request_inventory(store) {
                Ok(()) => {
                    tracing::info!(command_id = %command.id, "The tenant asked for inventory; it is sent after this check-in's items.")
                }
                Err(error) => {
                    tracing::error!(command_id = %command.id, error = %error, "Cannot save the tenant's inventory request.")
                }
            },
            other => {
                tracing::warn!(command_id = %command.id, command = %other, "The tenant sent an unknown command; ignored.")
            }
        }
    }
}

/// The wait before attempt `attempt` (1 = the first retry): doubling from
/// [`FIRST_BACKOFF`], capped at [`MAX_BACKOFF`], minus up to half at random
/// (`jitter` in 0..1) so a fleet that lost its tenant does not come back at once.
pub(crate) fn backoff(attempt: u32, jitter: f64) -> Duration {
    let doubled = FIRST_BACKOFF.saturating_mul(1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX));
    let capped = doubled.min(MAX_BACKOFF);
    capped.mul_f64(1.0 - 0.5 * jitter.clamp(0.0, 1.0))
}

/// A number in 0..1 from the standard library's randomly seeded hasher.
fn jitter() -> f64 {
    let random = std::collections::hash_map::RandomState::new().hash_one(Utc::now().timestamp_nanos_opt());
    (random >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_and_jitter_only_shortens_it() {
        assert_eq!(backoff(1, 0.0), Duration::from_secs(60));
        assert_eq!(backoff(2, 0.0), Duration::from_secs(120));
        assert_eq!(backoff(4, 0.0), Duration::from_secs(480));
        assert_eq!(backoff(20, 0.0), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX, 0.0), MAX_BACKOFF);
        assert_eq!(backoff(1, 1.0), Duration::from_secs(30));
        for _ in 0..100 {
            let wait = backoff(3, jitter());
            assert!(wait > Duration::from_secs(120) && wait <= Duration::from_secs(240), "{wait:?}");
        }
    }
}
