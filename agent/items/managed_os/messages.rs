//! The one-line messages a managed OS item reports, and the status each carries.

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

/// The report of an install `softwareupdate` accepted (exit 0).
pub(super) fn update_started(candidate: &Candidate, installed: &InstalledOs, settings: &ManagedOs) -> ItemReport {
    let finishing = match settings.install_action {
        InstallAction::InstallAndRestart => "",
        InstallAction::Install => ", completing at the next restart",
    };
    let message =
        format!("update started: {}{finishing}; {}", candidate.update.title, why_enforced(installed, settings));
    ItemReport { status: ItemStatus::Succeeded, message, exit_code: Some(0), output: String::new(), reapplied: false }
}

/// The report of an install `softwareupdate` refused (exit `code`).
pub(super) fn update_failed(
    code: i32,
    candidate: &Candidate,
    installed: &InstalledOs,
    settings: &ManagedOs,
) -> ItemReport {
    let message = format!(
        "update failed: softwareupdate --install exited {code} for {}; {}",
        candidate.update.title,
        why_enforced(installed, settings)
    );
    ItemReport { status: ItemStatus::Failed, message, exit_code: Some(code), output: String::new(), reapplied: false }
}

fn why_enforced(installed: &InstalledOs, settings: &ManagedOs) -> String {
    let deadline = settings.deadline.map(format_time).unwrap_or_default();
    format!("the deadline {deadline} has passed and {installed} is below the minimum {}", settings.minimum_version)
}

/// A time as admins read it: RFC 3339 in UTC, to the second.
fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
#[path = "messages_tests.rs"]
mod tests;
