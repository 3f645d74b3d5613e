//! What admins read for each outcome, and its status.

use chrono::{DateTime, Utc};

use super::*;
use crate::blueprint::{InstallAction, ManagedOs};
use crate::items::managed_os::decision::{Candidate, Finding};
use crate::operating_system::{InstalledOs, OsVersion, parse_software_update_list, parse_sw_vers};
use crate::state::ItemStatus;

const SONOMA_UPDATE: &str = include_str!("../../../tests/fixtures/softwareupdate/sonoma-update.txt");

fn installed(version: &str) -> InstalledOs {
    parse_sw_vers(&format!("ProductName:\t\tmacOS\nProductVersion:\t\t{version}\nBuildVersion:\t\t23G93\n")).unwrap()
}

fn settings(minimum: &str, deadline: Option<&str>, install_action: InstallAction) -> ManagedOs {
    ManagedOs {
        minimum_version: OsVersion::parse(minimum).unwrap(),
        deadline: deadline.map(|text| DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)),
        install_action,
        notify_before: std::time::Duration::from_secs(5 * 24 * 3600),
        restart_countdown: std::time::Duration::from_secs(3600),
        max_deferrals: 3,
    }
}

fn sonoma() -> Candidate {
    let update = parse_software_update_list(SONOMA_UPDATE).remove(0);
    Candidate { version: update.os_version().unwrap(), update }
}

#[test]
fn each_finding_reads_as_one_line_with_its_status() {
    let deadline = Some("2026-12-01T00:00:00Z");
    let restart = InstallAction::InstallAndRestart;
    let no_update = |passed| Finding::NoUpdate { newest_offered: Some(sonoma()), deadline_passed: passed };
    let rows = [
        (
            Finding::Compliant,
            "14.7.1",
            settings("14.7", deadline, restart),
            ItemStatus::Succeeded,
            "compliant: macOS 14.7.1 meets the minimum 14.7",
        ),
        (
            Finding::Pending(sonoma()),
            "14.6.1",
            settings("14.7", deadline, restart),
            ItemStatus::Succeeded,
            "update available: macOS Sonoma 14.7.1, deadline 2026-12-01T00:00:00Z; macOS 14.6.1 is below the minimum 14.7",
        ),
        (
            Finding::Pending(sonoma()),
            "14.6.1",
            settings("14.7", None, restart),
            ItemStatus::Succeeded,
            "update available: macOS Sonoma 14.7.1, no deadline, so the agent does not install it; macOS 14.6.1 is below the minimum 14.7",
        ),
        (
            no_update(false),
            "14.6.1",
            settings("15.2", deadline, restart),
            ItemStatus::Succeeded,
            "no update available yet for the minimum 15.2: macOS 14.6.1 installed, newest offered macOS Sonoma 14.7.1, deadline 2026-12-01T00:00:00Z",
        ),
        (
            Finding::NoUpdate { newest_offered: None, deadline_passed: false },
            "14.6.1",
            settings("15.2", None, restart),
            ItemStatus::Succeeded,
            "no update available yet for the minimum 15.2: macOS 14.6.1 installed, no macOS update offered",
        ),
        (
            no_update(true),
            "14.6.1",
            settings("15.2", deadline, restart),
            ItemStatus::Failed,
            "not compliant: no update available for the minimum 15.2 and the deadline 2026-12-01T00:00:00Z has passed; macOS 14.6.1 installed, newest offered macOS Sonoma 14.7.1",
        ),
    ];
    for (finding, version, settings, status, message) in rows {
        let report = found(&finding, &installed(version), &settings);
        assert_eq!((report.status, report.message.as_str()), (status, message), "{finding:?}");
        assert_eq!(report.exit_code, None);
        assert!(!report.reapplied);
    }
}

