//! What a check-in does with its tenant at its start: `checkin` (acting on the
//! commands it answers with) and `blueprint`; and the [`Session`] every request
//! goes through, which answers a `401` by enrolling again with the secret (once
//! per check-in), else by reading the configuration afresh (a rotated token may have
//! arrived through managed preferences), and tries once more.
//!
//! Nothing here fails a check-in: a tenant that is down, hung, refuses the token
//! or talks garbage is logged, and the check-in goes on from the saved blueprint.
//! The results report at the end is `results_report`'s, sending the spool
//! `spool_delivery`'s, and counting refused tokens `token`'s.

use super::client::{BlueprintReply, TenantClient, TenantError};
use super::enrollment::enroll_body;
use super::protocol::CheckinBody;
use super::requests::Arrival;
use super::token::{TokenOutcome, record_token_outcome};
use crate::config::AgentConfig;
use crate::inventory::{self, Platform};
use crate::paths::AgentPaths;
use crate::plan::CheckinKind;
use crate::self_update::Advice;
use crate::state::{Store, StoreError, Trigger};

/// The `device` keys the client keeps.
pub(crate) const ETAG_KEY: &str = "tenant_blueprint_etag";

/// What the start of a check-in learned about the tenant.
pub(crate) struct Contact {
    /// The client, with the freshest token; `None` when it could not be built.
    pub(super) client: Option<TenantClient>,
    /// The tenant answered `checkin` (so spooled reports need not wait out their backoff).
    pub(super) answered: bool,
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

    /// The oldest agent the tenant's check-in reply accepts, when it named a valid one.
    pub(crate) fn minimum_agent_version(&self) -> Option<semver::Version> {
        let minimum = self.agent_advice.as_ref()?.minimum_agent_version.as_deref()?;
        semver::Version::parse(minimum.trim()).ok()
    }

    /// Takes what the check-in reply said about the agent's version.
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
    let client = match TenantClient::for_device(paths, config) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %error, "Cannot set up the tenant client; using the saved blueprint.");
            None
        }
    };
    let Some(mut client) = client else {
        return Contact { client: None, answered: false, stale_token: false, agent_advice: None };
    };
    let saved_usable = saved_blueprint_usable(paths);
    let facts = inventory::cheap_facts(paths, config, Platform::current()).await;
    match enroll_body(store, &facts) {
        Ok(body) => client.set_enrollment(body),
        Err(error) => tracing::error!(error = %error, "Cannot read the device id for an enrollment."),
    }
    let mut session = Session::new(paths, client);
    session.enroll_if_needed().await;
    let (answered, agent_advice) = session.checkin(store, kind, trigger, &facts).await;
    if answered {
        session.fetch_blueprint(store, saved_usable).await;
    }
    let stale_token = match record_token_outcome(store, session.outcome, true) {
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

/// One stretch of talking to the tenant.
pub(super) struct Session<'a> {
    paths: &'a AgentPaths,
    /// The client, replaced by one with the token now configured after a `401`.
    pub(super) client: TenantClient,
    /// The configuration was read again after a `401` (once per stretch).
    reloaded: bool,
    /// Whether a request succeeded, or ended in `401` even after the reload.
    pub(super) outcome: TokenOutcome,
}

impl<'a> Session<'a> {
    /// A stretch that has sent nothing yet.
    pub(super) fn new(paths: &'a AgentPaths, client: TenantClient) -> Self {
        Self { paths, client, reloaded: false, outcome: TokenOutcome::default() }
    }
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
        if matches!(result, Err(TenantError::Unauthorized)) && self.recover().await {
            result = self.client.checkin(&body).await;
        }
        match self.settle(result) {
            Ok(reply) => {
                super::answered::remember(store);
                super::requests::act_on(store, &reply.commands, Arrival::Checkin(trigger));
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
        if matches!(result, Err(TenantError::Unauthorized)) && self.recover().await {
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

    /// Before the first request: enrolls when the device has a secret and no token.
    pub(super) async fn enroll_if_needed(&mut self) {
        if !self.client.needs_enrollment() {
            return;
        }
        let result = self.client.enroll().await;
        if let Err(error) = self.settle(result) {
            tracing::error!(error = %error, "Cannot enroll with the tenant.");
        }
    }

    /// After a `401`: enrolls again with the secret (a revoked device token; once
    /// per check-in), else reads the configuration again ([`Self::reload`]); `true`
    /// when there is something to try again with.
    pub(super) async fn recover(&mut self) -> bool {
        if self.client.can_enroll() {
            match self.client.enroll().await {
                Ok(()) => return true,
                Err(error) => tracing::error!(error = %error, "Cannot enroll again with the tenant."),
            }
        }
        self.reload()
    }

    /// Reads the configuration again for a rotated token; `true` when there is a
    /// client to try again with (once per stretch).
    pub(super) fn reload(&mut self) -> bool {
        if self.reloaded {
            return false;
        }
        self.reloaded = true;
        let environment =
            std::env::vars_os().filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)));
        let loaded = crate::config::load(self.paths, environment, &[]);
        match loaded.map(|loaded| TenantClient::for_device(self.paths, &loaded.config)) {
            Ok(Ok(Some(mut client))) => {
                client.carry_over(&self.client);
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
    pub(super) fn settle<T>(&mut self, result: Result<T, TenantError>) -> Result<T, TenantError> {
        match &result {
            Ok(_) => self.outcome.succeeded = true,
            Err(TenantError::Unauthorized) => self.outcome.unauthorized = true,
            Err(_) => {}
        }
        result
    }
}

/// The `checkin` request's body: who this device is and what kind of check-in starts.
fn checkin_body(store: &Store, kind: CheckinKind, facts: &inventory::CheapFacts) -> Result<CheckinBody, StoreError> {
    let device = enroll_body(store, facts)?;
    Ok(CheckinBody {
        device_id: device.device_id,
        kind: kind.as_str().to_string(),
        agent_version: device.agent_version,
        serial_number: device.serial_number,
        hostname: device.hostname,
        os_version: device.os_version,
    })
}
