//! When the next check-in is due: recurring every `schedule.recurring_interval`,
//! daily every `schedule.daily_interval`, by the wall clock, from what the state
//! store recorded (so a restart keeps the schedule).
//!
//! Check-ins fall on a per-device grid: `splay + k × recurring_interval` from the
//! Unix epoch, where the splay is derived from the device id. A fleet's devices
//! therefore spread evenly over the interval instead of all checking in at :00 and
//! :15, and each device keeps its own phase. The next recurring check-in takes the
//! first slot at least half an interval after the last start, so a run started off
//! the grid (by an admin, or a catch-up) is not followed minutes later.
//!
//! The daily check-in takes the slot nearest to `daily_interval` after the last
//! completed daily one, replacing the recurring check-in there, so a day holds
//! exactly as many check-ins as its slots. It is due at once on a device that never
//! completed one and when an admin or the tenant asked for it.
//!
//! A device that missed its slot (asleep, powered off) gets one catch-up check-in
//! now, not a burst of missed ones. A run recorded in the future means the clock
//! went back: a small step (the clock lands at most half the shorter interval
//! before the last recorded start) keeps the grid, a large one gives one check-in
//! now and the grid continues from it, so the schedule is neither starved until
//! the clock catches up nor flooded.
//!
//! Once computed, a due time does not move as the clock advances (only a new run or
//! a step of the clock changes it), so the daemon may ask again after any nap and
//! gets the same answer. [`sleep_until`] waits by both clocks: the wall clock ends
//! the wait after a Mac's sleep, and a wall clock fallen behind the monotonic one
//! (a step back) ends it within a nap, so the large step's check-in comes then,
//! not at the slot the daemon was sleeping towards. Time is read
//! through [`WallClock`] so tests drive it with tokio's paused time and a fake
//! wall clock (`fake_clock`, for this crate's tests).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::config::Schedule;
use crate::plan::CheckinKind;
use crate::state::{Store, StoreError};

#[cfg(test)]
pub(crate) mod fake_clock;
pub mod fleet;
#[cfg(test)]
mod tests;

/// The longest the daemon sleeps before looking at the wall clock again, so a
/// Mac waking from hours of sleep notices its missed check-in within a minute.
/// (Tokio's timers follow the monotonic clock, which stands still while a Mac
/// sleeps; only the wall clock tells that hours went by.)
pub const LONGEST_NAP: Duration = Duration::from_secs(60);

/// How often each kind of check-in recurs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// Between recurring check-ins.
    pub recurring_interval: Duration,
    /// Between daily check-ins.
    pub daily_interval: Duration,
}

impl From<&Schedule> for Cadence {
    fn from(schedule: &Schedule) -> Self {
        Cadence { recurring_interval: schedule.recurring_interval, daily_interval: schedule.daily_interval }
    }
}

