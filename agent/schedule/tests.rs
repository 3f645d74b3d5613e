//! Tests of the schedule's rules, the splay, the persisted daily request and the
//! fleet simulation; `paused` drives the daemon's loop under paused tokio time.

use super::*;
use crate::state::{Drift, RunOutcome, RunRecord, Trigger};

mod paused;

const QUARTER: Duration = Duration::from_secs(15 * 60);
const DAY: Duration = Duration::from_secs(24 * 3600);
const CADENCE: Cadence = Cadence { recurring_interval: QUARTER, daily_interval: DAY };

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn minutes(count: i64) -> chrono::Duration {
    chrono::Duration::minutes(count)
}

/// Records a run in `store` the way a check-in does: begun, then (unless `None`) ended.
fn record(store: &Store, kind: CheckinKind, started_at: DateTime<Utc>, outcome: Option<RunOutcome>) {
    let run = RunRecord::begun(&uuid::Uuid::now_v7().to_string(), kind, Trigger::Schedule, started_at);
    store.begin_run(&run, 1).unwrap();
    if let Some(outcome) = outcome {
        store
            .finish_run(&run.header.id, started_at + chrono::Duration::seconds(20), outcome, &Drift::default())
            .unwrap();
    }
}

#[test]
fn the_splay_is_pinned_stable_and_within_the_interval() {
    // Pinned: changing the formula would move every device of every fleet.
    assert_eq!(splay("device-1", QUARTER), Duration::from_millis(PINNED_DEVICE_1));
    assert_eq!(splay("device-1", QUARTER), splay("device-1", QUARTER));
    assert_ne!(splay("device-1", QUARTER), splay("device-2", QUARTER));
    for interval in [Duration::from_secs(1), Duration::from_millis(7), QUARTER, DAY] {
        assert!(splay("device-1", interval) < interval, "{interval:?}");
    }
    assert_eq!(splay("device-1", Duration::ZERO), Duration::ZERO);
}

const PINNED_DEVICE_1: u64 = 574_220;

#[test]
fn ten_thousand_devices_fill_every_tenth_of_the_interval_about_equally() {
    let mut tenths = [0u32; 10];
    for index in 0..10_000 {
        let offset = splay(&format!("{:08x}-device", index), QUARTER);
        tenths[(offset.as_millis() * 10 / QUARTER.as_millis()) as usize] += 1;
    }
    // A tenth holds 1000 on average; a binomial count strays by about 30.
    assert!(tenths.iter().all(|count| (880..=1120).contains(count)), "{tenths:?}");
}

#[test]
fn each_case_gives_the_expected_next_check_in() {
    // Slots at :01:40, :16:40, :31:40 and :46:40.
    let splay = Duration::from_secs(100);
    let now = at("2026-11-25T10:00:00Z");
    let daily_done = Some(at("2026-11-25T08:00:00Z"));
    let cases = [
        (None, None, false, now, CheckinKind::Daily, "never ran: the daily one at once"),
        (
            Some(at("2026-11-25T09:46:40Z")),
            daily_done,
            false,
            at("2026-11-25T10:01:40Z"),
            CheckinKind::Recurring,
            "the next slot",
        ),
        (
            Some(at("2026-11-25T09:56:40Z")),
            daily_done,
            false,
            at("2026-11-25T10:16:40Z"),
            CheckinKind::Recurring,
            "a run off the grid: half an interval at least",
        ),
        (
            Some(at("2026-11-25T04:00:00Z")),
            daily_done,
            false,
            now,
            CheckinKind::Recurring,
            "missed slots: one catch-up now",
        ),
        (Some(at("2026-11-25T09:56:40Z")), daily_done, true, now, CheckinKind::Daily, "asked for: daily at once"),
        (
            Some(at("2026-11-25T09:56:40Z")),
            Some(at("2026-11-24T10:05:00Z")),
            false,
            at("2026-11-25T10:01:40Z"),
            CheckinKind::Daily,
            "the daily one takes the slot nearest to a day after",
        ),
        (
            Some(at("2026-11-25T09:46:40Z")),
            Some(at("2026-11-24T10:20:00Z")),
            false,
            at("2026-11-25T10:01:40Z"),
            CheckinKind::Recurring,
            "the daily one is a slot later",
        ),
        (
            Some(at("2026-11-25T09:46:40Z")),
            Some(at("2026-11-23T10:20:00Z")),
            false,
            now,
            CheckinKind::Daily,
            "an overdue daily one runs at once",
        ),
        (
            Some(at("2026-11-25T10:05:00Z")),
            daily_done,
            false,
            at("2026-11-25T10:16:40Z"),
            CheckinKind::Recurring,
            "a small step back keeps the grid",
        ),
        (
            Some(at("2026-11-25T12:00:00Z")),
            daily_done,
            false,
            now,
            CheckinKind::Recurring,
            "a large step back: one check-in now",
        ),
        (
            Some(at("2026-11-25T12:00:00Z")),
            Some(at("2026-11-25T11:00:00Z")),
            false,
            now,
            CheckinKind::Daily,
            "a daily one recorded in the future is due",
        ),
    ];
    for (last_started_at, last_daily_completed_at, daily_requested, expected_at, kind, case) in cases {
        let state = ScheduleState { last_started_at, last_daily_completed_at, daily_requested };
        assert_eq!(next_checkin(&state, &CADENCE, splay, now), NextCheckin { at: expected_at, kind }, "{case}");
        let started = checkin_kind(&state, &CADENCE, expected_at);
        assert_eq!(started, kind, "{case}: a check-in starting then is {started}");
    }
}

