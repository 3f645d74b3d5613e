//! A managed OS item's keys: `minimum_version`, `deadline`, `install_action`, and
//! how the person at the Mac is warned: `notify_before`, `restart_countdown`,
//! `max_deferrals`.
//!
//! Modelled on Kandji's Managed OS and Nudge: the admin names the oldest macOS
//! version a device may run and the moment after which the agent stops waiting
//! for the user and installs the update itself; the person is reminded from
//! `notify_before` ahead of it, may put the update off `max_deferrals` times, and
//! gets `restart_countdown` to save their work once the deadline has passed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::document::{Problems, join_key, resolve_time};
use super::resolve::COMMON_ITEM_KEYS;
use crate::config::{RawValue, ValueProblem, duration_text, long_duration_text, parse_duration};
use crate::operating_system::OsVersion;

/// Seconds in a day.
const DAY: u64 = 24 * 60 * 60;

/// How long before the deadline reminders start when the item does not say: five
/// days, as Kandji's Managed OS prompt.
pub(crate) const DEFAULT_NOTIFY_BEFORE: Duration = Duration::from_secs(5 * DAY);
/// The longest `notify_before`: a year of reminders is already more than anyone reads.
pub(crate) const LONGEST_NOTIFY_BEFORE: Duration = Duration::from_secs(365 * DAY);
/// How long the final notice counts down before the install when the item does
/// not say: an hour to save work.
pub(crate) const DEFAULT_RESTART_COUNTDOWN: Duration = Duration::from_secs(60 * 60);
/// The shortest `restart_countdown`.
pub(crate) const SHORTEST_RESTART_COUNTDOWN: Duration = Duration::from_secs(1);
/// The longest `restart_countdown`: past a day the deadline means nothing.
pub(crate) const LONGEST_RESTART_COUNTDOWN: Duration = Duration::from_secs(DAY);
/// How many times the person may choose "Later" when the item does not say.
pub(crate) const DEFAULT_MAX_DEFERRALS: u32 = 3;
/// The largest `max_deferrals`.
pub(crate) const LARGEST_MAX_DEFERRALS: u32 = 100;

/// The macOS version a device must reach, and by when.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedOs {
    /// The oldest version that is compliant, compared number by number
    /// (`14.7` equals `14.7.0`).
    pub minimum_version: OsVersion,
    /// From this moment on, a device below the minimum has the update installed
    /// for it; until then it is only reported. `None`: never installed by the agent.
    pub deadline: Option<DateTime<Utc>>,
    /// What enforcement does once the deadline has passed.
    pub install_action: InstallAction,
    /// How long before the deadline the person starts being reminded (at most one
    /// notice per `notices.interval`); zero: no reminder before the deadline.
    pub notify_before: Duration,
    /// How long the final notice, past the deadline, counts down before the install.
    pub restart_countdown: Duration,
    /// How many times the person may choose "Later" before the deadline is treated
    /// as passed.
    pub max_deferrals: u32,
}

/// What enforcement asks `softwareupdate --install` to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallAction {
    /// Install and restart when the update needs it (`--restart`): the device
    /// reaches the version now. The default, as the deadline has passed.
    InstallAndRestart,
    /// Install (download and prepare) only; the version is reached at the user's
    /// next restart.
    Install,
}

