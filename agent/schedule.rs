//! When the next check-in is due: recurring every `schedule.recurring_interval`,
//! daily every `schedule.daily_interval`, by the wall clock, from what the state
//! store recorded (so a restart keeps the schedule).
//!
//! Recurring check-ins fall on a per-device grid: `splay + k × interval` from the
//! Unix epoch, where the splay is derived from the device id. A fleet's devices
//! therefore spread evenly over the interval instead of all checking in at :00 and
//! :15, and each device keeps its own phase. A device that missed its slot (asleep,
//! powered off) gets one catch-up check-in now, not a burst of missed ones. The
//! daily check-in is due `daily_interval` after the last completed one, at once on
//! a device that never completed one, and when an admin or the tenant asked for
//! it; when both are due, the daily one replaces the recurring one.
//!
//! Time is read through [`WallClock`] so tests drive it with tokio's paused time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::plan::CheckinKind;

/// The longest the daemon sleeps before looking at the wall clock again, so a
/// Mac waking from hours of sleep notices its missed check-in within a minute.
pub const LONGEST_NAP: Duration = Duration::from_secs(60);

/// How often each kind of check-in recurs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// Between recurring check-ins.
    pub recurring_interval: Duration,
    /// Between daily check-ins.
    pub daily_interval: Duration,
}

/// What the schedule is computed from, all of it recorded in the state store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleState {
    /// When the last check-in of either kind started.
    pub last_started_at: Option<DateTime<Utc>>,
    /// When the last daily check-in that reached its end started.
    pub last_daily_completed_at: Option<DateTime<Utc>>,
    /// A daily check-in was asked for (`--reset-daily`, the tenant's `dailycheckin`).
    pub daily_requested: bool,
}

/// The next check-in: when, and which kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextCheckin {
    /// When it is due; at or before now means at once.
    pub at: DateTime<Utc>,
    /// Recurring or daily.
    pub kind: CheckinKind,
}

/// The current wall-clock time.
pub trait WallClock: Send + Sync {
    /// Now, by the wall clock (which may jump).
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl WallClock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// This device's stable offset within `interval`, derived from its id.
pub fn splay(device_id: &str, interval: Duration) -> Duration {
    let digest = Sha256::digest(device_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let interval_ms = interval.as_millis().max(1) as u64;
    Duration::from_millis(u64::from_be_bytes(first) % interval_ms)
}

/// The next check-in after `state`, as seen at `now`.
pub fn next_checkin(state: &ScheduleState, cadence: &Cadence, splay: Duration, now: DateTime<Utc>) -> NextCheckin {
    let recurring = next_recurring(state.last_started_at, cadence.recurring_interval, splay, now);
    let daily = next_daily(state, cadence.daily_interval, now);
    if daily <= recurring {
        NextCheckin { at: daily, kind: CheckinKind::Daily }
    } else {
        NextCheckin { at: recurring, kind: CheckinKind::Recurring }
    }
}

/// The first grid slot at least half an interval after the last start (so a run
/// started off the grid, by an admin, is not followed minutes later); now when that
/// slot was missed; the first slot after now when the last start lies in the future
/// (the clock went back).
fn next_recurring(
    last: Option<DateTime<Utc>>,
    interval: Duration,
    splay: Duration,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    match last {
        None => slot_after(now, interval, splay),
        Some(last) if last > now => slot_after(now, interval, splay),
        Some(last) => {
            let slot = slot_after(last + chrono_duration(interval / 2), interval, splay);
            if slot <= now { now } else { slot }
        }
    }
}

/// `daily_interval` after the last completed daily; now when never completed,
/// asked for, or recorded in the future.
fn next_daily(state: &ScheduleState, interval: Duration, now: DateTime<Utc>) -> DateTime<Utc> {
    match state.last_daily_completed_at {
        _ if state.daily_requested => now,
        None => now,
        Some(last) if last > now => now,
        Some(last) => last.checked_add_signed(chrono_duration(interval)).unwrap_or(DateTime::<Utc>::MAX_UTC),
    }
}

/// The first time strictly after `time` on the grid `splay + k × interval`.
fn slot_after(time: DateTime<Utc>, interval: Duration, splay: Duration) -> DateTime<Utc> {
    let interval_ms = interval.as_millis().max(1) as i64;
    let splay_ms = (splay.as_millis() as i64) % interval_ms;
    let since_phase = time.timestamp_millis() - splay_ms;
    let next_index = since_phase.div_euclid(interval_ms) + 1;
    DateTime::from_timestamp_millis(next_index * interval_ms + splay_ms).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// Sleeps until the wall clock reaches `at`, in naps of at most [`LONGEST_NAP`],
/// so a jump of the clock or a long system sleep is noticed within a minute.
pub async fn sleep_until(clock: &dyn WallClock, at: DateTime<Utc>) {
    loop {
        let remaining = at - clock.now();
        let Ok(remaining) = remaining.to_std() else { return };
        if remaining.is_zero() {
            return;
        }
        tokio::time::sleep(remaining.min(LONGEST_NAP)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUARTER: Duration = Duration::from_secs(15 * 60);
    const DAY: Duration = Duration::from_secs(24 * 3600);
    const CADENCE: Cadence = Cadence { recurring_interval: QUARTER, daily_interval: DAY };

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_splay_is_stable_and_within_the_interval() {
        assert_eq!(splay("device-1", QUARTER), splay("device-1", QUARTER));
        assert_ne!(splay("device-1", QUARTER), splay("device-2", QUARTER));
        assert!(splay("device-1", QUARTER) < QUARTER);
    }

    #[test]
    fn each_case_gives_the_expected_next_check_in() {
        let splay = Duration::from_secs(100);
        let now = at("2026-11-25T10:00:00Z");
        let daily_done = Some(at("2026-11-25T08:00:00Z"));
        let cases = [
            (None, None, false, now, CheckinKind::Daily),
            (Some(at("2026-11-25T09:46:40Z")), daily_done, false, at("2026-11-25T10:01:40Z"), CheckinKind::Recurring),
            (Some(at("2026-11-25T09:56:40Z")), daily_done, false, at("2026-11-25T10:16:40Z"), CheckinKind::Recurring),
            (Some(at("2026-11-25T04:00:00Z")), daily_done, false, now, CheckinKind::Recurring),
            (Some(at("2026-11-25T09:56:40Z")), daily_done, true, now, CheckinKind::Daily),
            (
                Some(at("2026-11-25T09:56:40Z")),
                Some(at("2026-11-24T10:05:00Z")),
                false,
                at("2026-11-25T10:05:00Z"),
                CheckinKind::Daily,
            ),
            (Some(at("2026-11-25T12:00:00Z")), daily_done, false, at("2026-11-25T10:01:40Z"), CheckinKind::Recurring),
        ];
        for (last_started_at, last_daily_completed_at, daily_requested, expected_at, kind) in cases {
            let state = ScheduleState { last_started_at, last_daily_completed_at, daily_requested };
            assert_eq!(next_checkin(&state, &CADENCE, splay, now), NextCheckin { at: expected_at, kind }, "{state:?}");
        }
    }
}