impl Cadence {
    /// Half the shorter interval: how far a daily check-in may move to land on a
    /// slot, and how far before the last recorded start the clock may land (a
    /// small step back) before the grid is abandoned.
    fn slack(&self) -> chrono::Duration {
        chrono_duration(self.recurring_interval.min(self.daily_interval) / 2)
    }
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

impl ScheduleState {
    /// What the store recorded. "Last" means the most recently recorded run, not the
    /// latest timestamp, so a run recorded before the clock went back cannot hide
    /// the ones recorded after.
    pub fn load(store: &Store) -> Result<Self, StoreError> {
        Ok(ScheduleState {
            last_started_at: store.newest_run_start()?,
            last_daily_completed_at: store.newest_completed_daily_start()?,
            daily_requested: store.daily_requested()?,
        })
    }
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

/// This device's stable offset within `interval`, derived from its id: the first
/// eight bytes of its SHA-256, modulo the interval in milliseconds. Changing this
/// formula moves every device of a fleet, so a test pins its values.
pub fn splay(device_id: &str, interval: Duration) -> Duration {
    let digest = Sha256::digest(device_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let interval_ms = interval.as_millis().clamp(1, u128::from(u64::MAX)) as u64;
    Duration::from_millis(u64::from_be_bytes(first) % interval_ms)
}

/// The next check-in after `state`, as seen at `now`; the daily one when both are
/// due at the same time.
pub fn next_checkin(state: &ScheduleState, cadence: &Cadence, splay: Duration, now: DateTime<Utc>) -> NextCheckin {
    let recurring = next_recurring(state.last_started_at, cadence, splay, now);
    let daily = next_daily_at(state, cadence, splay, now);
    if daily <= recurring {
        NextCheckin { at: daily, kind: CheckinKind::Daily }
    } else {
        NextCheckin { at: recurring, kind: CheckinKind::Recurring }
    }
}

/// When the next recurring check-in is due: the next check-in when that one is
/// recurring, else the slot after the daily one that comes first.
pub fn next_recurring_at(
    state: &ScheduleState,
    cadence: &Cadence,
    splay: Duration,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let next = next_checkin(state, cadence, splay, now);
    match next.kind {
        // The schedule plans no run of one item asked for; the arm keeps the match whole.
        CheckinKind::Recurring | CheckinKind::SelfService | CheckinKind::Item => next.at,
        CheckinKind::Daily => next_recurring(Some(next.at), cadence, splay, next.at),
    }
}

/// When the next daily check-in is due: at once (`now`) when asked for, never
/// completed, overdue, or recorded far in the future; otherwise the slot nearest
/// to `daily_interval` after the last completed one.
pub fn next_daily_at(state: &ScheduleState, cadence: &Cadence, splay: Duration, now: DateTime<Utc>) -> DateTime<Utc> {
    match daily_due_from(state, cadence, now) {
        None => now,
        Some(due) => slot_at_or_after(due, cadence.recurring_interval, splay).max(now),
    }
}

/// Which kind a check-in starting at `now` is: daily when the schedule has a daily
/// one due by now (or asked for), else recurring. The daemon's [`next_checkin`]
/// and the check-in itself agree because both follow this rule.
pub fn checkin_kind(state: &ScheduleState, cadence: &Cadence, now: DateTime<Utc>) -> CheckinKind {
    match daily_due_from(state, cadence, now) {
        Some(due) if due > now => CheckinKind::Recurring,
        _ => CheckinKind::Daily,
    }
}

/// From when the daily check-in is due; `None` means at once.
fn daily_due_from(state: &ScheduleState, cadence: &Cadence, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let last = state.last_daily_completed_at.filter(|_| !state.daily_requested)?;
    if clock_went_back(last, cadence, now) {
        return None;
    }
    Some(later(last, chrono_duration(cadence.daily_interval) - cadence.slack()))
}

/// The first slot at least half an interval after the last start; now when that
/// slot was missed, when nothing ran yet, or when the clock went back far.
fn next_recurring(
    last: Option<DateTime<Utc>>,
    cadence: &Cadence,
    splay: Duration,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let Some(last) = last.filter(|last| !clock_went_back(*last, cadence, now)) else {
        return now;
    };
    let interval = cadence.recurring_interval;
    slot_after(later(last, chrono_duration(interval / 2)), interval, splay).max(now)
}

/// Whether `recorded` lies further in the future than the schedule's slack: the
/// clock went back by more than a small correction.
fn clock_went_back(recorded: DateTime<Utc>, cadence: &Cadence, now: DateTime<Utc>) -> bool {
    recorded > later(now, cadence.slack())
}

/// The first time strictly after `time` on the grid `splay + k × interval`.
fn slot_after(time: DateTime<Utc>, interval: Duration, splay: Duration) -> DateTime<Utc> {
    slot_after_millis(time.timestamp_millis(), interval, splay)
}

/// The first time at or after `time` on the grid `splay + k × interval`.
fn slot_at_or_after(time: DateTime<Utc>, interval: Duration, splay: Duration) -> DateTime<Utc> {
    let partial_millisecond = i64::from(time.timestamp_subsec_nanos() % 1_000_000 != 0);
    slot_after_millis(time.timestamp_millis() + partial_millisecond - 1, interval, splay)
}

/// The first grid time strictly after `millis` (since the Unix epoch).
fn slot_after_millis(millis: i64, interval: Duration, splay: Duration) -> DateTime<Utc> {
    let interval_ms = interval.as_millis().clamp(1, i64::MAX as u128) as i64;
    let splay_ms = (splay.as_millis().min(i64::MAX as u128) as i64) % interval_ms;
    let next_index = (millis - splay_ms).div_euclid(interval_ms) + 1;
    next_index
        .checked_mul(interval_ms)
        .and_then(|start| start.checked_add(splay_ms))
        .and_then(DateTime::from_timestamp_millis)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `time + duration`, or the end of time when that overflows.
fn later(time: DateTime<Utc>, duration: chrono::Duration) -> DateTime<Utc> {
    time.checked_add_signed(duration).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// How far behind the monotonic clock the wall clock may fall during a wait before
/// [`sleep_until`] takes it for a step back and returns. NTP slews a clock by at
/// most 0.5 ms a second (under half a second over a 15-minute wait); a step is set
/// by hand or by a first sync and is far larger.
pub const STEP_BACK_NOTICED: Duration = Duration::from_secs(1);

/// Sleeps until `at` by the wall clock, in naps of at most [`LONGEST_NAP`].
///
/// Returns at the first of: the wall clock reaches `at`; as much monotonic time
/// has passed as the wall clock said was left; the wall clock stepped back (it is
/// more than [`STEP_BACK_NOTICED`] behind where the monotonic clock says it should
/// be). The monotonic clock stands still while a Mac sleeps, so after hours of
/// sleep the wall clock ends the wait within a nap of waking; a step back is
/// noticed within a nap too. Either way the caller asks [`next_checkin`] again:
/// after a small step it gets the same slot and sleeps on, after a large one a
/// check-in due now (not at the slot it slept towards, nor a burst).
pub async fn sleep_until(clock: &dyn WallClock, at: DateTime<Utc>) {
    let started = (clock.now(), tokio::time::Instant::now());
    let Ok(remaining) = (at - started.0).to_std() else { return };
    let monotonic_deadline = started.1.checked_add(remaining);
    loop {
        let now = clock.now();
        if stepped_back(started, now) {
            return;
        }
        let Ok(remaining) = (at - now).to_std() else { return };
        let monotonic_left = monotonic_deadline
            .map_or(remaining, |deadline| deadline.saturating_duration_since(tokio::time::Instant::now()));
        let nap = remaining.min(monotonic_left).min(LONGEST_NAP);
        if nap.is_zero() {
            return;
        }
        tokio::time::sleep(nap).await;
    }
}

/// Whether the wall clock reads `now` more than [`STEP_BACK_NOTICED`] earlier than
/// the wall time `started` plus the monotonic time elapsed since then.
fn stepped_back(started: (DateTime<Utc>, tokio::time::Instant), now: DateTime<Utc>) -> bool {
    let elapsed = chrono_duration(started.1.elapsed());
    now < later(started.0, elapsed - chrono_duration(STEP_BACK_NOTICED))
}
