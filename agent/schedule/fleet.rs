//! A fleet simulation, no network: many devices, each following [`next_checkin`]
//! with its own splay and state over simulated days, asleep and awake at random,
//! counting the check-ins the tenant would see in each second.
//!
//! It answers one question: does the splay spread a fleet's load evenly? Each
//! device plays the daemon's loop: ask [`next_checkin`], run the check-in when it
//! is due, else nap towards it in naps of at most [`LONGEST_NAP`]. Naps run on the
//! monotonic clock, which stands still while a laptop sleeps, so a laptop that fell
//! asleep mid-nap finishes that nap after waking before it notices the missed slot
//! and runs its one catch-up. The same devices, with the same sleeps, are run again
//! with no splay (everyone on :00/:15/:30/:45) to show what the splay buys.
//!
//! `cargo bench --bench fleet` prints the figures; a unit test runs a small fleet.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Cadence, LONGEST_NAP, ScheduleState, next_checkin, slot_after, splay};
use crate::plan::CheckinKind;

const SECOND_MS: i64 = 1000;
const MINUTE_MS: i64 = 60 * SECOND_MS;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// What to simulate.
#[derive(Debug, Clone, Copy)]
pub struct FleetOptions {
    /// How many devices.
    pub devices: usize,
    /// How many days of check-ins are counted.
    pub days: u32,
    /// The intervals every device follows.
    pub cadence: Cadence,
    /// Seeds every device's sleeps, so runs are repeatable.
    pub seed: u64,
}

/// How the devices place their check-ins on the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phasing {
    /// The agent's schedule: each device at its own splay.
    Splayed,
    /// Naive clock-aligned scheduling: every device on the same grid from :00.
    Aligned,
}

/// The check-ins the tenant saw, second by second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetLoad {
    /// Check-ins started in each second of the simulated period.
    pub per_second: Vec<u32>,
    /// How many of them were daily check-ins.
    pub daily_check_ins: u64,
}

impl FleetLoad {
    /// Every check-in counted.
    pub fn check_ins(&self) -> u64 {
        self.per_second.iter().map(|count| u64::from(*count)).sum()
    }

    /// The busiest bucket of `bucket_seconds` seconds over the mean bucket (whole
    /// buckets only); 0 when nothing was counted.
    pub fn peak_to_mean(&self, bucket_seconds: usize) -> f64 {
        let buckets: Vec<u64> = self
            .per_second
            .chunks_exact(bucket_seconds.max(1))
            .map(|bucket| bucket.iter().map(|count| u64::from(*count)).sum())
            .collect();
        let total: u64 = buckets.iter().sum();
        let peak = buckets.iter().copied().max().unwrap_or(0);
        if total == 0 { 0.0 } else { peak as f64 * buckets.len() as f64 / total as f64 }
    }

    /// The same number of check-ins, each at an independent uniformly random
    /// moment of the same period: what a fleet of devices that do not coordinate
    /// cannot beat, since each bucket's count then varies like a Poisson count.
    pub fn random_arrivals(&self, seed: u64) -> FleetLoad {
        let mut random = SplitMix64(seed);
        let mut per_second = vec![0u32; self.per_second.len()];
        for _ in 0..self.check_ins() {
            let second = random.below(per_second.len() as u64) as usize;
            per_second[second] += 1;
        }
        FleetLoad { per_second, daily_check_ins: self.daily_check_ins }
    }
}

