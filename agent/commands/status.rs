//! `agent status`: the last check-ins, what is due next, drift, the disruptive
//! work that waits on the person at the Mac, and the last run.

mod pending_work;

use std::fmt::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Settings;
use crate::exit_code;
use crate::render;
use crate::run_lock::{self, Holder};
use crate::schedule::{self, Cadence, ScheduleState};
use crate::state::{AgentUpdate, Drift, PendingWork, RunOutcome, RunRecord, Store, StoreError, StoreRebuilt};
use crate::tenant::channel_status::{self, ChannelState, ChannelStatus};
use crate::terminal;

/// Everything `agent status` shows; its JSON form is part of the contract.
#[derive(Debug, Serialize)]
pub struct StatusReport {
    /// This agent's version.
    pub agent_version: String,
    /// When the last recurring check-in started.
    pub last_recurring_at: Option<DateTime<Utc>>,
    /// When the last daily check-in that reached its end started.
    pub last_daily_at: Option<DateTime<Utc>>,
    /// When the next recurring check-in is due on this device's grid (after the
    /// daily one when that comes first); `None`: due now, at the next check-in.
    pub next_recurring_at: Option<DateTime<Utc>>,
    /// When the next daily check-in is due (it takes the place of a recurring
    /// one); `None`: due now, at the next check-in.
    pub next_daily_at: Option<DateTime<Utc>>,
    /// What differs from what the tenant expects, as of the last run; `stale_token`
    /// as of now (it holds until a request succeeds, even if no check-in could run).
    pub drift: Drift,
    /// The check-in running right now, if any.
    pub running: Option<Holder>,
    /// Reports waiting for the tenant.
    pub spool: SpoolStatus,
    /// The last check-in that ended (or was interrupted).
    pub last_run: Option<RunRecord>,
    /// The newest attempt to update the agent itself, if any.
    pub agent_update: Option<AgentUpdate>,
    /// Whether the state store is damaged now, and its last rebuild.
    pub store: StoreStatus,
    /// Disruptive work (an OS update's install and restart, an app that must
    /// quit to be replaced) that waits on the person or a deadline, nearest
    /// deadline first; empty when none (and for a store an older agent wrote).
    pub pending_work: Vec<PendingWork>,
    /// The daemon's command channel as it last said (`closed` when that daemon
    /// is gone); absent when no daemon kept one on this device.
    pub command_channel: Option<ChannelStatus>,
}

/// The state store's health, as `agent status` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreStatus {
    /// What is wrong with the store, when it is damaged now: the next check-in
    /// moves it aside and starts a fresh one. `None`: it reads well.
    pub damaged: Option<String>,
    /// The last time the store was found damaged and rebuilt, if it was.
    pub rebuilt: Option<StoreRebuilt>,
}

/// The reports kept in the spool for the tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SpoolStatus {
    /// Reports not sent yet, retried until the tenant accepts them.
    pub waiting: u64,
    /// Reports the tenant refused for good: kept, never sent again.
    pub parked: u64,
    /// When the next waiting report is due after a failed send; `None`: at the
    /// next check-in (or nothing waits).
    pub next_attempt: Option<DateTime<Utc>>,
}

/// Prints the status as text or JSON.
pub fn status(settings: &Settings, json: bool) -> anyhow::Result<u8> {
    let report = build(settings)?;
    if json {
        terminal::print_json(&report)?;
    } else {
        terminal::print(&render(&report))?;
    }
    Ok(exit_code::SUCCESS)
}

/// Reads the store (without creating or changing anything) into a report. A
/// damaged store is not an error here: the report says so, and what it could read.
pub fn build(settings: &Settings) -> anyhow::Result<StatusReport> {
    let running = run_lock::current_holder(&settings.paths.checkin_lock)?;
    let mut report = StatusReport {
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        last_recurring_at: None,
        last_daily_at: None,
        next_recurring_at: None,
        next_daily_at: None,
        drift: Drift { missing_policy: true, ..Drift::default() },
        running: running.clone(),
        spool: SpoolStatus::default(),
        last_run: None,
        agent_update: None,
        store: StoreStatus::default(),
        pending_work: Vec::new(),
        command_channel: None,
    };
    let read = Store::open_existing(&settings.paths.store_file)
        .and_then(|store| store.map(|store| read_store(settings, &store, &mut report)).transpose());
    match read {
        Err(error) if error.is_damage() => {
            report.store.damaged = Some(error.to_string());
            Ok(report)
        }
        read => {
            read?;
            Ok(report)
        }
    }
}

