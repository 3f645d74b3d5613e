//! The one-line messages a managed OS item reports to admins, and the status each
//! carries. (What the person at the Mac reads is in `notices.rs`.)

use chrono::{DateTime, SecondsFormat, Utc};

use super::decision::{Candidate, Finding};
use crate::blueprint::{InstallAction, ManagedOs};
use crate::items::ItemReport;
use crate::operating_system::InstalledOs;
use crate::state::ItemStatus;

/// The report of a finding: compliant, pending, or no update to install. Only
/// a passed deadline with nothing to install fails (see [`super::decision`]).
pub(super) fn found(finding: &Finding, installed: &InstalledOs, settings: &ManagedOs) -> ItemReport {
    let minimum = &settings.minimum_version;
    let (status, message) = match finding {
        Finding::Compliant => (ItemStatus::Succeeded, format!("compliant: {installed} meets the minimum {minimum}")),
        Finding::Pending(candidate) => (ItemStatus::Succeeded, pending(candidate, installed, settings)),
        Finding::NoUpdate { newest_offered, deadline_passed } => {
            no_update(newest_offered.as_ref(), *deadline_passed, installed, settings)
        }
    };
    ItemReport { status, message, exit_code: None, output: String::new(), reapplied: false }
}

fn pending(candidate: &Candidate, installed: &InstalledOs, settings: &ManagedOs) -> String {
    let deadline = match settings.deadline {
        Some(deadline) => format!("deadline {}", format_time(deadline)),
        None => "no deadline, so the agent does not install it".to_string(),
    };
    let (title, minimum) = (&candidate.update.title, &settings.minimum_version);
    format!("update available: {title}, {deadline}; {installed} is below the minimum {minimum}")
}

fn no_update(
    newest_offered: Option<&Candidate>,
    deadline_passed: bool,
    installed: &InstalledOs,
    settings: &ManagedOs,
) -> (ItemStatus, String) {
    let minimum = &settings.minimum_version;
    let offered = newest_offered.map_or_else(
        || "no macOS update offered".to_string(),
        |newest| format!("newest offered {}", newest.update.title),
    );
    match settings.deadline.map(format_time) {
        Some(deadline) if deadline_passed => {
            let message = format!(
                "not compliant: no update available for the minimum {minimum} and the deadline {deadline} has passed; {installed} installed, {offered}"
            );
            (ItemStatus::Failed, message)
        }
        deadline => {
            let deadline = deadline.map(|deadline| format!(", deadline {deadline}")).unwrap_or_default();
            let message = format!(
                "no update available yet for the minimum {minimum}: {installed} installed, {offered}{deadline}"
            );
            (ItemStatus::Succeeded, message)
        }
    }
}

/// Why an update is being installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Why {
    /// The deadline has passed.
    DeadlinePassed,
    /// The person used every deferral the item allows.
    DeferralsUsed,
    /// The person chose to install it now (`user` clicked "Update Now").
    PersonChose {
        /// Their user name.
        user: String,
    },
}

/// The report of an install `softwareupdate` accepted (exit 0).
pub(super) fn update_started(
    candidate: &Candidate,
    installed: &InstalledOs,
    settings: &ManagedOs,
    why: &Why,
) -> ItemReport {
    let finishing = match settings.install_action {
        InstallAction::InstallAndRestart => "",
        InstallAction::Install => ", completing at the next restart",
    };
    let message =
        format!("update started: {}{finishing}; {}", candidate.update.title, why_installed(installed, settings, why));
    ItemReport { status: ItemStatus::Succeeded, message, exit_code: Some(0), output: String::new(), reapplied: false }
}

/// The report of an install `softwareupdate` refused (exit `code`).
pub(super) fn update_failed(
    code: i32,
    candidate: &Candidate,
    installed: &InstalledOs,
    settings: &ManagedOs,
    why: &Why,
) -> ItemReport {
    let message = format!(
        "update failed: softwareupdate --install exited {code} for {}; {}",
        candidate.update.title,
        why_installed(installed, settings, why)
    );
    ItemReport { status: ItemStatus::Failed, message, exit_code: Some(code), output: String::new(), reapplied: false }
}

