//! How long ago the Mac last checked in, read from the state store, and the
//! store reads the other checks need (the device id and the saved `ETag`).
//!
//! With a tenant, the age that matters is the tenant's: when it last answered a
//! `checkin` (what its console shows as "last check-in", and what "verified" and
//! "out of control" are measured by). Check-ins that ran while the tenant was
//! down are named next to it, so an admin sees "runs, but does not reach the
//! tenant". Without a tenant, or before any answer was recorded, the last
//! check-in started on the Mac is the measure.

use chrono::{DateTime, Utc};

use super::check::{Finding, Verdict};
use super::tenant::DeviceIdentity;
use super::thresholds::{age_text, age_verdict};
use crate::config::{Doctor, long_duration_text};
use crate::error_chain::with_causes;
use crate::paths::AgentPaths;
use crate::render;
use crate::state::Store;

/// What the store says about check-ins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CheckinTimes {
    /// When the tenant last answered a `checkin`.
    pub(crate) answered: Option<DateTime<Utc>>,
    /// When the most recently recorded check-in started on this Mac.
    pub(crate) started: Option<DateTime<Utc>>,
}

/// What to do when the daemon has not checked in for too long.
const NOT_CHECKING_IN: &str = "Find out why the daemon does not check in: the launchd checks above, `agent status`, `agent logs --level warn`. `sudo agent run` checks in now.";

/// What to do when check-ins run but the tenant does not hear them.
const NOT_REACHING: &str = "Check-ins run on this Mac but do not reach the tenant: see the tenant checks above; `sudo agent run` tries again now.";

/// How a damaged store's message starts (see `state::rebuild`).
const DAMAGED_PREFIX: &str = "the state store is damaged: ";

/// What to do when the state store is damaged.
const DAMAGED: &str = "`sudo agent run` (or the daemon's next check-in) moves the damaged store aside and starts a fresh one with the same device id; the run history and reports not yet sent are lost.";

/// What to do on a Mac that never checked in.
const NEVER: &str =
    "Check in now with `sudo agent run`; once launchd has loaded the job, the daemon checks in on its own schedule.";

/// Reads the check-in times and, when `identity_needed` (a tenant is
/// configured), the device id and saved `ETag`. The store is created only in
/// that case, with the same device id the first check-in would create; without
/// a tenant nothing is written. A damaged store is left as it is (only a check-in
/// heals it), and the device id is read from the file kept beside it.
pub(crate) fn read_store(
    paths: &AgentPaths,
    identity_needed: bool,
) -> (Result<CheckinTimes, String>, Result<DeviceIdentity, String>) {
    let opened = if identity_needed {
        Store::open(&paths.store_file).map(Some)
    } else {
        Store::open_existing(&paths.store_file)
    };
    let store = match opened {
        Ok(store) => store,
        Err(error) if error.is_damage() => {
            // The tenant check still speaks as this device: its id is kept beside the store.
            let message = format!("{DAMAGED_PREFIX}{}", with_causes(&error));
            let kept = crate::state::kept_device_id(&paths.store_file)
                .map(|device_id| DeviceIdentity { device_id, blueprint_etag: None });
            return (Err(message.clone()), kept.ok_or(message));
        }
        Err(error) => {
            let message = with_causes(&error);
            return (Err(message.clone()), Err(message));
        }
    };
    let Some(store) = store else {
        return (Ok(CheckinTimes::default()), Err("no state store yet".to_string()));
    };
    let times = (|| {
        let answered = crate::tenant::last_answered_checkin(&store)?;
        Ok(CheckinTimes { answered, started: store.newest_run_start()? })
    })()
    .map_err(|error: crate::state::StoreError| with_causes(&error));
    let identity = store
        .device_id()
        .map(|device_id| DeviceIdentity {
            device_id,
            blueprint_etag: store
                .tenant_value(crate::tenant::ETAG_KEY)
                .ok()
                .flatten()
                .filter(|_| crate::tenant::saved_blueprint_usable(paths)),
        })
        .map_err(|error| with_causes(&error));
    (times, identity)
}

