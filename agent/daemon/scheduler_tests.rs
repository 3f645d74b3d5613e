//! The daemon's scheduler itself under paused tokio time and a fake wall clock,
//! against a real store and real (empty) check-ins: what a saved tenant request
//! makes it do.
//!
//! A check-in records its start by the real clock, so the fake clock starts at
//! the real now and the tests look at one minute only: enough for "at once" and
//! "not at once", with the next scheduled slot at least half an interval away.
//! `paused_schedule` runs hours of schedule with a stand-in check-in instead.

use std::time::Duration;

use super::*;
use crate::config::LoadedConfig;
use crate::daemon::reload::Reload;
use crate::schedule::fake_clock::FakeClock;
use crate::state::{Drift, TenantCommand};

#[path = "scheduler_tests/paused_schedule.rs"]
mod paused_schedule;

/// A device with an empty blueprint whose daily check-in completed a minute ago.
struct Device {
    _folder: tempfile::TempDir,
    paths: AgentPaths,
    config: AgentConfig,
}

impl Device {
    fn new(with_blueprint: bool) -> Self {
        let folder = tempfile::tempdir().unwrap();
        let paths = AgentPaths::under(folder.path());
        let blueprint = folder.path().join("blueprint.json");
        std::fs::write(&blueprint, r#"{"id": "bp", "name": "Empty", "library_items": []}"#).unwrap();
        let config = AgentConfig { blueprint_file: with_blueprint.then_some(blueprint), ..AgentConfig::default() };
        let store = Store::open(&paths.store_file).unwrap();
        let started_at = Utc::now() - chrono::Duration::minutes(1);
        let run = RunRecord::begun("daily-before", CheckinKind::Daily, Trigger::Schedule, started_at);
        store.begin_run(&run, 1).unwrap();
        store.finish_run(&run.header.id, started_at, RunOutcome::Succeeded, &Drift::default()).unwrap();
        Device { _folder: folder, paths, config }
    }

    fn store(&self) -> Store {
        Store::open(&self.paths.store_file).unwrap()
    }

    fn save(&self, id: &str, command: TenantCommand, run_at_once: bool) {
        self.store().save_tenant_request(id, command, Utc::now(), run_at_once).unwrap();
    }

    /// Runs the real scheduler for a minute of paused time; what it announced next.
    async fn run_for_a_minute(&self) -> ScheduledCheckin {
        self.run_stepping(Duration::from_secs(60), None).await.0
    }

    /// Runs the real scheduler for `length` of paused time, moving its wall clock
    /// by `step.1` after `step.0`; what it announced next, and the wall clock then.
    async fn run_stepping(
        &self,
        length: Duration,
        step: Option<(Duration, chrono::Duration)>,
    ) -> (ScheduledCheckin, DateTime<Utc>) {
        let mut loaded = crate::config::load(&self.paths, [], &[]).unwrap();
        loaded.config = self.config.clone();
        let fixed = loaded.clone();
        let clock = FakeClock::starting_at(Utc::now());
        let script = async |_: &ConfigSource| {
            let (after, by) = step.unwrap_or((length, chrono::Duration::zero()));
            tokio::time::sleep(after).await;
            clock.jump(by);
            tokio::time::sleep(length - after).await;
        };
        let reload: Reload = Box::new(move || Ok(fixed.clone()));
        let next = run_daemon(&self.paths, loaded, reload, &clock, &SystemCheckins, script).await;
        (next, clock.now())
    }

    /// The runs after the one recorded at the start: (kind, trigger).
    fn new_runs(&self) -> Vec<(CheckinKind, Trigger)> {
        let runs = self.store().history(100).unwrap();
        runs.iter().rev().skip(1).map(|run| (run.header.kind, run.header.trigger)).collect()
    }
}

/// Runs the real scheduler as one daemon process would (configuration `loaded`,
/// read again through `reload`), reckoning by `clock` and checking in through
/// `checkins`, while `script` plays; then stops it. What it announced next.
async fn run_daemon(
    paths: &AgentPaths,
    loaded: LoadedConfig,
    reload: Reload,
    clock: &dyn WallClock,
    checkins: &dyn CheckinRunner,
    script: impl AsyncFnOnce(&ConfigSource),
) -> ScheduledCheckin {
    let (sender, config) = watch::channel(Arc::new(loaded.config.clone()));
    let source = ConfigSource::new(paths.clone(), loaded, reload, sender);
    let (queue, shutdown) = (WorkQueue::default(), CancellationToken::new());
    let memory = ScheduleMemory::default();
    let ended = watch::channel(CheckinsEnded::default()).0;
    let ended = &ended;
    let scheduler = Scheduler {
        paths,
        config,
        source: &source,
        queue: &queue,
        clock,
        checkins,
        shutdown: &shutdown,
        ended,
        memory,
    };
    let stop = async {
        script(&source).await;
        shutdown.cancel();
    };
    tokio::join!(scheduler.run(), stop);
    queue.snapshot().2.expect("a next check-in was planned")
}

#[tokio::test(start_paused = true)]
async fn a_saved_blankpush_runs_one_tenant_check_in_at_once_then_the_schedule_goes_on() {
    let device = Device::new(true);
    device.save("cmd-1", TenantCommand::CheckInNow, true);
    let next = device.run_for_a_minute().await;
    assert_eq!(device.new_runs(), [(CheckinKind::Recurring, Trigger::Tenant)]);
    assert!(device.store().pending_tenant_requests().unwrap().is_empty(), "served when its check-in started");
    assert_eq!(next.kind, CheckinKind::Recurring);
    assert!(next.at > Utc::now() + chrono::Duration::minutes(6), "the next one waits for its slot: {next:?}");
}

#[tokio::test(start_paused = true)]
async fn a_saved_dailycheckin_runs_the_daily_check_in_at_once() {
    let device = Device::new(true);
    device.save("cmd-1", TenantCommand::DailyCheckIn, true);
    device.run_for_a_minute().await;
    assert_eq!(device.new_runs(), [(CheckinKind::Daily, Trigger::Tenant)]);
    assert!(device.store().pending_tenant_requests().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_request_received_during_a_tenant_check_in_waits_for_the_schedule() {
    let device = Device::new(true);
    for (id, command) in [("cmd-2", TenantCommand::CheckInNow), ("cmd-3", TenantCommand::DailyCheckIn)] {
        crate::tenant::requests::save(
            &device.store(),
            id,
            command,
            crate::tenant::requests::Arrival::Checkin(Trigger::Tenant),
        );
    }
    let next = device.run_for_a_minute().await;
    assert_eq!(device.new_runs(), [], "no check-in at once, not even the daily one");
    assert_eq!(device.store().pending_tenant_requests().unwrap().len(), 2, "kept for the next scheduled one");
    assert!(next.at > Utc::now() + chrono::Duration::minutes(6), "{next:?}");
}

#[tokio::test(start_paused = true)]
async fn a_tenant_check_in_that_cannot_start_is_not_tried_again_in_a_loop() {
    let device = Device::new(false);
    device.save("cmd-1", TenantCommand::CheckInNow, true);
    let next = device.run_for_a_minute().await;
    assert_eq!(device.new_runs(), []);
    assert_eq!(device.store().pending_tenant_requests().unwrap().len(), 1, "still owed to the next check-in");
    assert!(next.at > Utc::now() + chrono::Duration::minutes(6), "held until the next slot: {next:?}");
}

#[tokio::test(start_paused = true)]
async fn a_check_in_held_until_its_next_slot_is_tried_at_once_after_a_large_step_back() {
    let device = Device::new(false);
    device.save("cmd-1", TenantCommand::CheckInNow, true);
    let step = (Duration::from_secs(10), chrono::Duration::hours(-27));
    let (next, now) = device.run_stepping(Duration::from_secs(150), Some(step)).await;
    // Held until the slot after the failed attempt; a day back, that slot lies a
    // day ahead. Instead the schedule's check-in due now is tried (and fails
    // again, no blueprint), and the next attempt waits for a slot after that one.
    assert!(next.at > now && next.at <= now + chrono::Duration::minutes(23), "{next:?} at {now}");
}