fn why_installed(installed: &InstalledOs, settings: &ManagedOs, why: &Why) -> String {
    let minimum = &settings.minimum_version;
    match why {
        Why::DeadlinePassed => {
            let deadline = settings.deadline.map(format_time).unwrap_or_default();
            format!("the deadline {deadline} has passed and {installed} is below the minimum {minimum}")
        }
        Why::DeferralsUsed => format!(
            "all {} deferrals are used and {installed} is below the minimum {minimum}",
            settings.max_deferrals
        ),
        Why::PersonChose { user } => {
            format!("{user} chose Update Now; {installed} is below the minimum {minimum}")
        }
    }
}

/// A `deferred` report: the install waits for the person or the next check-in.
pub(super) fn deferred(message: String) -> ItemReport {
    ItemReport { status: ItemStatus::Deferred, message, exit_code: None, output: String::new(), reapplied: false }
}

/// The deadline in an admin's message: `, deadline 2026-12-01T00:00:00Z`, or nothing.
pub(super) fn deadline_words(settings: &ManagedOs) -> String {
    settings.deadline.map(|deadline| format!(", deadline {}", format_time(deadline))).unwrap_or_default()
}

/// The person chose "Later" (`used` of the item's deferrals now).
pub(super) fn later(user: &str, used: u32, candidate: &Candidate, settings: &ManagedOs, next: DateTime<Utc>) -> ItemReport {
    deferred(format!(
        "deferred by {user} ({used} of {}): {}{}; reminded again after {}",
        settings.max_deferrals,
        candidate.update.title,
        deadline_words(settings),
        format_time(next)
    ))
}

/// The reminder gave up: its default ("Later") applied, not counted.
pub(super) fn no_answer(user: &str, used: u32, candidate: &Candidate, settings: &ManagedOs, next: DateTime<Utc>) -> ItemReport {
    deferred(format!(
        "deferred: {user} did not answer the reminder about {} (not counted, {used} of {} deferrals used){}; reminded again after {}",
        candidate.update.title,
        settings.max_deferrals,
        deadline_words(settings),
        format_time(next)
    ))
}

/// No notice now: the last one was shown less than `notices.interval` ago.
pub(super) fn quiet(
    candidate: &Candidate,
    settings: &ManagedOs,
    shown_at: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    deferrals_used: u32,
) -> ItemReport {
    let shown = shown_at.map(|time| format!(" at {}", format_time(time))).unwrap_or_default();
    let next = if deferrals_used >= settings.max_deferrals {
        format!("every deferral is used, so the restart countdown starts after {}", format_time(until))
    } else {
        format!("reminded again after {}", format_time(until))
    };
    deferred(format!(
        "deferred: the person was last reminded about {}{shown} ({deferrals_used} of {} deferrals used){}; {next}",
        candidate.update.title,
        settings.max_deferrals,
        deadline_words(settings)
    ))
}

/// The reminder could not be shown.
pub(super) fn not_reminded(user: &str, error: &str, candidate: &Candidate, settings: &ManagedOs) -> ItemReport {
    deferred(format!(
        "deferred: cannot remind {user} about {} ({error}){}; trying again at the next check-in",
        candidate.update.title,
        deadline_words(settings)
    ))
}

/// The restart countdown outlived the run (`why`: its budget, or a shutdown).
pub(super) fn countdown_goes_on(candidate: &Candidate, ends_at: DateTime<Utc>, why: &str) -> ItemReport {
    deferred(format!(
        "deferred: the restart countdown for {} ends at {}, but {why}; the next check-in resumes it",
        candidate.update.title,
        format_time(ends_at)
    ))
}

/// Apple silicon: only the person can install the update; `what` happened this time.
pub(super) fn needs_the_person(candidate: &Candidate, settings: &ManagedOs, what: &str) -> ItemReport {
    let message = format!(
        "waiting for the person: {} can only be installed on this Apple silicon Mac by the person at it (in Software Update) or by the MDM's declarative software update{}; {what}",
        candidate.update.title,
        deadline_words(settings)
    );
    ItemReport { status: ItemStatus::WaitingForUser, message, exit_code: None, output: String::new(), reapplied: false }
}

/// A time as admins read it: RFC 3339 in UTC, to the second.
pub(super) fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
#[path = "messages_tests.rs"]
mod tests;