/// The last check-in's age against `doctor`'s limits.
pub(crate) fn last_checkin(
    times: &Result<CheckinTimes, String>,
    tenant_configured: bool,
    now: DateTime<Utc>,
    doctor: &Doctor,
) -> Finding {
    let times = match times {
        Ok(times) => times,
        Err(error) if error.starts_with(DAMAGED_PREFIX) => return Finding::fail(error.clone(), DAMAGED),
        Err(error) => {
            return Finding::fail(
                format!("cannot read the state store: {error}"),
                "Run `sudo agent doctor`: the state store is readable by root only. If it persists, `agent status` shows the same error.",
            );
        }
    };
    let measured = if tenant_configured { times.answered.or(times.started) } else { times.started };
    let Some(last) = measured else {
        return Finding::warn("never: no check-in has run on this Mac yet", NEVER);
    };
    let verdict = age_verdict(now - last, doctor.checkin_warn_after, doctor.checkin_fail_after);
    let mut value = format!("{} ({})", age_text(now - last), render::time(last));
    match (tenant_configured, times.answered) {
        (true, Some(answered)) => {
            value.push_str(", answered by the tenant");
            if let Some(started) = times.started.filter(|started| *started > answered + chrono::TimeDelta::minutes(1)) {
                value.push_str(&format!("; the last check-in on this Mac started {}", age_text(now - started)));
            }
        }
        (true, None) => value.push_str(", started on this Mac; no answer from the tenant is recorded"),
        (false, _) => {}
    }
    match verdict {
        Verdict::Warn => {
            value.push_str(&format!("; over {}: no longer verified", long_duration_text(doctor.checkin_warn_after)))
        }
        Verdict::Fail => {
            value.push_str(&format!("; over {}: out of control", long_duration_text(doctor.checkin_fail_after)))
        }
        _ => {}
    }
    let runs_locally = times.started.is_some_and(|started| {
        age_verdict(now - started, doctor.checkin_warn_after, doctor.checkin_fail_after) == Verdict::Pass
    });
    let fix = if tenant_configured && runs_locally { NOT_REACHING } else { NOT_CHECKING_IN };
    Finding::judged(verdict, value, fix)
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn the_age_that_counts_is_the_tenants_when_there_is_one() {
        let now: DateTime<Utc> = "2026-11-26T12:00:00Z".parse().unwrap();
        let ago = |days: i64| Some(now - TimeDelta::days(days));
        let doctor = Doctor::default();
        let cases = [
            (CheckinTimes { answered: None, started: None }, true, Verdict::Warn, "never"),
            (CheckinTimes { answered: None, started: ago(1) }, false, Verdict::Pass, "24 hours ago"),
            (CheckinTimes { answered: None, started: ago(8) }, false, Verdict::Warn, "no longer verified"),
            (CheckinTimes { answered: None, started: ago(22) }, false, Verdict::Fail, "out of control"),
            (CheckinTimes { answered: ago(2), started: ago(2) }, true, Verdict::Pass, "answered by the tenant"),
            (CheckinTimes { answered: ago(9), started: ago(0) }, true, Verdict::Warn, "on this Mac started just now"),
            (CheckinTimes { answered: ago(30), started: ago(0) }, true, Verdict::Fail, "out of control"),
            (CheckinTimes { answered: None, started: ago(8) }, true, Verdict::Warn, "no answer from the tenant"),
            (CheckinTimes { answered: ago(30), started: ago(3) }, false, Verdict::Pass, "3 days ago"),
        ];
        for (times, tenant, verdict, value) in cases {
            let finding = last_checkin(&Ok(times.clone()), tenant, now, &doctor);
            assert_eq!(finding.verdict, verdict, "{times:?}: {}", finding.value);
            assert!(finding.value.contains(value), "{} lacks {value}", finding.value);
        }
        let stale_tenant = CheckinTimes { answered: ago(30), started: ago(0) };
        let finding = last_checkin(&Ok(stale_tenant), true, now, &doctor);
        assert_eq!(finding.fix.as_deref(), Some(NOT_REACHING));
        let finding = last_checkin(&Err("locked".into()), true, now, &doctor);
        assert_eq!(finding.verdict, Verdict::Fail);
        let finding = last_checkin(&Err(format!("{DAMAGED_PREFIX}cut short")), true, now, &doctor);
        assert_eq!((finding.verdict, finding.fix.as_deref()), (Verdict::Fail, Some(DAMAGED)));
    }
}
