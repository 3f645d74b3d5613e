//! The daemon's loop: work out the next check-in from what the store recorded,
//! sleep until then (waking early for a request or a new configuration), read the
//! configuration again if one of its files changed ([`super::reload`]; a changed
//! interval means planning again), run it under the check-in lock, repeat. One
//! check-in at a time: requests that arrive meanwhile wait in the [`WorkQueue`]
//! and go before the next scheduled one.
//!
//! A check-in the tenant asked for (`blankpush`, `dailycheckin`, saved in the
//! store by the check-in that received it) is due at once: it runs right after
//! that check-in, with trigger `tenant`, through the same queue. One received
//! during such a check-in waits for the schedule ([`crate::tenant::requests`]
//! says why).
//!
//! A scheduled check-in that cannot start waits for the next slot
//! (`failed_start`).

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::command_channel::CheckinsEnded;
use super::protocol::{Reply, ScheduledCheckin};
use super::queue::{Job, WorkQueue};
use super::reload::ConfigSource;
use crate::checkin::{CheckedIn, CheckinError, CheckinRequest, ProgressEvent};
use crate::config::AgentConfig;
use crate::paths::AgentPaths;
use crate::plan::CheckinKind;
use crate::run_lock::LockError;
use crate::schedule::{self, Cadence, LONGEST_NAP, NextCheckin, ScheduleState, WallClock};
use crate::state::{RunOutcome, RunRecord, Store, StoreError, TenantRequest, Trigger};
use failed_start::retry_at;
pub(crate) use runner::{CheckinCall, CheckinRunner, SystemCheckins};

mod failed_start;
mod runner;

/// What the daemon needs to run check-ins on its own.
pub(crate) struct Scheduler<'a> {
    /// Where everything lives.
    pub(crate) paths: &'a AgentPaths,
    /// The configuration in force; SIGHUP sends a new one.
    pub(crate) config: watch::Receiver<Arc<AgentConfig>>,
    /// Where the configuration comes from, read again before a check-in when a
    /// source changed.
    pub(crate) source: &'a ConfigSource,
    /// Requests from the control socket.
    pub(crate) queue: &'a WorkQueue,
    /// The wall clock the schedule is reckoned by.
    pub(crate) clock: &'a dyn WallClock,
    /// What runs a check-in once it is due: [`SystemCheckins`] in the daemon.
    pub(crate) checkins: &'a dyn CheckinRunner,
    /// Fires when the daemon is asked to stop.
    pub(crate) shutdown: &'a CancellationToken,
    /// Counts the check-ins that ended, for the command channel's pauses.
    pub(crate) ended: &'a watch::Sender<CheckinsEnded>,
    /// What the schedule keeps in memory.
    pub(crate) memory: ScheduleMemory,
}

/// What the scheduler remembers besides the store.
#[derive(Debug, Default)]
pub(crate) struct ScheduleMemory {
    /// A daily check-in was asked for and is still owed.
    ///
    /// The store keeps the request too (until a daily check-in completes); this
    /// copy covers the request while its own check-in runs.
    daily_requested: bool,
    /// When a scheduled check-in could not start (no blueprint, a broken one): the
    /// next is not tried before the slot the schedule gives after a start then,
    /// never a tight loop. Kept as that time, not the slot, so a clock stepped far
    /// back lifts it as it lifts a recorded start (one attempt at once). A reloaded
    /// configuration lifts it too, since it may fix what was wrong.
    failed_at: Option<DateTime<Utc>>,
    /// The next check-in last logged, so each is logged once (and one due at
    /// once, which starts right away, not at all).
    announced: Option<NextCheckin>,
    /// A check-in ended since the daemon last went idle: its code pages are
    /// given back before the next sleep ([`super::code_pages`]).
    give_back_code: bool,
    /// The newest tenant request a check-in was started for: one that is still
    /// saved afterwards (its check-in could not start) waits for the schedule
    /// instead of being tried again in a tight loop.
    tenant_tried_up_to: Option<i64>,
}

impl ScheduleMemory {
    /// A daily check-in was asked for.
    fn daily_asked(&mut self) {
        self.daily_requested = true;
    }

