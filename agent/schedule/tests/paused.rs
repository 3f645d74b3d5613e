//! The daemon's loop under paused tokio time and a fake wall clock, against a real
//! store in a temporary folder: hours of schedule pass in milliseconds.
//!
//! The simulated daemon does what `agent daemon` does between check-ins: read the
//! state from the store, ask [`next_checkin`], run the check-in when it is due
//! (recording it as a check-in does), else [`sleep_until`] it. A Mac's sleep is a
//! jump of the wall clock while tokio's clock barely moves.

use std::cell::RefCell;
use std::future::Future;
use std::path::PathBuf;

use tokio::time::Instant;

use super::*;
use crate::schedule::fake_clock::FakeClock;

const HOUR: i64 = 60;
const CHECK_IN_TAKES: Duration = Duration::from_secs(20);
/// A check-in records its start a moment after the daemon decided to run it
/// (taking the lock, opening the store), so recorded starts lie just off the grid.
const CHECK_IN_STARTS_AFTER: chrono::Duration = chrono::Duration::milliseconds(250);

/// A check-in the simulated daemon ran.
#[derive(Debug, Clone, Copy)]
struct Ran {
    /// By the wall clock.
    at: DateTime<Utc>,
    /// By tokio's clock, which does not jump.
    tokio_at: Instant,
    kind: CheckinKind,
}

/// A device: a store in a temporary folder, a fake wall clock, and what ran.
struct Device {
    _folder: tempfile::TempDir,
    path: PathBuf,
    store: RefCell<Store>,
    clock: FakeClock,
    splay: Duration,
    ran: RefCell<Vec<Ran>>,
}

impl Device {
    fn new() -> Self {
        let (folder, path) = Store::scratch_file();
        let store = Store::open(&path).unwrap();
        let splay = splay(&store.device_id().unwrap(), QUARTER);
        let clock = FakeClock::starting_at(at("2026-11-25T10:00:00Z"));
        Device { _folder: folder, path, store: RefCell::new(store), clock, splay, ran: RefCell::default() }
    }

    /// This device's slot at or before now.
    fn slot_before_now(&self) -> DateTime<Utc> {
        slot_after(self.clock.now() - QUARTER_CHRONO, QUARTER, self.splay)
    }

    /// A device that has been checking in: recurring at its last slot, daily
    /// `daily_slots_ago` slots before that.
    fn with_history(daily_slots_ago: i32) -> (Self, DateTime<Utc>) {
        let device = Device::new();
        let slot = device.slot_before_now();
        let daily = slot - QUARTER_CHRONO * daily_slots_ago;
        record(&device.store.borrow(), CheckinKind::Daily, daily, Some(RunOutcome::Succeeded));
        record(&device.store.borrow(), CheckinKind::Recurring, slot, Some(RunOutcome::Succeeded));
        (device, daily)
    }

    /// The daemon's loop; never returns.
    async fn daemon(&self) {
        loop {
            let now = self.clock.now();
            let state = ScheduleState::load(&self.store.borrow()).unwrap();
            let next = next_checkin(&state, &CADENCE, self.splay, now);
            if next.at > now {
                sleep_until(&self.clock, next.at).await;
                continue;
            }
            let started_at = now + CHECK_IN_STARTS_AFTER;
            let kind = checkin_kind(&state, &CADENCE, started_at);
            assert_eq!(kind, next.kind, "the check-in and the schedule disagree at {now}");
            self.ran.borrow_mut().push(Ran { at: now, tokio_at: Instant::now(), kind });
            record(&self.store.borrow(), kind, started_at, Some(RunOutcome::Succeeded));
            tokio::time::sleep(CHECK_IN_TAKES).await;
        }
    }

    /// Runs the daemon while `script` plays, then stops it.
    async fn run_while(&self, script: impl Future<Output = ()>) {
        tokio::select! {
            () = self.daemon() => {}
            () = script => {}
        }
    }

    async fn run_for(&self, minutes: i64) {
        self.run_while(tokio::time::sleep(Duration::from_secs(minutes as u64 * 60))).await;
    }

    /// A restart: the daemon's memory is gone, only the store remains.
    fn restart(&self) {
        *self.store.borrow_mut() = Store::open(&self.path).unwrap();
        self.ran.borrow_mut().clear();
    }

