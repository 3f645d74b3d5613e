//! The daemon's schedule through the real scheduler under paused time: which
//! check-ins run when, the daily one coming back, one at a time, a restart
//! keeping the schedule the store saved, a missing blueprint waiting for the next
//! slot, and a configuration changed while the daemon runs.
//!
//! The configuration is read from the device's real files and `--set` flags, as
//! the daemon reads it. The check-in is a stand-in ([`StandIn`]) that records its
//! run by the fake wall clock, so hours of schedule pass in milliseconds.

use std::cell::{Cell, RefCell};

use super::*;
use crate::daemon::reload::{Cause, Reload};
use crate::daemon::scheduler::runner::Running;
use crate::schedule::checkin_kind;
use crate::state::{Drift, RunSummary};

/// How long a stand-in check-in takes, in paused time.
const CHECK_IN_TAKES: Duration = Duration::from_secs(20);
const QUARTER: chrono::Duration = chrono::Duration::minutes(15);
/// The schedule of most tests: every quarter of an hour, the daily one once a day.
const EVERY_QUARTER: [&str; 2] = ["schedule.recurring_interval=15m", "schedule.daily_interval=24h"];

fn minutes(count: u64) -> Duration {
    Duration::from_secs(count * 60)
}

/// A check-in that records its run by the fake wall clock and takes
/// [`CHECK_IN_TAKES`] of paused time. Like the real one, it cannot start without
/// somewhere to get a blueprint from (a blueprint file or a tenant); it fails the
/// test if two run at once or if check-ins are tried in a tight loop.
struct StandIn {
    clock: FakeClock,
    running: Cell<bool>,
    /// When each check-in was started, whether it could run or not.
    attempts: RefCell<Vec<DateTime<Utc>>>,
}

impl CheckinRunner for StandIn {
    fn run<'a>(&'a self, call: CheckinCall<'a>, progress: &'a mut dyn FnMut(ProgressEvent)) -> Running<'a> {
        let CheckinCall { paths, config, request, .. } = call;
        Box::pin(async move {
            let now = self.clock.now();
            self.attempts.borrow_mut().push(now);
            // Paused time stands still in a loop that never waits: fail, not hang.
            assert!(self.attempts.borrow().len() < 1000, "check-ins tried in a tight loop at {now}");
            if config.blueprint_file.is_none() && config.tenant.url.is_none() {
                return Err(CheckinError::NoBlueprint);
            }
            assert!(!self.running.replace(true), "two check-ins at once at {now}");
            let store = Store::open(&paths.store_file)?;
            let mut state = ScheduleState::load(&store)?;
            state.daily_requested |= request.reset_daily;
            let kind = checkin_kind(&state, &Cadence::from(&config.schedule), now);
            let run = RunRecord::begun(&uuid::Uuid::now_v7().to_string(), kind, request.trigger, now);
            store.begin_run(&run, std::process::id())?;
            progress(ProgressEvent::RunStarted { run: run.clone(), items: 0 });
            tokio::time::sleep(CHECK_IN_TAKES).await;
            store.finish_run(&run.header.id, self.clock.now(), RunOutcome::Succeeded, &Drift::default())?;
            self.running.set(false);
            Ok(CheckedIn { run: store.run(&run.header.id)?.expect("the run was recorded"), agent_updated_to: None })
        })
    }
}

/// A device whose daemon runs under paused time with [`StandIn`] check-ins. Each
/// [`PausedDaemon::run_while`] is one daemon process: a restart is the next call,
/// a new scheduler that remembers nothing but what the store saved.
struct PausedDaemon {
    _folder: tempfile::TempDir,
    paths: AgentPaths,
    /// The daemon's `--set` flags.
    flags: Vec<String>,
    checkins: StandIn,
}