#[test]
fn a_check_in_is_daily_when_due_never_done_or_asked_for() {
    let now = at("2026-11-25T10:00:00Z");
    let ago = |minutes_ago: i64| Some(now - minutes(minutes_ago));
    let cases = [
        (None, false, CheckinKind::Daily),
        (ago(60), false, CheckinKind::Recurring),
        (ago(23 * 60), false, CheckinKind::Recurring),
        (ago(24 * 60 - 8), false, CheckinKind::Recurring),
        (ago(24 * 60 - 7), false, CheckinKind::Daily),
        (ago(24 * 60), false, CheckinKind::Daily),
        (ago(72 * 60), false, CheckinKind::Daily),
        (ago(60), true, CheckinKind::Daily),
        (ago(-5), false, CheckinKind::Recurring),
        (ago(-5 * 60), false, CheckinKind::Daily),
    ];
    for (last_daily_completed_at, daily_requested, expected) in cases {
        let state = ScheduleState { last_started_at: ago(1), last_daily_completed_at, daily_requested };
        assert_eq!(checkin_kind(&state, &CADENCE, now), expected, "{state:?}");
    }
}

#[test]
fn a_daily_interval_shorter_than_the_recurring_one_makes_every_check_in_daily() {
    let cadence = Cadence { recurring_interval: Duration::from_secs(10), daily_interval: Duration::from_secs(4) };
    let now = at("2026-11-25T10:00:00Z");
    let state = ScheduleState {
        last_started_at: Some(now - chrono::Duration::seconds(6)),
        last_daily_completed_at: Some(now - chrono::Duration::seconds(6)),
        daily_requested: false,
    };
    assert_eq!(next_checkin(&state, &cadence, Duration::ZERO, now).kind, CheckinKind::Daily);
    assert_eq!(checkin_kind(&state, &cadence, now), CheckinKind::Daily);
}

#[test]
fn status_times_follow_the_next_check_in() {
    let splay = Duration::from_secs(100);
    let now = at("2026-11-25T10:00:00Z");
    let state = ScheduleState {
        last_started_at: Some(at("2026-11-25T09:46:40Z")),
        last_daily_completed_at: Some(at("2026-11-24T10:01:40Z")),
        daily_requested: false,
    };
    assert_eq!(next_daily_at(&state, &CADENCE, splay, now), at("2026-11-25T10:01:40Z"));
    assert_eq!(next_recurring_at(&state, &CADENCE, splay, now), at("2026-11-25T10:16:40Z"), "after the daily one");
    let later_daily = ScheduleState { last_daily_completed_at: Some(at("2026-11-25T08:01:40Z")), ..state };
    assert_eq!(next_recurring_at(&later_daily, &CADENCE, splay, now), at("2026-11-25T10:01:40Z"));
    assert_eq!(next_daily_at(&later_daily, &CADENCE, splay, now), at("2026-11-26T08:01:40Z"));
}