    fn check_ins(&self) -> Vec<Ran> {
        self.ran.borrow().clone()
    }

    fn on_grid(&self, time: DateTime<Utc>) -> bool {
        time.timestamp_millis().rem_euclid(QUARTER.as_millis() as i64) == self.splay.as_millis() as i64
    }
}

const QUARTER_CHRONO: chrono::Duration = chrono::Duration::minutes(15);

fn gaps(ran: &[Ran]) -> Vec<chrono::Duration> {
    ran.windows(2).map(|pair| pair[1].at - pair[0].at).collect()
}

fn dailies(ran: &[Ran]) -> Vec<DateTime<Utc>> {
    ran.iter().filter(|ran| ran.kind == CheckinKind::Daily).map(|ran| ran.at).collect()
}

#[tokio::test(start_paused = true)]
async fn recurring_check_ins_come_every_interval_on_the_device_grid() {
    let (device, _) = Device::with_history(4);
    let slot = device.slot_before_now();
    device.run_for(6 * HOUR).await;
    let ran = device.check_ins();
    assert_eq!(ran.len(), 24, "{ran:?}");
    assert_eq!(ran[0].at, slot + QUARTER_CHRONO);
    assert!(ran.iter().all(|ran| ran.kind == CheckinKind::Recurring && device.on_grid(ran.at)), "{ran:?}");
    assert!(gaps(&ran).iter().all(|gap| *gap == QUARTER_CHRONO), "{:?}", gaps(&ran));
}

#[tokio::test(start_paused = true)]
async fn the_daily_check_in_comes_every_day_in_place_of_a_recurring_one() {
    let (device, last_daily) = Device::with_history(4);
    device.run_for(72 * HOUR).await;
    let ran = device.check_ins();
    assert_eq!(ran.len(), 3 * 96, "as many check-ins as slots: the daily one adds none");
    assert!(gaps(&ran).iter().all(|gap| *gap == QUARTER_CHRONO));
    let day = chrono::Duration::hours(24);
    assert_eq!(dailies(&ran), vec![last_daily + day, last_daily + day * 2, last_daily + day * 3]);
}

#[tokio::test(start_paused = true)]
async fn a_new_device_runs_its_daily_at_once_then_joins_its_grid() {
    let device = Device::new();
    let start = device.clock.now();
    device.run_for(2 * HOUR).await;
    let ran = device.check_ins();
    assert_eq!((ran[0].at, ran[0].kind), (start, CheckinKind::Daily));
    assert_eq!(dailies(&ran).len(), 1);
    assert!(device.on_grid(ran[1].at) && ran[1].at - start >= QUARTER_CHRONO / 2, "{ran:?}");
    assert!(gaps(&ran[1..]).iter().all(|gap| *gap == QUARTER_CHRONO));
}

/// Runs the device for `before` minutes, jumps the wall clock by `jump`, runs it
/// `after` minutes more; returns the check-ins from the jump on, and when it landed.
async fn jump_while_running(
    device: &Device,
    before: i64,
    jump: chrono::Duration,
    after: i64,
) -> (Vec<Ran>, DateTime<Utc>) {
    jump_once_ready(device, tokio::time::sleep(Duration::from_secs(before as u64 * 60)), jump, after).await
}

/// Runs the device until `ready` is over, jumps the wall clock by `jump`, runs it
/// `after` minutes more; returns the check-ins from the jump on, and when it landed.
async fn jump_once_ready(
    device: &Device,
    ready: impl std::future::Future<Output = ()>,
    jump: chrono::Duration,
    after: i64,
) -> (Vec<Ran>, DateTime<Utc>) {
    let landed = RefCell::new(None);
    device
        .run_while(async {
            ready.await;
            device.clock.jump(jump);
            *landed.borrow_mut() = Some((device.clock.now(), Instant::now()));
            tokio::time::sleep(Duration::from_secs(after as u64 * 60)).await;
        })
        .await;
    let (landed, tokio_landed) = landed.into_inner().unwrap();
    let ran = device.check_ins().into_iter().filter(|ran| ran.tokio_at >= tokio_landed).collect();
    (ran, landed)
}

