//! "Now" for check-in times and verdicts: the wall clock, or a time a test fixed
//! (`--now`) or moves (`PUT /api/v1/test/clock` with `--test-clock`).

use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// The tenant's clock; verdicts are only testable if a test can choose "now".
pub(crate) struct Clock {
    fixed: Mutex<Option<DateTime<Utc>>>,
    settable: bool,
}

impl Clock {
    pub(crate) fn new(fixed: Option<DateTime<Utc>>, settable: bool) -> Self {
        Self { fixed: Mutex::new(fixed), settable }
    }

    /// The fixed time if one is set, else the wall clock.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.fixed.lock().ok().and_then(|fixed| *fixed).unwrap_or_else(Utc::now)
    }

    /// Whether the test endpoint that moves the clock is enabled.
    pub(crate) fn is_settable(&self) -> bool {
        self.settable
    }

    /// Fixes "now"; `None` returns to the wall clock.
    pub(crate) fn set(&self, now: Option<DateTime<Utc>>) {
        if let Ok(mut fixed) = self.fixed.lock() {
            *fixed = now;
        }
    }
}