impl PausedDaemon {
    /// A fresh device; with a blueprint file set by flag when `with_blueprint`.
    fn new(with_blueprint: bool, flags: &[&str]) -> Self {
        let folder = tempfile::tempdir().unwrap();
        let paths = AgentPaths::under(folder.path());
        let mut flags: Vec<String> = flags.iter().map(|flag| flag.to_string()).collect();
        if with_blueprint {
            let blueprint = folder.path().join("blueprint.json");
            std::fs::write(&blueprint, r#"{"id": "bp", "name": "Empty", "library_items": []}"#).unwrap();
            flags.push(format!("blueprint_file={}", blueprint.display()));
        }
        let clock = FakeClock::starting_at("2026-11-25T10:00:00Z".parse().unwrap());
        let checkins = StandIn { clock, running: Cell::new(false), attempts: RefCell::default() };
        PausedDaemon { _folder: folder, paths, flags, checkins }
    }

    fn now(&self) -> DateTime<Utc> {
        self.checkins.clock.now()
    }

    /// Writes a configuration fragment into the drop-in folder.
    fn write_fragment(&self, name: &str, json: &str) {
        std::fs::create_dir_all(&self.paths.config_dropin_dir).unwrap();
        std::fs::write(self.paths.config_dropin_dir.join(name), json).unwrap();
    }

    /// Starts a daemon and runs it while `script` plays (it may reload the
    /// configuration as SIGHUP does), then stops it; what it announced next.
    async fn run_while(&self, script: impl AsyncFnOnce(&ConfigSource)) -> ScheduledCheckin {
        let loaded = crate::config::load(&self.paths, [], &self.flags).unwrap();
        let (paths, flags) = (self.paths.clone(), self.flags.clone());
        let reload: Reload = Box::new(move || Ok(crate::config::load(&paths, [], &flags)?));
        run_daemon(&self.paths, loaded, reload, &self.checkins.clock, &self.checkins, script).await
    }

    /// Starts a daemon and runs it for `length` of paused time.
    async fn run_for(&self, length: Duration) -> ScheduledCheckin {
        self.run_while(async |_| tokio::time::sleep(length).await).await
    }

    /// Waits (in paused time) until `count` check-ins have ended.
    async fn until_finished(&self, count: usize) {
        while self.runs().iter().filter(|run| run.header.outcome.is_some()).count() < count {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// The recorded runs, oldest first.
    fn runs(&self) -> Vec<RunSummary> {
        let mut runs = Store::open(&self.paths.store_file).unwrap().history(1000).unwrap();
        runs.reverse();
        runs
    }

    fn attempts(&self) -> Vec<DateTime<Utc>> {
        self.checkins.attempts.borrow().clone()
    }
}

fn starts(runs: &[RunSummary]) -> Vec<DateTime<Utc>> {
    runs.iter().map(|run| run.header.started_at).collect()
}

fn gaps(times: &[DateTime<Utc>]) -> Vec<chrono::Duration> {
    times.windows(2).map(|pair| pair[1] - pair[0]).collect()
}

#[tokio::test(start_paused = true)]
async fn scheduled_check_ins_recur_and_the_daily_one_comes_back_without_overlap() {
    let daemon = PausedDaemon::new(true, &["schedule.recurring_interval=15m", "schedule.daily_interval=1h"]);
    let start = daemon.now();
    daemon.run_for(minutes(3 * 60)).await;
    let runs = daemon.runs();
    assert!(runs.iter().all(|run| run.header.trigger == Trigger::Schedule), "{runs:#?}");
    assert_eq!(
        (runs[0].header.kind, runs[0].header.started_at),
        (CheckinKind::Daily, start),
        "a new device starts with a daily"
    );
    assert!((12..=13).contains(&runs.len()), "one check-in a slot: {:?}", starts(&runs));
    assert!(gaps(&starts(&runs)).iter().all(|gap| *gap >= QUARTER / 2), "{:?}", starts(&runs));
    let on_grid = gaps(&starts(&runs[1..]));
    assert!(on_grid.iter().all(|gap| (*gap - QUARTER).abs() < chrono::Duration::seconds(1)), "{on_grid:?}");
    let dailies: Vec<usize> = (0..runs.len()).filter(|&index| runs[index].header.kind == CheckinKind::Daily).collect();
    assert!(dailies.len() >= 3, "the daily check-in comes back every hour: {runs:#?}");
    for pair in dailies.windows(2) {
        // It takes the recurring slot nearest to an interval after the last one.
        let between = runs[pair[1]].header.started_at - runs[pair[0]].header.started_at;
        assert!((between - chrono::Duration::hours(1)).abs() <= QUARTER / 2, "dailies {between} apart");
        assert!(pair[1] - pair[0] >= 2, "recurring check-ins run between the daily ones: {runs:#?}");
    }
    for pair in runs.windows(2) {
        assert!(pair[0].header.finished_at.is_some_and(|end| end <= pair[1].header.started_at), "overlap: {pair:#?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_restarted_daemon_keeps_its_schedule() {
    let daemon = PausedDaemon::new(true, &EVERY_QUARTER);
    daemon.run_for(minutes(40)).await;
    let before = daemon.runs();
    assert_eq!(before[0].header.kind, CheckinKind::Daily);
    let last_start = before.last().unwrap().header.started_at;

    let next = daemon.run_for(Duration::from_secs(1)).await;
    assert_eq!(next.kind, CheckinKind::Recurring, "no second daily after a restart: {next:?}");
    assert!(next.at >= last_start + QUARTER / 2, "{next:?} after {last_start}");
    assert_eq!(daemon.runs().len(), before.len(), "nothing at once on start");

    daemon.run_for(minutes(60)).await;
    let after = daemon.runs();
    let resumed = &after[before.len()];
    assert_eq!((resumed.header.kind, resumed.header.trigger), (CheckinKind::Recurring, Trigger::Schedule));
    let late = resumed.header.started_at - next.at;
    assert!(late >= chrono::Duration::zero() && late < chrono::Duration::seconds(1), "{resumed:?} for {next:?}");
    assert_eq!(after.iter().filter(|run| run.header.kind == CheckinKind::Daily).count(), 1, "{after:#?}");
}

#[tokio::test(start_paused = true)]
async fn without_a_blueprint_each_scheduled_check_in_waits_for_the_next_slot() {
    let daemon = PausedDaemon::new(false, &EVERY_QUARTER);
    let start = daemon.now();
    daemon.run_for(minutes(60)).await;
    let attempts = daemon.attempts();
    assert_eq!(attempts[0], start, "the owed daily check-in is tried at once");
    assert!((4..=5).contains(&attempts.len()), "one attempt a slot, not a loop: {attempts:?}");
    assert!(gaps(&attempts).iter().all(|gap| *gap >= QUARTER / 2), "{attempts:?}");
    assert!(daemon.runs().is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_enrolment_written_while_the_daemon_waits_applies_at_the_next_slot_without_a_signal() {
    let daemon = PausedDaemon::new(false, &EVERY_QUARTER);
    let start = daemon.now();
    daemon
        .run_while(async |_| {
            tokio::time::sleep(minutes(1)).await;
            let tenant = r#"{"tenant": {"url": "http://127.0.0.1:9", "token": "tok-enrolled"}}"#;
            daemon.write_fragment("50-enrollment.json", tenant);
            tokio::time::sleep(minutes(30)).await;
        })
        .await;
    let runs = daemon.runs();
    let attempts = daemon.attempts();
    assert_eq!(attempts[0], start, "{attempts:?}");
    assert_eq!(runs[0].header.started_at, attempts[1], "the first attempt after the enrolment ran: {attempts:?}");
    assert!(runs[0].header.started_at - start >= QUARTER / 2, "at the next slot, not when written: {runs:#?}");
    assert_eq!((runs[0].header.kind, runs[0].header.trigger), (CheckinKind::Daily, Trigger::Schedule));
}

/// Runs a daemon checking in every quarter until two check-ins ended, then writes
/// a recurring interval of an hour (and reloads as SIGHUP does, when `signal`)
/// and runs it `after` more; what it announced next, and the last start before.
async fn lengthen_the_interval(
    daemon: &PausedDaemon,
    signal: bool,
    after: Duration,
) -> (ScheduledCheckin, DateTime<Utc>) {
    let fragment = "30-schedule.json";
    daemon.write_fragment(fragment, r#"{"schedule": {"recurring_interval": "15m", "daily_interval": "24h"}}"#);
    let next = daemon
        .run_while(async |source| {
            daemon.until_finished(2).await;
            daemon.write_fragment(fragment, r#"{"schedule": {"recurring_interval": "1h", "daily_interval": "24h"}}"#);
            if signal {
                assert!(source.reload(Cause::Signal));
            }
            tokio::time::sleep(after).await;
        })
        .await;
    let runs = daemon.runs();
    assert_eq!(runs.len(), 2, "no check-in at the old slots: {runs:#?}");
    (next, runs[1].header.started_at)
}

#[tokio::test(start_paused = true)]
async fn a_longer_interval_written_while_the_daemon_runs_moves_the_schedule_before_the_next_check_in() {
    let daemon = PausedDaemon::new(true, &[]);
    let (next, last_start) = lengthen_the_interval(&daemon, false, minutes(25)).await;
    assert!(next.at >= last_start + chrono::Duration::minutes(30), "planned by the new interval: {next:?}");
    assert_eq!(next.kind, CheckinKind::Recurring);
}

#[tokio::test(start_paused = true)]
async fn a_reloaded_interval_moves_the_slot_the_daemon_sleeps_towards() {
    let daemon = PausedDaemon::new(true, &[]);
    let (next, last_start) = lengthen_the_interval(&daemon, true, minutes(1)).await;
    assert!(next.at >= last_start + chrono::Duration::minutes(30), "planned again at once: {next:?}");
}