#[test]
fn the_store_gives_the_newest_runs_in_recorded_order_not_by_timestamp() {
    let (_folder, store) = Store::scratch();
    assert_eq!(ScheduleState::load(&store).unwrap(), ScheduleState::default());
    let before_the_jump = at("2026-11-25T10:00:00Z");
    record(&store, CheckinKind::Daily, before_the_jump, Some(RunOutcome::Succeeded));
    // The clock went back three hours; a daily one ran, then an interrupted one.
    let after_the_jump = before_the_jump - minutes(180);
    record(&store, CheckinKind::Daily, after_the_jump, Some(RunOutcome::Failed));
    record(&store, CheckinKind::Daily, after_the_jump + minutes(15), Some(RunOutcome::Interrupted));
    let state = ScheduleState::load(&store).unwrap();
    assert_eq!(state.last_started_at, Some(after_the_jump + minutes(15)));
    assert_eq!(state.last_daily_completed_at, Some(after_the_jump), "a failed daily counts, an interrupted one not");
    let now = after_the_jump + minutes(20);
    assert_eq!(checkin_kind(&state, &CADENCE, now), CheckinKind::Recurring, "no daily one again and again");
}

#[test]
fn a_daily_request_holds_until_a_daily_check_in_recorded_after_it_completes() {
    let (_folder, path) = Store::scratch_file();
    let store = Store::open(&path).unwrap();
    let now = at("2026-11-25T10:00:00Z");
    assert!(!store.daily_requested().unwrap(), "nothing asked for yet");
    record(&store, CheckinKind::Daily, now - minutes(60), Some(RunOutcome::Succeeded));
    store.request_daily().unwrap();
    drop(store);

    let store = Store::open(&path).unwrap();
    assert!(store.daily_requested().unwrap(), "the request survives reopening the store");
    let state = ScheduleState::load(&store).unwrap();
    assert_eq!(next_checkin(&state, &CADENCE, Duration::ZERO, now), NextCheckin { at: now, kind: CheckinKind::Daily });
    record(&store, CheckinKind::Recurring, now, Some(RunOutcome::Succeeded));
    record(&store, CheckinKind::Daily, now + minutes(1), Some(RunOutcome::Interrupted));
    assert!(store.daily_requested().unwrap(), "neither a recurring nor an interrupted daily one serves it");
    record(&store, CheckinKind::Daily, now + minutes(2), Some(RunOutcome::Failed));
    assert!(!store.daily_requested().unwrap(), "a daily one that reached its end serves it");
    let state = ScheduleState::load(&Store::open(&path).unwrap()).unwrap();
    let next_daily = next_daily_at(&state, &CADENCE, Duration::ZERO, now + minutes(3));
    assert_eq!(next_daily, now + minutes(24 * 60), "the slot nearest to a day after the last daily one");
}

#[test]
fn a_daily_request_made_while_a_daily_check_in_runs_is_served_by_the_next_one() {
    let (_folder, store) = Store::scratch();
    let now = at("2026-11-25T10:00:00Z");
    let running = RunRecord::begun("running", CheckinKind::Daily, Trigger::Schedule, now);
    store.begin_run(&running, 1).unwrap();
    store.request_daily().unwrap();
    store.finish_run("running", now + minutes(1), RunOutcome::Succeeded, &Drift::default()).unwrap();
    assert!(store.daily_requested().unwrap());
    record(&store, CheckinKind::Daily, now + minutes(2), Some(RunOutcome::Succeeded));
    assert!(!store.daily_requested().unwrap());
}

#[test]
fn a_splayed_fleet_spreads_its_load_far_below_an_aligned_one() {
    let options = fleet::FleetOptions { devices: 2000, days: 1, cadence: CADENCE, seed: 7 };
    let splayed = fleet::simulate(&options, fleet::Phasing::Splayed);
    let aligned = fleet::simulate(&options, fleet::Phasing::Aligned);
    for load in [&splayed, &aligned] {
        // A quarter of the fleet never sleeps (96 a day); laptops sleep about half the time.
        assert!((90_000..150_000).contains(&load.check_ins()), "{}", load.check_ins());
        assert!((1500..2600).contains(&load.daily_check_ins), "{}", load.daily_check_ins);
    }
    let (splayed_ratio, aligned_ratio) = (splayed.peak_to_mean(60), aligned.peak_to_mean(60));
    let floor = splayed.random_arrivals(7).peak_to_mean(60);
    assert!(splayed_ratio < 1.6 && splayed_ratio < floor * 1.15, "splayed {splayed_ratio}, random arrivals {floor}");
    assert!(aligned_ratio > 8.0, "aligned {aligned_ratio}");
    assert_eq!(splayed.peak_to_mean(1), splayed.peak_to_mean(1), "repeatable");
    assert_eq!(fleet::simulate(&options, fleet::Phasing::Splayed), splayed, "the same seed, the same fleet");
}