/// Fills `report` from the store.
fn read_store(settings: &Settings, store: &Store, report: &mut StatusReport) -> Result<(), StoreError> {
    let running = report.running.is_some();
    let cadence = Cadence::from(&settings.loaded.config.schedule);
    report.store.rebuilt = store.store_rebuilt()?;
    report.last_recurring_at = store.last_recurring_started()?;
    report.last_daily_at = store.newest_completed_daily_start()?;
    (report.next_recurring_at, report.next_daily_at) = next_check_ins(store, &cadence, Utc::now())?;
    report.last_run = last_run(store, running)?;
    report.spool = spool_status(store)?;
    report.command_channel = channel_status::load(store)?;
    if let Some(run) = &report.last_run {
        report.drift = run.drift.clone();
    }
    report.drift.stale_token = crate::tenant::token_is_stale(store)?;
    report.drift.store_rebuilt = store.store_rebuilt_drift()?;
    report.agent_update = agent_update(store, running)?;
    report.pending_work = store.all_pending_work()?;
    Ok(())
}

/// The newest agent update. One left `installing` while no check-in runs was cut
/// short: it is shown as the next check-in will settle it.
fn agent_update(store: &Store, check_in_running: bool) -> Result<Option<AgentUpdate>, StoreError> {
    let Some(mut update) = store.latest_agent_update()? else { return Ok(None) };
    if !check_in_running {
        if let Some((outcome, message)) = crate::self_update::settle(&update, &crate::self_update::running_version()) {
            (update.outcome, update.message) = (outcome, message);
        }
    }
    Ok(Some(update))
}

/// When the next recurring and daily check-ins are due, in that order.
type NextTimes = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// When the next recurring and daily check-ins are due, by the same schedule the
/// daemon follows; `None` when one is due at once (at the next check-in).
fn next_check_ins(store: &Store, cadence: &Cadence, now: DateTime<Utc>) -> Result<NextTimes, StoreError> {
    let state = ScheduleState::load(store)?;
    let splay = schedule::splay(&store.device_id()?, cadence.recurring_interval);
    let later = |at: DateTime<Utc>| Some(at).filter(|at| *at > now);
    Ok((
        later(schedule::next_recurring_at(&state, cadence, splay, now)),
        later(schedule::next_daily_at(&state, cadence, splay, now)),
    ))
}

/// What waits in the spool.
fn spool_status(store: &Store) -> Result<SpoolStatus, StoreError> {
    let (waiting, parked) = store.spool_counts()?;
    let next_attempt = if waiting > 0 { store.spool_next_attempt()? } else { None };
    Ok(SpoolStatus { waiting, parked, next_attempt })
}

/// The newest run that is not running; one left without an end while no check-in
/// holds the lock was cut short, and is shown as interrupted.
fn last_run(store: &Store, check_in_running: bool) -> Result<Option<RunRecord>, StoreError> {
    if check_in_running {
        return store.latest_finished_run();
    }
    let Some(mut run) = store.latest_run()? else {
        return Ok(None);
    };
    if run.header.outcome.is_none() {
        run.header.outcome = Some(RunOutcome::Interrupted);
        run.header.finished_at = run.items.iter().map(|item| item.finished_at).max().or(Some(run.header.started_at));
    }
    Ok(Some(run))
}

/// The command channel's line: its state, since when, the error if any, and
/// when it asks again.
fn channel_text(channel: &ChannelStatus) -> String {
    let since = render::time(channel.since);
    match channel.state {
        ChannelState::Listening => format!("listening since {since}"),
        ChannelState::Off => format!("off since {since} (tenant.command_channel, or no tenant)"),
        ChannelState::NotEnrolled => format!("waiting since {since} for the device to enroll (at the next check-in)"),
        ChannelState::NotOffered => {
            format!("not offered by the tenant (404) since {since}; asked again after the next daily check-in")
        }
        ChannelState::Unauthorized => {
            format!("token refused (401) since {since}; asked again after the next check-in")
        }
        ChannelState::Unreachable => {
            let error = channel.message.as_deref().map(render::printable).unwrap_or_default();
            format!("cannot reach the tenant since {since} ({error}); trying again after pauses")
        }
        ChannelState::Closed => "closed (the daemon is not running)".to_string(),
    }
}