impl InstallAction {
    const NAMES: [(&'static str, InstallAction); 2] =
        [("install_and_restart", InstallAction::InstallAndRestart), ("install", InstallAction::Install)];

    /// The name used in blueprints.
    pub fn as_str(self) -> &'static str {
        Self::NAMES.iter().find(|(_, action)| *action == self).map_or("install_and_restart", |(name, _)| name)
    }
}

const KEYS: [&str; 6] =
    ["minimum_version", "deadline", "install_action", "notify_before", "restart_countdown", "max_deferrals"];

/// The inclusive range a duration key accepts, in the words its errors use.
struct DurationBounds {
    shortest: Duration,
    longest: Duration,
    default: Duration,
}

/// Checks a managed OS item's own keys, reporting every problem.
pub(crate) fn resolve(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<ManagedOs> {
    problems.warn_unknown_keys(key, object, &[&COMMON_ITEM_KEYS, &KEYS]);
    let minimum_version = resolve_minimum_version(object, key, problems);
    let deadline = resolve_time(object, key, "deadline", problems);
    let install_action = resolve_install_action(object, key, problems);
    let notify_before = resolve_duration(
        object,
        key,
        "notify_before",
        &DurationBounds { shortest: Duration::ZERO, longest: LONGEST_NOTIFY_BEFORE, default: DEFAULT_NOTIFY_BEFORE },
        problems,
    );
    let restart_countdown = resolve_duration(
        object,
        key,
        "restart_countdown",
        &DurationBounds {
            shortest: SHORTEST_RESTART_COUNTDOWN,
            longest: LONGEST_RESTART_COUNTDOWN,
            default: DEFAULT_RESTART_COUNTDOWN,
        },
        problems,
    );
    let max_deferrals = resolve_max_deferrals(object, key, problems);
    Some(ManagedOs {
        minimum_version: minimum_version?,
        deadline: deadline?,
        install_action: install_action?,
        notify_before: notify_before?,
        restart_countdown: restart_countdown?,
        max_deferrals: max_deferrals?,
    })
}

/// A duration key, as the configuration reads durations (`"5d"`, `"1h 30m"`, or whole
/// seconds), within `bounds`; its default when absent or null.
fn resolve_duration(
    object: &Map<String, Value>,
    key: &str,
    field: &str,
    bounds: &DurationBounds,
    problems: &mut Problems,
) -> Option<Duration> {
    let raw = match object.get(field) {
        None | Some(Value::Null) => return Some(bounds.default),
        Some(Value::String(text)) => RawValue::Text(text.clone()),
        Some(Value::Number(number)) => match number.as_i64() {
            Some(integer) => RawValue::Integer(i128::from(integer)),
            None => RawValue::Real(number.as_f64().unwrap_or(f64::NAN)),
        },
        Some(Value::Bool(flag)) => RawValue::Boolean(*flag),
        Some(Value::Array(_)) => RawValue::Other("an array"),
        Some(Value::Object(_)) => RawValue::Other("an object"),
    };
    let duration = match parse_duration(&raw) {
        Ok(duration) => Some(duration),
        Err(ValueProblem::ZeroDuration { .. }) if matches!(raw, RawValue::Integer(seconds) if seconds < 0) => None,
        Err(ValueProblem::ZeroDuration { .. }) => Some(Duration::ZERO),
        Err(ValueProblem::DurationTooLong { .. }) => None,
        Err(problem) => {
            problems.error(&join_key(key, field), &problem.to_string());
            return None;
        }
    };
    match duration {
        Some(duration) if (bounds.shortest..=bounds.longest).contains(&duration) => Some(duration),
        _ => {
            let message = format!(
                "expected a duration from {} to {}, found {raw}",
                bound_text(bounds.shortest),
                bound_text(bounds.longest)
            );
            problems.error(&join_key(key, field), &message);
            None
        }
    }
}

/// A bound as admins write it: `24h` up to a day, `365d` beyond.
fn bound_text(bound: Duration) -> String {
    if bound.as_secs() <= DAY { duration_text(bound) } else { long_duration_text(bound) }
}

fn resolve_max_deferrals(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<u32> {
    let value = match object.get("max_deferrals") {
        None | Some(Value::Null) => return Some(DEFAULT_MAX_DEFERRALS),
        Some(value) => value,
    };
    let count = value.as_u64().and_then(|count| u32::try_from(count).ok());
    match count {
        Some(count) if count <= LARGEST_MAX_DEFERRALS => Some(count),
        _ => {
            problems.wrong_type(&join_key(key, "max_deferrals"), "a whole number from 0 to 100", value);
            None
        }
    }
}

fn resolve_minimum_version(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<OsVersion> {
    let field_key = join_key(key, "minimum_version");
    if let Some(Value::Number(number)) = object.get("minimum_version") {
        let message = format!(
            "expected a string such as \"15.1\", found the number {number}; write versions in quotes, as a number 14.10 reads 14.1"
        );
        problems.error(&field_key, &message);
        return None;
    }
    let text = problems.required_text(object, key, "minimum_version")?;
    match OsVersion::parse(&text) {
        Ok(version) => Some(version),
        Err(error) => {
            problems.error(&field_key, &format!("{text:?} is not a version such as \"15.1\" or \"14.7.2\": {error}"));
            None
        }
    }
}

fn resolve_install_action(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<InstallAction> {
    let present = object.get("install_action").is_some_and(|value| !value.is_null());
    let Some(text) = problems.optional_text(object, key, "install_action") else {
        return (!present).then_some(InstallAction::InstallAndRestart);
    };
    let action = InstallAction::NAMES.iter().find(|(name, _)| *name == text).map(|(_, action)| *action);
    if action.is_none() {
        let known: Vec<&str> = InstallAction::NAMES.iter().map(|(name, _)| *name).collect();
        let message = format!("unknown install action {text:?} (expected one of {})", known.join(", "));
        problems.error(&join_key(key, "install_action"), &message);
    }
    action
}

#[cfg(test)]
#[path = "managed_os_tests.rs"]
mod tests;
