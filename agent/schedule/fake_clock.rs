//! A wall clock for tests: a base time plus tokio's (paused) elapsed time, plus an
//! offset a test moves to play a Mac's sleep or a clock change.
//!
//! Under `tokio::time::pause()` tokio's clock only moves when every task waits on a
//! timer, so hours of schedule pass in milliseconds. A Mac's sleep is a jump of the
//! wall clock while tokio's clock (monotonic, stopped during sleep) barely moves.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::WallClock;

/// The wall clock of a simulated device.
#[derive(Debug)]
pub(crate) struct FakeClock {
    base: DateTime<Utc>,
    started: Instant,
    offset: Mutex<chrono::Duration>,
}

impl FakeClock {
    /// A clock that reads `base` now and follows tokio's clock from here.
    pub(crate) fn starting_at(base: DateTime<Utc>) -> Self {
        FakeClock { base, started: Instant::now(), offset: Mutex::new(chrono::Duration::zero()) }
    }

    /// Moves the wall clock by `by` (negative: back) without moving tokio's clock.
    pub(crate) fn jump(&self, by: chrono::Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *offset += by;
    }
}

impl WallClock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = chrono::Duration::from_std(self.started.elapsed()).unwrap_or(chrono::Duration::MAX);
        let offset = *self.offset.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.base + elapsed + offset
    }
}
