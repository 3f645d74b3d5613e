//! The command channel: while the daemon runs, one long-poll to the tenant is
//! open (`GET /api/v1/agent/commands?wait=S`, [`crate::tenant::PollReply`]), so a
//! command an admin queues (`blankpush`, `dailycheckin`, `updateinventory`) runs
//! as its check-in within seconds instead of at the next scheduled one.
//!
//! A command that arrives is saved in the store like one from a check-in's reply
//! ([`crate::tenant::requests`]) and the scheduler is woken; it runs the check-in
//! next, through the usual queue and lock. The check-in stays the source of truth:
//! a command the channel missed comes in the next check-in's reply, and one that
//! came both ways runs once (by its command id).
//!
//! When it polls:
//! - at once when the daemon starts, if the device holds a token (the token
//!   file, or `tenant.token`); else once a check-in ended (it enrolls the device);
//! - never when `tenant.command_channel` is off or no tenant is configured;
//! - after a `404` (the tenant does not offer it), not until a daily check-in ended;
//! - after a `401`, not until the next check-in ended (which re-enrolls or
//!   reads a rotated token);
//! - after any other error (unreachable, `5xx`, garbage), after a pause at a
//!   random point of the second half of a window ([`crate::backoff`]) that starts at
//!   [`FIRST_RETRY_WINDOW`] and doubles up to `tenant.command_retry_max`; the
//!   streak ends with an answer, or with a request still open past
//!   `tenant.connect_timeout` (it got through: the tenant holds it);
//! - otherwise at once after each answer, asking the tenant to hold the next
//!   request for a random 90 to 100 % of `tenant.command_wait`, so a fleet that
//!   reconnected together after a tenant restart drifts apart instead of renewing
//!   in step.
//!
//! A new configuration ends the poll under way and lifts every pause. Idle, the
//! channel is one open connection and one timer: no polling loop. Each change of
//! its state is logged once and kept in the store for `agent status`
//! ([`crate::tenant::channel_status`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::queue::WorkQueue;
use crate::backoff;
use crate::config::AgentConfig;
use crate::paths::AgentPaths;
use crate::state::Store;
use crate::tenant::channel_status::{self, ChannelState, ChannelStatus};
use crate::tenant::credential::Credential;
use crate::tenant::requests::{Arrival, act_on};
use crate::tenant::{PollReply, TenantClient, TenantError};

/// The window of the first pause after an error.
pub(crate) const FIRST_RETRY_WINDOW: Duration = Duration::from_secs(5);

/// The check-ins the daemon ended, counted, for the channel's pauses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CheckinsEnded {
    /// Every check-in that ran, whatever its outcome, or could not start.
    pub(crate) any: u64,
    /// Daily check-ins that reached their end.
    pub(crate) daily: u64,
}

/// What the channel needs from the daemon.
pub(crate) struct CommandChannel {
    /// Where everything lives.
    pub(crate) paths: AgentPaths,
    /// The configuration in force.
    pub(crate) config: watch::Receiver<Arc<AgentConfig>>,
    /// The scheduler's count of ended check-ins.
    pub(crate) ended: watch::Receiver<CheckinsEnded>,
    /// The daemon's queue, whose scheduler is woken for a saved command.
    pub(crate) queue: Arc<WorkQueue>,
    /// Fires when the daemon stops.
    pub(crate) shutdown: CancellationToken,
}

/// What the channel remembers between polls.
#[derive(Default)]
struct Memory {
    /// After a `401`: the count of check-ins then.
    unauthorized_at: Option<u64>,
    /// After a `404`: the count of daily check-ins then.
    not_offered_at: Option<u64>,
    /// Errors in a row.
    failures: u32,
    /// When the next attempt may start, after an error.
    retry_at: Option<Instant>,
    /// The client, with the configuration it was built from.
    client: Option<(Arc<AgentConfig>, Arc<TenantClient>)>,
    /// The device id, read once.
    device_id: Option<String>,
    /// The state last logged and kept, so each is logged once.
    state: Option<ChannelState>,
}

/// What the channel waits for before it polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// Off, or no tenant: a new configuration.
    Configuration,
    /// No device token yet: a check-in (which enrolls) to end.
    Enrollment,
    /// After a `401`: a check-in to end after this many.
    Checkin(u64),
    /// A daily check-in to end after this many.
    DailyCheckin(u64),
    /// The end of a pause after an error.
    Until(Instant),
}

/// How one poll ended.
enum Polled {
    /// The tenant answered, or failed to.
    Replied(Result<PollReply, TenantError>),
    /// A new configuration arrived first.
    Reconfigured,
    /// The daemon is stopping.
    Stopped,
}