/// The report as text for people.
pub fn render(report: &StatusReport) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "Endpoint Agent {}", report.agent_version);
    let _ = writeln!(text, "Last recurring check-in: {}", render::optional_time(report.last_recurring_at));
    let _ = writeln!(text, "Last daily check-in:     {}", render::optional_time(report.last_daily_at));
    let next = |time: Option<DateTime<Utc>>| time.map_or_else(|| "at the next check-in".into(), render::time);
    let _ = writeln!(text, "Next recurring check-in: {}", next(report.next_recurring_at));
    let _ = writeln!(text, "Next daily check-in:     {}", next(report.next_daily_at));
    let _ = writeln!(text, "Drift:                   {}", drift_text(&report.drift));
    let _ = writeln!(text, "Spool:                   {}", spool_text(&report.spool));
    if let Some(channel) = &report.command_channel {
        let _ = writeln!(text, "Command channel:         {}", channel_text(channel));
    }
    if let Some(store) = store_text(&report.store) {
        let _ = writeln!(text, "State store:             {store}");
    }
    if let Some(holder) = &report.running {
        let _ = writeln!(
            text,
            "Running now:             a check-in started at {} (pid {})",
            render::time(holder.started_at),
            holder.pid
        );
    }
    if let Some(update) = &report.agent_update {
        let _ = writeln!(text, "Agent update:            {}", agent_update_text(update));
    }
    text.push_str(&pending_work::render_section(&report.pending_work));
    match &report.last_run {
        None => text.push_str("No check-in has run on this device yet.\n"),
        Some(run) => text.push_str(&render_run(run)),
    }
    text
}

/// A run as text: a heading, then one line per item in execution order.
pub fn render_run(run: &RunRecord) -> String {
    let mut text = String::new();
    let outcome = run.header.outcome.map_or("running", |outcome| outcome.as_str());
    let duration = run.header.duration_ms().map(render::duration_ms).unwrap_or_default();
    let asked_by = match &run.header.requested_by {
        Some(user) => format!(", asked by {}", render::printable(user)),
        None => String::new(),
    };
    let _ = writeln!(
        text,
        "\nLast run {} ({}, {}{asked_by}): {outcome}, started {}, took {duration}",
        run.header.id,
        run.header.kind,
        run.header.trigger,
        render::time(run.header.started_at)
    );
    if let Some(message) = &run.message {
        let _ = writeln!(text, "  {message}");
    }
    for item in run.parameters.iter().chain(&run.items) {
        let _ = writeln!(text, "  {}", render::item_line(item));
    }
    text
}

/// `installed 0.1.0 → 0.2.0 at TIME: message`.
fn agent_update_text(update: &AgentUpdate) -> String {
    let to = update.to.as_deref().map(|to| format!(" → {}", render::printable(to))).unwrap_or_default();
    let message = render::printable(&update.message);
    format!("{} {}{to} at {}: {message}", update.outcome, update.from, render::time(update.at))
}

/// The spool in one line: what waits and until when, and what is kept aside.
fn spool_text(spool: &SpoolStatus) -> String {
    if spool.waiting == 0 && spool.parked == 0 {
        return "empty".into();
    }
    let mut parts = Vec::new();
    if spool.waiting > 0 {
        let when = spool.next_attempt.map_or_else(|| "at the next check-in".into(), render::time);
        parts.push(format!("{} report(s) waiting for the tenant, next attempt {when}", spool.waiting));
    }
    if spool.parked > 0 {
        parts.push(format!("{} parked (refused by the tenant, not sent again)", spool.parked));
    }
    parts.join("; ")
}

/// The store's health in one line, when there is something to say.
fn store_text(store: &StoreStatus) -> Option<String> {
    if let Some(damaged) = &store.damaged {
        let damaged = render::printable(damaged);
        return Some(format!("damaged ({damaged}); the next check-in moves it aside and starts a fresh one"));
    }
    store.rebuilt.as_ref().map(|rebuilt| {
        let moved_to = render::printable(&rebuilt.moved_to.display().to_string());
        format!("rebuilt at {} after damage; the damaged files are kept as {moved_to}", render::time(rebuilt.at))
    })
}

fn drift_text(drift: &Drift) -> String {
    let mut kinds = Vec::new();
    if drift.outdated_client {
        kinds.push("outdated client".to_string());
    }
    if drift.missing_policy {
        kinds.push("missing policy".to_string());
    }
    if drift.stale_token {
        kinds.push("stale token".to_string());
    }
    if drift.store_rebuilt {
        kinds.push("store rebuilt".to_string());
    }
    if drift.reapplied > 0 {
        kinds.push(format!("{} item(s) re-applied in the last run", drift.reapplied));
    }
    if drift.deferred > 0 {
        kinds.push(format!("{} item(s) deferred in the last run", drift.deferred));
    }
    if drift.waiting_for_user > 0 {
        kinds.push(format!("{} item(s) waiting for the user", drift.waiting_for_user));
    }
    if kinds.is_empty() { "none".into() } else { kinds.join(", ") }
}

#[cfg(test)]
mod tests;