#[tokio::test(start_paused = true)]
async fn a_six_hour_sleep_gives_one_catch_up_within_a_nap_not_a_burst() {
    let (device, _) = Device::with_history(4);
    let (ran, woke) = jump_while_running(&device, 50, chrono::Duration::hours(6), 60).await;
    let catch_up = ran[0];
    assert_eq!(catch_up.kind, CheckinKind::Recurring);
    let noticed = catch_up.at - woke;
    assert!(noticed <= chrono::Duration::from_std(LONGEST_NAP).unwrap(), "noticed after {noticed}");
    let first_gap = ran[1].at - catch_up.at;
    assert!(first_gap >= QUARTER_CHRONO / 2 && device.on_grid(ran[1].at), "then the grid, after {first_gap}");
    assert!(gaps(&ran[1..]).iter().all(|gap| *gap == QUARTER_CHRONO), "{ran:?}");
    assert!((4..=5).contains(&ran.len()), "one catch-up then the grid in the hour after waking: {ran:?}");
}

#[tokio::test(start_paused = true)]
async fn a_sleep_past_the_daily_gives_one_catch_up_and_it_is_the_daily_one() {
    let (device, _) = Device::with_history(80);
    let (ran, woke) = jump_while_running(&device, 10, chrono::Duration::hours(30), 3 * HOUR).await;
    assert_eq!(ran[0].kind, CheckinKind::Daily);
    assert!(ran[0].at - woke <= chrono::Duration::from_std(LONGEST_NAP).unwrap());
    assert_eq!(dailies(&ran).len(), 1, "{ran:?}");
    assert!(gaps(&ran).iter().all(|gap| *gap >= QUARTER_CHRONO / 2), "{ran:?}");
    assert!((12..=13).contains(&ran.len()), "{ran:?}");
}

#[tokio::test(start_paused = true)]
async fn a_jump_forward_gives_one_catch_up_not_a_flood() {
    let (device, _) = Device::with_history(4);
    let (ran, landed) = jump_while_running(&device, 20, chrono::Duration::days(2), 2 * HOUR).await;
    assert!(ran[0].at - landed <= chrono::Duration::from_std(LONGEST_NAP).unwrap());
    assert_eq!(dailies(&ran), vec![ran[0].at], "the overdue daily one is the catch-up");
    assert!(gaps(&ran).iter().all(|gap| *gap >= QUARTER_CHRONO / 2), "{ran:?}");
    assert!((8..=9).contains(&ran.len()), "{ran:?}");
}

/// The gaps between check-ins by tokio's clock, which the wall clock's steps do not move.
fn tokio_gaps(ran: &[Ran]) -> Vec<Duration> {
    ran.windows(2).map(|pair| pair[1].tokio_at - pair[0].tokio_at).collect()
}

#[tokio::test(start_paused = true)]
async fn a_small_step_back_of_the_clock_keeps_the_cadence() {
    let (device, _) = Device::with_history(4);
    jump_while_running(&device, 20, chrono::Duration::seconds(-2), 2 * HOUR).await;
    let ran = device.check_ins();
    let gaps = tokio_gaps(&ran);
    assert!(gaps.iter().all(|gap| gap.abs_diff(QUARTER) <= Duration::from_secs(2)), "{gaps:?}");
    assert!(ran.iter().all(|ran| ran.kind == CheckinKind::Recurring && device.on_grid(ran.at)), "{ran:?}");
    assert!((9..=10).contains(&ran.len()), "{ran:?}");
}