    /// The owed daily check-in was given (or its requester was answered).
    fn daily_settled(&mut self) {
        self.daily_requested = false;
    }
}

impl Scheduler<'_> {
    /// Runs check-ins until the daemon is asked to stop; a check-in running then is
    /// stopped through its cancellation and recorded before this returns.
    pub(crate) async fn run(mut self) {
        let mut config_open = true;
        while !self.shutdown.is_cancelled() {
            if let Some(job) = self.queue.take(self.clock.now()) {
                self.run_job(job).await;
                continue;
            }
            if self.config.has_changed().unwrap_or(false) {
                // A new configuration (SIGHUP, a changed file), perhaps sent while
                // the last attempt ran: it may fix what kept that one from starting.
                self.memory.failed_at = None;
            }
            let config = self.config.borrow_and_update().clone();
            if let Some(asked) = self.tenant_request_due() {
                self.run_for_tenant(asked, &config).await;
                continue;
            }
            let next = match self.next_checkin(&config) {
                Ok(next) => next,
                // A check-in heals a damaged store (a daily one: the fresh store
                // knows none); one that could not is not tried again at once.
                Err(error) if error.is_damage() && self.memory.failed_at.is_none() => {
                    tracing::warn!(error = %error, "The state store is damaged; checking in now to rebuild it.");
                    NextCheckin { at: self.clock.now(), kind: CheckinKind::Daily }
                }
                Err(error) => {
                    let error = format!("{:#}", anyhow::Error::from(error));
                    tracing::error!(error = %error, "Cannot read the schedule from the state store; trying again in a minute.");
                    self.nap().await;
                    continue;
                }
            };
            if next.at <= self.clock.now() {
                // A new configuration may move the schedule: plan again with it.
                if self.reload_if_changed() {
                    continue;
                }
                if self.queue.begin_scheduled(self.clock.now()) {
                    self.run_scheduled(next.kind, Trigger::Schedule, &config).await;
                }
                continue;
            }
            if std::mem::take(&mut self.memory.give_back_code) {
                // Idle until `next`: the check-in's code is not needed till then.
                super::code_pages::give_back();
            }
            tokio::select! {
                () = self.shutdown.cancelled() => {}
                () = self.queue.arrival() => {}
                changed = self.config.changed(), if config_open => {
                    config_open = changed.is_ok();
                    // The admin may have fixed what kept the last attempt from starting.
                    self.memory.failed_at = None;
                }
                () = schedule::sleep_until(self.clock, next.at) => {}
            }
        }
    }

    /// The next check-in by the store's record and what is kept in memory.
    fn next_checkin(&mut self, config: &AgentConfig) -> Result<NextCheckin, StoreError> {
        let store = Store::open(&self.paths.store_file)?;
        let cadence = cadence(config);
        let splay = schedule::splay(&store.device_id()?, cadence.recurring_interval);
        let mut state = ScheduleState::load(&store)?;
        state.daily_requested |= self.memory.daily_requested;
        let now = self.clock.now();
        let mut next = schedule::next_checkin(&state, &cadence, splay, now);
        if let Some(failed_at) = self.memory.failed_at {
            next.at = next.at.max(retry_at(failed_at, &cadence, splay, now));
        }
        self.queue.set_next_checkin(ScheduledCheckin { at: next.at, kind: next.kind });
        if next.at > self.clock.now() && self.memory.announced != Some(next) {
            tracing::info!(at = %next.at.to_rfc3339(), kind = %next.kind, "Next check-in scheduled.");
            self.memory.announced = Some(next);
        }
        Ok(next)
    }

    /// Reads the configuration again if a source changed; says whether a
    /// configuration newer than the one this pass planned with applies (a reload
    /// here, or a SIGHUP meanwhile), so the caller plans again.
    fn reload_if_changed(&self) -> bool {
        self.source.reload_if_changed() || self.config.has_changed().unwrap_or(false)
    }

    /// A saved tenant request the daemon should serve at once: one that may run at
    /// once and was not tried yet (see [`crate::tenant::requests`]).
    fn tenant_request_due(&self) -> Option<TenantAsked> {
        let pending = match Store::open(&self.paths.store_file).and_then(|store| store.pending_tenant_requests()) {
            Ok(pending) => pending,
            Err(error) => {
                tracing::error!(error = %error, "Cannot read the tenant's requests; they wait for the schedule.");
                return None;
            }
        };
        let untried =
            |request: &&TenantRequest| self.memory.tenant_tried_up_to.is_none_or(|up_to| request.sequence > up_to);
        pending.iter().filter(untried).any(|request| request.run_at_once).then(|| TenantAsked {
            daily: crate::tenant::requests::asks_for_daily(&pending),
            up_to: pending.iter().map(|request| request.sequence).max().unwrap_or_default(),
        })
    }

    /// Waits a minute, or less when a request arrives or the daemon stops.
    async fn nap(&self) {
        tokio::select! {
            () = self.shutdown.cancelled() => {}
            () = self.queue.arrival() => {}
            () = tokio::time::sleep(LONGEST_NAP) => {}
        }
    }

    /// Runs the check-in a saved tenant request asks for, as the schedule's next
    /// (requests from the control socket still go first); with a new
    /// configuration, returns to plan again instead.
    async fn run_for_tenant(&mut self, asked: TenantAsked, config: &AgentConfig) {
        if self.reload_if_changed() || !self.queue.begin_scheduled(self.clock.now()) {
            return;
        }
        self.memory.tenant_tried_up_to = Some(asked.up_to);
        tracing::info!(daily = asked.daily, "Running the check-in the tenant asked for.");
        let kind = if asked.daily { CheckinKind::Daily } else { CheckinKind::Recurring };
        self.run_scheduled(kind, Trigger::Tenant, config).await;
    }

    /// Runs the check-in the schedule (or a saved tenant request) says is due.
    async fn run_scheduled(&mut self, kind: CheckinKind, trigger: Trigger, config: &AgentConfig) {
        let request = CheckinRequest {
            reset_daily: kind == CheckinKind::Daily,
            blueprint: None,
            trigger,
            wait: true,
            item: None,
            force: false,
            requested_by: None,
        };
        let result = run_cancellable(self.checkins, self.paths, config, &request, log_waiting, self.shutdown).await;
        self.queue.finished(self.clock.now());
        self.count_ended(result.as_ref());
        match result {
            Some(Ok(checked_in)) => {
                self.memory.failed_at = None;
                if completed_daily(&checked_in.run) {
                    self.memory.daily_settled();
                }
                self.exit_if_updated(checked_in.agent_updated_to.as_ref());
            }
            Some(Err(error)) => self.hold_until_next_slot(config, error),
            None => tracing::info!("The scheduled check-in was called off before it started."),
        }
    }

    /// Runs a check-in requested over the control socket, streaming its progress
    /// to everyone following it, and answers with its record or why it could not run.
    async fn run_job(&mut self, job: Job) {
        self.reload_if_changed();
        let config = self.config.borrow().clone();
        if job.request.reset_daily {
            self.memory.daily_asked();
            // Saved too, so a daily check-in asked for survives a stop before it ran.
            if let Err(error) = Store::open(&self.paths.store_file).and_then(|store| store.request_daily()) {
                tracing::warn!(error = %error, "Cannot save the request for a daily check-in.");
            }
        }
        let audience = Arc::clone(&job.audience);
        let forward = move |event| audience.send(&Reply::Progress(event));
        let cancel = job.audience.cancel();
        let result = run_cancellable(self.checkins, self.paths, &config, &job.request, forward, cancel).await;
        self.queue.finished(self.clock.now());
        self.count_ended(result.as_ref());
        let (result, updated_to) = split_update(result);
        // Answering the requester settles the daily check-in it asked for, unless
        // the daemon is stopping before one completed: then it stays owed.
        let completed = matches!(&result, Some(Ok(run)) if completed_daily(run));
        if completed || !self.shutdown.is_cancelled() {
            self.memory.daily_settled();
        }
        job.audience.send(&reply_for(result));
        self.exit_if_updated(updated_to.as_ref());
    }

    /// Counts a check-in that ran or could not start (one called off before it
    /// started is not counted), and a daily one that completed, for the command
    /// channel; the code pages it read are given back once the daemon goes idle.
    fn count_ended(&mut self, result: Option<&Result<CheckedIn, CheckinError>>) {
        let Some(result) = result else { return };
        self.memory.give_back_code = true;
        let daily = result.as_ref().is_ok_and(|checked_in| completed_daily(&checked_in.run));
        self.ended.send_modify(|ended| {
            ended.any += 1;
            ended.daily += u64::from(daily);
        });
    }

    /// After a check-in that installed a newer agent: this process is still the
    /// old binary, so the daemon stops the usual bounded way (exit 0) and launchd,
    /// the job being KeepAlive, starts the new one. The package's scripts left the
    /// daemon alone while it installed (see `self_update::marker`).
    fn exit_if_updated(&self, updated_to: Option<&semver::Version>) {
        if let Some(version) = updated_to {
            tracing::info!(agent_version = %version, "Agent updated to {version}; exiting so launchd starts the new binary.");
            self.shutdown.cancel();
        }
    }
}