impl CommandChannel {
    /// Keeps the channel open until the daemon stops.
    pub(crate) async fn listen(mut self) {
        let mut memory = Memory::default();
        while !self.shutdown.is_cancelled() {
            let config = self.config.borrow_and_update().clone();
            if let Some(gate) = self.gate(&config, &memory) {
                self.announce(&mut memory, Some(gate));
                self.wait(gate, &mut memory).await;
                continue;
            }
            self.announce(&mut memory, None);
            match self.poll(&config, &mut memory).await {
                Polled::Replied(reply) => self.settle(reply, &mut memory),
                Polled::Reconfigured => memory.reconfigured(),
                Polled::Stopped => break,
            }
        }
        if memory.state.is_some() {
            self.keep(&mut memory, ChannelState::Closed, None);
        }
    }

    /// What the channel must wait for now, if anything.
    fn gate(&self, config: &AgentConfig, memory: &Memory) -> Option<Gate> {
        if !config.tenant.command_channel || config.tenant.url.is_none() {
            return Some(Gate::Configuration);
        }
        let ended = *self.ended.borrow();
        if Credential::choose(&self.paths, config.tenant.token.clone()).in_use.is_none() {
            return Some(Gate::Enrollment);
        }
        if let Some(count) = memory.unauthorized_at.filter(|count| *count == ended.any) {
            return Some(Gate::Checkin(count));
        }
        if let Some(count) = memory.not_offered_at.filter(|count| *count == ended.daily) {
            return Some(Gate::DailyCheckin(count));
        }
        memory.retry_at.filter(|at| *at > Instant::now()).map(Gate::Until)
    }

    /// Waits until `gate` may have opened: a check-in ended, the pause is over, a
    /// new configuration (which lifts every pause), or the daemon stops.
    async fn wait(&mut self, gate: Gate, memory: &mut Memory) {
        let until = match gate {
            Gate::Until(at) => Some(at),
            _ => None,
        };
        tokio::select! {
            () = self.shutdown.cancelled() => {}
            changed = self.config.changed() => {
                if changed.is_err() {
                    self.shutdown.cancelled().await;
                }
                memory.reconfigured();
            }
            changed = self.ended.changed(), if until.is_none() && gate != Gate::Configuration => {
                if changed.is_err() {
                    self.shutdown.cancelled().await;
                }
            }
            () = tokio::time::sleep_until(until.unwrap_or_else(Instant::now)), if until.is_some() => {}
        }
    }

    /// One long-poll, cut short by a new configuration or the stop.
    async fn poll(&mut self, config: &Arc<AgentConfig>, memory: &mut Memory) -> Polled {
        let device_id = match memory.device_id(&self.paths) {
            Ok(device_id) => device_id,
            Err(error) => return Polled::Replied(Err(error)),
        };
        let client = match memory.client_for(&self.paths, config) {
            Ok(client) => client,
            Err(error) => return Polled::Replied(Err(error)),
        };
        client.refresh_credential();
        let wait = splayed_wait(config.tenant.command_wait, backoff::jitter());
        let reply = client.poll_commands(&device_id, wait);
        tokio::pin!(reply);
        // A request still open past the connect timeout got through: the tenant
        // holds it. In a streak of errors that is the tenant reached again, long
        // before its answer says so.
        let held = tokio::time::sleep(config.tenant.connect_timeout + Duration::from_secs(1));
        tokio::pin!(held);
        let mut streak = memory.failures > 0;
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => return Polled::Stopped,
                // The configuration's sender goes only when the daemon ends.
                changed = self.config.changed() => {
                    return if changed.is_ok() { Polled::Reconfigured } else { Polled::Stopped };
                }
                reply = &mut reply => return Polled::Replied(reply),
                () = &mut held, if streak => {
                    streak = false;
                    self.reached_again(memory);
                }
            }
        }
    }

    /// Ends a streak of errors: logged, and the channel kept as listening.
    fn reached_again(&self, memory: &mut Memory) {
        if memory.failures > 0 {
            tracing::info!(failures = memory.failures, "The command channel reaches the tenant again.");
            self.keep(memory, ChannelState::Listening, None);
        }
        memory.failures = 0;
        memory.retry_at = None;
    }

    /// Acts on what the tenant answered and decides the next pause.
    fn settle(&self, reply: Result<PollReply, TenantError>, memory: &mut Memory) {
        if reply.as_ref().is_ok_and(|reply| !matches!(reply, PollReply::NotOffered)) {
            self.reached_again(memory);
        }
        match reply {
            Ok(PollReply::Commands(commands)) => self.take(&commands),
            Ok(PollReply::NothingYet) => {}
            Ok(PollReply::NotOffered) => memory.not_offered_at = Some(self.ended.borrow().daily),
            Err(TenantError::Unauthorized) => memory.unauthorized_at = Some(self.ended.borrow().any),
            Err(error) => {
                memory.failures = memory.failures.saturating_add(1);
                let longest = self.config.borrow().tenant.command_retry_max;
                let pause = backoff::pause_after(memory.failures, FIRST_RETRY_WINDOW, longest, backoff::jitter());
                memory.retry_at = Some(Instant::now() + pause);
                let retry_in = humantime::format_duration(Duration::from_millis(pause.as_millis() as u64));
                if memory.failures == 1 {
                    tracing::warn!(error = %error, retry_in = %retry_in, "The command channel cannot reach the tenant; trying again after a pause.");
                    self.keep(memory, ChannelState::Unreachable, Some(error.to_string()));
                } else {
                    tracing::info!(error = %error, failures = memory.failures, retry_in = %retry_in, "The command channel still cannot reach the tenant.");
                }
            }
        }
    }

    /// Saves the commands that came and wakes the scheduler for them.
    fn take(&self, commands: &[crate::tenant::Command]) {
        if commands.is_empty() {
            return;
        }
        let saved = match Store::open(&self.paths.store_file) {
            Ok(store) => act_on(&store, commands, Arrival::Channel),
            Err(error) => {
                tracing::error!(error = %error, "Cannot save the commands the channel brought; the next check-in's reply carries them again.");
                false
            }
        };
        if saved {
            self.queue.tenant_asked();
        }
    }

    /// Logs the channel's state when it changed (off, waiting, listening) and
    /// keeps it for `agent status`.
    fn announce(&self, memory: &mut Memory, gate: Option<Gate>) {
        let state = match gate {
            // In a streak of errors the channel is unreachable until a reply says otherwise.
            None if memory.failures > 0 => return,
            None => ChannelState::Listening,
            Some(Gate::Configuration) => ChannelState::Off,
            Some(Gate::Enrollment) => ChannelState::NotEnrolled,
            Some(Gate::Checkin(_)) => ChannelState::Unauthorized,
            Some(Gate::DailyCheckin(_)) => ChannelState::NotOffered,
            Some(Gate::Until(_)) => return,
        };
        if memory.state == Some(state) {
            return;
        }
        match state {
            ChannelState::Listening => tracing::info!("Listening for the tenant's commands."),
            ChannelState::Off => tracing::info!("The command channel is off (tenant.command_channel, or no tenant)."),
            ChannelState::NotEnrolled => {
                tracing::info!("The command channel waits for the device to enroll (at its next check-in).")
            }
            ChannelState::Unauthorized => tracing::warn!(
                "The tenant refused the device token on the command channel (401); listening again after the next check-in."
            ),
            ChannelState::NotOffered => tracing::info!(
                "The tenant does not offer the command channel (404); asking again after the next daily check-in."
            ),
            ChannelState::Unreachable | ChannelState::Closed => {}
        }
        self.keep(memory, state, None);
    }

    /// Keeps the channel's state in the store for `agent status` (once per change).
    fn keep(&self, memory: &mut Memory, state: ChannelState, message: Option<String>) {
        memory.state = Some(state);
        let recorded = Store::open(&self.paths.store_file)
            .and_then(|store| channel_status::record(&store, &ChannelStatus::now(state, message)));
        if let Err(error) = recorded {
            tracing::warn!(error = %error, "Cannot keep the command channel's state for agent status.");
        }
    }
}