/// Runs the device until it has run `count` check-ins and the last one ended, jumps
/// the wall clock by `jump` then (its next slot is most of an interval away), runs
/// it `after` minutes more; returns the check-ins from the jump on, and when it landed.
async fn jump_after_check_ins(
    device: &Device,
    count: usize,
    jump: chrono::Duration,
    after: i64,
) -> (Vec<Ran>, DateTime<Utc>) {
    let ready = async {
        while device.ran.borrow().len() < count {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        tokio::time::sleep(CHECK_IN_TAKES + Duration::from_secs(10)).await;
    };
    jump_once_ready(device, ready, jump, after).await
}

#[tokio::test(start_paused = true)]
async fn a_27_hour_step_back_runs_one_check_in_within_a_minute_then_the_grid() {
    let (device, _) = Device::with_history(4);
    let (ran, landed) = jump_after_check_ins(&device, 3, chrono::Duration::hours(-27), 2 * HOUR).await;
    // Every time the store holds now lies a day in the future: the check-in is the
    // daily one (its last one cannot be dated), and it does not wait for the slot
    // the daemon was sleeping towards, most of an interval away.
    let stepped = ran[0];
    let noticed = stepped.at - landed;
    assert!(noticed <= chrono::Duration::from_std(LONGEST_NAP).unwrap(), "noticed after {noticed}");
    assert_eq!(dailies(&ran), vec![stepped.at], "one check-in at once, the daily one: {ran:?}");
    let first_gap = ran[1].at - stepped.at;
    assert!(first_gap >= QUARTER_CHRONO / 2 && device.on_grid(ran[1].at), "then the grid, after {first_gap}");
    assert!(gaps(&ran[1..]).iter().all(|gap| *gap == QUARTER_CHRONO), "no storm: {ran:?}");
    assert!((8..=9).contains(&ran.len()), "{ran:?}");
}

#[tokio::test(start_paused = true)]
async fn a_large_step_back_of_the_clock_neither_starves_nor_floods_the_schedule() {
    let (device, _) = Device::with_history(4);
    let (ran, landed) = jump_while_running(&device, 50, chrono::Duration::hours(-3), 2 * HOUR).await;
    assert!(ran[0].at - landed <= chrono::Duration::from_std(LONGEST_NAP).unwrap(), "{ran:?}");
    assert_eq!(dailies(&ran), vec![ran[0].at], "{ran:?}");
    let gaps = tokio_gaps(&ran);
    assert!(gaps.iter().all(|gap| *gap >= QUARTER / 2 && *gap <= QUARTER * 3 / 2), "no storm: {gaps:?}");
    assert!((8..=9).contains(&ran.len()), "{ran:?}");
}

#[tokio::test(start_paused = true)]
async fn a_step_back_within_the_slack_keeps_the_grid_and_runs_nothing_extra() {
    for step in [chrono::Duration::seconds(-30), chrono::Duration::minutes(-7)] {
        let (device, _) = Device::with_history(4);
        let (ran, _) = jump_after_check_ins(&device, 3, step, 2 * HOUR).await;
        let all = device.check_ins();
        assert!(all.iter().all(|ran| ran.kind == CheckinKind::Recurring && device.on_grid(ran.at)), "{step}: {all:?}");
        // The slot the daemon slept towards comes later by the step, then every interval.
        let gaps = tokio_gaps(&all);
        assert_eq!(gaps[2], QUARTER + step.abs().to_std().unwrap(), "{step}: {gaps:?}");
        assert!(gaps[3..].iter().all(|gap| *gap == QUARTER), "{step}: {gaps:?}");
        assert!((7..=8).contains(&ran.len()), "{step}: {ran:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_restarted_daemon_keeps_its_schedule_and_runs_no_second_daily() {
    let (device, last_daily) = Device::with_history(4);
    let day = chrono::Duration::hours(24);
    device.run_for(24 * HOUR).await;
    assert_eq!(dailies(&device.check_ins()), vec![last_daily + day]);
    let last_before_restart = device.check_ins().last().unwrap().at;

    device.restart();
    let state = ScheduleState::load(&device.store.borrow()).unwrap();
    let recorded = last_daily + day + CHECK_IN_STARTS_AFTER;
    assert_eq!(state.last_daily_completed_at, Some(recorded), "the store remembers the daily one");
    let now = device.clock.now();
    assert_eq!(next_daily_at(&state, &CADENCE, device.splay, now), last_daily + day * 2);
    device.run_for(26 * HOUR).await;
    let ran = device.check_ins();
    assert_eq!(ran[0].at - last_before_restart, QUARTER_CHRONO, "no check-in on start, the next slot");
    assert_eq!(dailies(&ran), vec![last_daily + day * 2], "a day after the last daily one, once");
}

#[tokio::test(start_paused = true)]
async fn a_requested_daily_makes_the_next_check_in_daily_even_across_a_restart() {
    let (device, _) = Device::with_history(4);
    device.run_for(30).await;
    device.store.borrow().request_daily().unwrap();
    device.restart();
    let requested_at = device.clock.now();
    device.run_for(2 * HOUR).await;
    let ran = device.check_ins();
    assert_eq!((ran[0].at, ran[0].kind), (requested_at, CheckinKind::Daily));
    assert_eq!(dailies(&ran).len(), 1, "served once: {ran:?}");
    assert!(!device.store.borrow().daily_requested().unwrap());
}
