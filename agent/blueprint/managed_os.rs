//! A managed OS item's keys: `minimum_version`, `deadline`, `install_action`.
//!
//! Modelled on Kandji's Managed OS and Nudge: the admin names the oldest macOS
//! version a device may run and the moment after which the agent stops waiting
//! for the user and installs the update itself.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::{Map, Value};

use super::document::{Problems, join_key};
use super::resolve::COMMON_ITEM_KEYS;
use crate::operating_system::OsVersion;

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

const KEYS: [&str; 3] = ["minimum_version", "deadline", "install_action"];

/// Checks a managed OS item's own keys, reporting every problem.
pub(crate) fn resolve(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<ManagedOs> {
    problems.warn_unknown_keys(key, object, &[&COMMON_ITEM_KEYS, &KEYS]);
    let minimum_version = resolve_minimum_version(object, key, problems);
    let deadline = resolve_deadline(object, key, problems);
    let install_action = resolve_install_action(object, key, problems);
    Some(ManagedOs { minimum_version: minimum_version?, deadline: deadline?, install_action: install_action? })
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

/// `Some(None)` when absent, `None` when wrong.
fn resolve_deadline(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<Option<DateTime<Utc>>> {
    let present = object.get("deadline").is_some_and(|value| !value.is_null());
    let Some(text) = problems.optional_text(object, key, "deadline") else {
        return (!present).then_some(None);
    };
    match parse_deadline(&text) {
        Some(deadline) => Some(Some(deadline)),
        None => {
            let message = format!(
                "{text:?} is not a date (\"2026-11-30\", the end of that day in UTC) or an RFC 3339 time (\"2026-11-30T17:00:00-08:00\")"
            );
            problems.error(&join_key(key, "deadline"), &message);
            None
        }
    }
}

/// Reads an RFC 3339 time, or a `YYYY-MM-DD` date meaning the end of that day in
/// UTC (the deadline passes at the next midnight UTC).
fn parse_deadline(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.succ_opt()?.and_time(NaiveTime::MIN).and_utc())
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