/// A check-in the tenant asked for, due at once.
struct TenantAsked {
    /// A `dailycheckin` is among the requests: run the daily check-in.
    daily: bool,
    /// The newest saved request the check-in serves.
    up_to: i64,
}

/// The cadence the configuration asks for.
fn cadence(config: &AgentConfig) -> Cadence {
    Cadence { recurring_interval: config.schedule.recurring_interval, daily_interval: config.schedule.daily_interval }
}

/// Whether `run` is a daily check-in that reached its end.
fn completed_daily(run: &RunRecord) -> bool {
    run.header.kind == CheckinKind::Daily
        && run.header.outcome.is_some_and(|outcome| outcome != RunOutcome::Interrupted)
}

/// Runs one check-in. A cancellation before the run started (while it waits for
/// the check-in lock) calls it off at once: `None`. One after the start lets the
/// check-in stop its item and record itself interrupted.
async fn run_cancellable(
    checkins: &dyn CheckinRunner,
    paths: &AgentPaths,
    config: &AgentConfig,
    request: &CheckinRequest,
    mut sink: impl FnMut(ProgressEvent),
    cancel: &CancellationToken,
) -> Option<Result<CheckedIn, CheckinError>> {
    let started = Rc::new(Cell::new(false));
    let seen = Rc::clone(&started);
    let mut progress = move |event: ProgressEvent| {
        if matches!(event, ProgressEvent::RunStarted { .. }) {
            seen.set(true);
        }
        sink(event);
    };
    let mut checkin = checkins.run(CheckinCall { paths, config, request, cancel }, &mut progress);
    let mut cancel_seen = false;
    loop {
        tokio::select! {
            result = &mut checkin => return Some(result),
            () = cancel.cancelled(), if !cancel_seen => {
                cancel_seen = true;
                if !started.get() {
                    return None;
                }
            }
        }
    }
}