impl Memory {
    /// A new configuration: a new client, and no pause left from the old one.
    fn reconfigured(&mut self) {
        self.client = None;
        self.unauthorized_at = None;
        self.not_offered_at = None;
        self.failures = 0;
        self.retry_at = None;
    }

    /// The client for `config`, built when there is none for it yet.
    fn client_for(&mut self, paths: &AgentPaths, config: &Arc<AgentConfig>) -> Result<Arc<TenantClient>, TenantError> {
        if let Some((built_for, client)) = &self.client
            && Arc::ptr_eq(built_for, config)
        {
            return Ok(Arc::clone(client));
        }
        let client = TenantClient::for_device(paths, config)?
            .ok_or_else(|| TenantError::Unreachable { reason: "no tenant is configured".to_string() })?;
        let client = Arc::new(client);
        self.client = Some((Arc::clone(config), Arc::clone(&client)));
        Ok(client)
    }

    /// The device's id, read from the store once.
    fn device_id(&mut self, paths: &AgentPaths) -> Result<String, TenantError> {
        if let Some(device_id) = &self.device_id {
            return Ok(device_id.clone());
        }
        let read = Store::open(&paths.store_file).and_then(|store| store.device_id());
        let device_id = read.map_err(|error| TenantError::Unreachable { reason: error.to_string() })?;
        Ok(self.device_id.insert(device_id).clone())
    }
}

/// How long to ask the tenant to hold a poll: `wait` less up to a tenth of it,
/// by `fraction` (0 to 1), in whole seconds, at least one.
fn splayed_wait(wait: Duration, fraction: f64) -> Duration {
    let seconds = wait.as_secs_f64() * (0.9 + 0.1 * fraction.clamp(0.0, 1.0));
    Duration::from_secs((seconds.round() as u64).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_poll_asks_for_ninety_to_a_hundred_percent_of_the_wait_in_whole_seconds() {
        let wait = Duration::from_secs(300);
        assert_eq!(splayed_wait(wait, 0.0), Duration::from_secs(270));
        assert_eq!(splayed_wait(wait, 1.0), Duration::from_secs(300));
        assert_eq!(splayed_wait(wait, 0.5), Duration::from_secs(285));
        assert_eq!(splayed_wait(Duration::from_millis(200), 0.3), Duration::from_secs(1), "at least a second");
    }
}