/// Simulates the fleet, spreading the devices over the machine's cores.
pub fn simulate(options: &FleetOptions, phasing: Phasing) -> FleetLoad {
    let threads = std::thread::available_parallelism().map_or(1, usize::from).min(options.devices.max(1));
    let chunk = options.devices.div_ceil(threads.max(1)).max(1);
    let parts: Vec<FleetLoad> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..options.devices)
            .step_by(chunk)
            .map(|first| {
                let devices = first..(first + chunk).min(options.devices);
                scope.spawn(move || simulate_devices(options, phasing, devices))
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    let mut load = FleetLoad { per_second: vec![0; seconds_in(options)], daily_check_ins: 0 };
    for part in parts {
        for (total, count) in load.per_second.iter_mut().zip(part.per_second) {
            *total += count;
        }
        load.daily_check_ins += part.daily_check_ins;
    }
    load
}

fn seconds_in(options: &FleetOptions) -> usize {
    (i64::from(options.days) * DAY_MS / SECOND_MS) as usize
}

/// The simulated period starts here (a Monday, midnight UTC).
fn period_start() -> i64 {
    DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").map_or(0, |start| start.timestamp_millis())
}

fn simulate_devices(options: &FleetOptions, phasing: Phasing, devices: std::ops::Range<usize>) -> FleetLoad {
    let mut load = FleetLoad { per_second: vec![0; seconds_in(options)], daily_check_ins: 0 };
    for index in devices {
        simulate_device(options, phasing, index, &mut load);
    }
    load
}

/// One device's daemon loop over the period, counting its check-ins into `load`.
fn simulate_device(options: &FleetOptions, phasing: Phasing, index: usize, load: &mut FleetLoad) {
    let mut random = SplitMix64(options.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let device_id = random.device_id();
    let cadence = &options.cadence;
    let offset = match phasing {
        Phasing::Splayed => splay(&device_id, cadence.recurring_interval),
        Phasing::Aligned => Duration::ZERO,
    };
    let start = period_start();
    let end = start + i64::from(options.days) * DAY_MS;
    let mut state = history_before(start, cadence, offset, &mut random);
    let (mut awake, mut now) = Awake::from_start(start, SplitMix64(random.next()));
    let nap_ms = LONGEST_NAP.as_millis() as i64;
    while now < end {
        let next = next_checkin(&state, cadence, offset, time(now));
        let due = next.at.timestamp_millis();
        if due <= now {
            load.per_second[((now - start) / SECOND_MS) as usize] += 1;
            state.last_started_at = Some(time(now));
            if next.kind == CheckinKind::Daily {
                load.daily_check_ins += 1;
                state.last_daily_completed_at = Some(time(now));
            }
            let duration = random.between(5 * SECOND_MS, 2 * MINUTE_MS);
            now = awake.after(now, duration);
        } else if due < awake.until {
            now = due;
        } else {
            let naps_before_sleep = (awake.until - now + nap_ms - 1) / nap_ms * nap_ms;
            now = awake.after(now, naps_before_sleep.min(due - now));
        }
    }
}

/// A device that has been checking in before the period: its last recurring slot
/// just before the start, its last daily one at a random slot of the day before
/// (so its next daily one falls in the first simulated day).
fn history_before(start: i64, cadence: &Cadence, offset: Duration, random: &mut SplitMix64) -> ScheduleState {
    let interval = cadence.recurring_interval;
    let interval_ms = (interval.as_millis() as i64).max(1);
    let daily_ms = cadence.daily_interval.as_millis() as i64;
    let slot_before = |moment: i64| slot_after(time(moment - interval_ms), interval, offset);
    let slots_a_day = (daily_ms / interval_ms).max(1) as u64;
    let day_before = slot_after(time(start - daily_ms), interval, offset);
    ScheduleState {
        last_started_at: Some(slot_before(start)),
        last_daily_completed_at: Some(
            day_before + chrono::Duration::milliseconds(interval_ms * random.below(slots_a_day) as i64),
        ),
        daily_requested: false,
    }
}

/// When a device is awake. A quarter of the fleet are desktops that never sleep;
/// the rest are laptops, awake 30 minutes to 8 hours at a time, then asleep either
/// briefly (2 to 90 minutes) or for the night (4 to 14 hours), independently of
/// each other, so the fleet's share of awake devices is steady over the period.
struct Awake {
    random: SplitMix64,
    /// The current awake span ends here (wall-clock milliseconds).
    until: i64,
}

impl Awake {
    /// The device's sleeps, and the first moment it is awake in the period. A
    /// laptop's sleeps start three days earlier, so at the start it is awake or
    /// asleep as it would be on any other day.
    fn from_start(start: i64, mut random: SplitMix64) -> (Self, i64) {
        if random.below(4) == 0 {
            return (Awake { random, until: i64::MAX }, start);
        }
        let warm_up = start - 3 * DAY_MS;
        let until = warm_up + random.between(30 * MINUTE_MS, 8 * HOUR_MS);
        let mut awake = Awake { random, until };
        let mut now = warm_up;
        while awake.until <= start {
            now = awake.after(awake.until, 0);
        }
        (awake, now.max(start))
    }

    /// The wall-clock time once `awake_ms` of awake time has passed after `now`
    /// (the monotonic clock stands still while asleep).
    fn after(&mut self, mut now: i64, mut awake_ms: i64) -> i64 {
        while now.saturating_add(awake_ms) >= self.until {
            awake_ms -= self.until - now;
            let asleep = if self.random.below(2) == 0 {
                self.random.between(2 * MINUTE_MS, 90 * MINUTE_MS)
            } else {
                self.random.between(4 * HOUR_MS, 14 * HOUR_MS)
            };
            now = self.until + asleep;
            self.until = now + self.random.between(30 * MINUTE_MS, 8 * HOUR_MS);
        }
        now + awake_ms
    }
}

fn time(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A small, fast, seedable generator (SplitMix64); statistical quality is ample
/// for drawing sleeps and device ids.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// Uniform in `0..bound` (`bound` > 0).
    fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(bound.max(1))) >> 64) as u64
    }

    /// Uniform in `low..high` milliseconds.
    fn between(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low).max(1) as u64) as i64
    }

    /// A device id shaped like the agent's own (a UUID).
    fn device_id(&mut self) -> String {
        let (high, low) = (self.next(), self.next());
        let text = format!("{high:016x}{low:016x}");
        format!("{}-{}-{}-{}-{}", &text[..8], &text[8..12], &text[12..16], &text[16..20], &text[20..])
    }
}