/// The record a check-in left, apart from the agent version it installed.
fn split_update(
    result: Option<Result<CheckedIn, CheckinError>>,
) -> (Option<Result<RunRecord, CheckinError>>, Option<semver::Version>) {
    match result {
        Some(Ok(CheckedIn { run, agent_updated_to })) => (Some(Ok(run)), agent_updated_to),
        Some(Err(error)) => (Some(Err(error)), None),
        None => (None, None),
    }
}

/// What a scheduled check-in tells nobody but the log: that it waits.
fn log_waiting(event: ProgressEvent) {
    if let ProgressEvent::Waiting { holder } = event {
        let pid = holder.as_ref().map(|holder| holder.pid);
        tracing::info!(holder_pid = pid, "Waiting for another check-in to finish.");
    }
}

/// The last reply to a requester.
fn reply_for(result: Option<Result<RunRecord, CheckinError>>) -> Reply {
    match result {
        Some(Ok(run)) => Reply::Finished { run },
        Some(Err(CheckinError::Lock(LockError::Busy { holder }))) => Reply::Busy { holder },
        Some(Err(error)) => {
            let error = anyhow::Error::from(error);
            Reply::Failed { message: format!("{error:#}"), exit_code: crate::exit_code::for_error(&error) }
        }
        None => Reply::Failed {
            message: "the check-in was called off before it started".to_string(),
            exit_code: crate::exit_code::FAILURE,
        },
    }
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
