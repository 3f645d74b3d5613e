//! A scheduled check-in that could not start (no blueprint, a damaged one, a
//! store that would not open) says why and waits for the next slot the schedule
//! gives, never trying again in a tight loop.

use chrono::{DateTime, Utc};

use super::{Scheduler, cadence};
use crate::checkin::CheckinError;
use crate::config::AgentConfig;
use crate::schedule::{self, Cadence, ScheduleState};
use crate::state::Store;

impl Scheduler<'_> {
    /// After a scheduled check-in that could not start: says why, and waits for
    /// the next slot instead of trying again at once.
    pub(super) fn hold_until_next_slot(&mut self, config: &AgentConfig, error: CheckinError) {
        let now = self.clock.now();
        let splay = Store::open(&self.paths.store_file)
            .and_then(|store| store.device_id())
            .map(|device_id| schedule::splay(&device_id, config.schedule.recurring_interval))
            .unwrap_or_default();
        self.memory.failed_at = Some(now);
        let retry_at = retry_at(now, &cadence(config), splay, now).to_rfc3339();
        match error {
            CheckinError::NoBlueprint => tracing::warn!(
                retry_at = %retry_at,
                "No blueprint for the scheduled check-in (set blueprint_file or enroll with a tenant); waiting for the next slot."
            ),
            CheckinError::SavedBlueprintDamaged { path } => tracing::warn!(
                retry_at = %retry_at,
                path = %path.display(),
                "The saved blueprint is damaged and the tenant has not sent a new one (earlier log lines say why); waiting for the next slot."
            ),
            CheckinError::NoBlueprintYet => tracing::warn!(
                retry_at = %retry_at,
                "The tenant has not sent a blueprint yet (earlier log lines say why); waiting for the next slot."
            ),
            other => {
                let error = format!("{:#}", anyhow::Error::from(other));
                tracing::error!(error = %error, retry_at = %retry_at, "The scheduled check-in could not run; waiting for the next slot.");
            }
        }
    }
}

/// When a scheduled check-in that could not start at `failed_at` is tried again:
/// the slot the schedule gives after a check-in started then, as seen at `now`.
pub(super) fn retry_at(
    failed_at: DateTime<Utc>,
    cadence: &Cadence,
    splay: std::time::Duration,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let tried = ScheduleState {
        last_started_at: Some(failed_at),
        last_daily_completed_at: Some(failed_at),
        daily_requested: false,
    };
    schedule::next_checkin(&tried, cadence, splay, now).at
}