#[test]
fn installs_say_what_was_started_or_how_it_failed() {
    let deadline = Some("2026-12-01T00:00:00Z");
    let started =
        update_started(
        &sonoma(),
        &installed("14.6.1"),
        &settings("14.7", deadline, InstallAction::InstallAndRestart),
        &Why::DeadlinePassed,
    );
    assert_eq!(started.status, ItemStatus::Succeeded);
    assert_eq!(started.exit_code, Some(0));
    assert_eq!(
        started.message,
        "update started: macOS Sonoma 14.7.1; the deadline 2026-12-01T00:00:00Z has passed and macOS 14.6.1 is below the minimum 14.7"
    );
    let staged = update_started(
        &sonoma(),
        &installed("14.6.1"),
        &settings("14.7", deadline, InstallAction::Install),
        &Why::DeadlinePassed,
    );
    assert!(staged.message.starts_with("update started: macOS Sonoma 14.7.1, completing at the next restart; "));
    let failed = update_failed(
        3,
        &sonoma(),
        &installed("14.6.1"),
        &settings("14.7", deadline, InstallAction::Install),
        &Why::DeadlinePassed,
    );
    assert_eq!((failed.status, failed.exit_code), (ItemStatus::Failed, Some(3)));
    assert!(
        failed
            .message
            .starts_with("update failed: softwareupdate --install exited 3 for macOS Sonoma 14.7.1; the deadline"),
        "{}",
        failed.message
    );
}

#[test]
fn every_reason_to_install_is_said() {
    let settings = settings("14.7", Some("2026-12-01T00:00:00Z"), InstallAction::InstallAndRestart);
    let rows = [
        (Why::DeferralsUsed, "update started: macOS Sonoma 14.7.1; all 3 deferrals are used and macOS 14.6.1 is below the minimum 14.7"),
        (
            Why::PersonChose { user: "ada".into() },
            "update started: macOS Sonoma 14.7.1; ada chose Update Now; macOS 14.6.1 is below the minimum 14.7",
        ),
    ];
    for (why, expected) in rows {
        assert_eq!(update_started(&sonoma(), &installed("14.6.1"), &settings, &why).message, expected);
    }
}

#[test]
fn waiting_outcomes_are_deferred_or_waiting_for_the_person() {
    let settings = settings("14.7", Some("2026-12-01T00:00:00Z"), InstallAction::InstallAndRestart);
    let next = DateTime::parse_from_rfc3339("2026-11-29T08:00:00Z").unwrap().with_timezone(&Utc);
    let rows = [
        (
            later("ada", 2, &sonoma(), &settings, next),
            ItemStatus::Deferred,
            "deferred by ada (2 of 3): macOS Sonoma 14.7.1, deadline 2026-12-01T00:00:00Z; reminded again after 2026-11-29T08:00:00Z",
        ),
        (
            no_answer("ada", 1, &sonoma(), &settings, next),
            ItemStatus::Deferred,
            "deferred: ada did not answer the reminder about macOS Sonoma 14.7.1 (not counted, 1 of 3 deferrals used), deadline 2026-12-01T00:00:00Z; reminded again after 2026-11-29T08:00:00Z",
        ),
        (
            quiet(&sonoma(), &settings, None, next, 3),
            ItemStatus::Deferred,
            "deferred: the person was last reminded about macOS Sonoma 14.7.1 (3 of 3 deferrals used), deadline 2026-12-01T00:00:00Z; every deferral is used, so the restart countdown starts after 2026-11-29T08:00:00Z",
        ),
        (
            countdown_goes_on(&sonoma(), next, "the agent is shutting down"),
            ItemStatus::Deferred,
            "deferred: the restart countdown for macOS Sonoma 14.7.1 ends at 2026-11-29T08:00:00Z, but the agent is shutting down; the next check-in resumes it",
        ),
        (
            needs_the_person(&sonoma(), &settings, "nobody is logged in"),
            ItemStatus::WaitingForUser,
            "waiting for the person: macOS Sonoma 14.7.1 can only be installed on this Apple silicon Mac by the person at it (in Software Update) or by the MDM's declarative software update, deadline 2026-12-01T00:00:00Z; nobody is logged in",
        ),
    ];
    for (report, status, message) in rows {
        assert_eq!((report.status, report.message.as_str()), (status, message));
    }
}
