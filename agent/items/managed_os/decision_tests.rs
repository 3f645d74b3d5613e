//! Every decision a managed OS item can reach, as table rows.

use chrono::{DateTime, Utc};

use super::{Decision, Finding, decide};
use crate::blueprint::{InstallAction, ManagedOs};
use crate::operating_system::{OsVersion, parse_software_update_list};

const SONOMA_UPDATE: &str = include_str!("../../../tests/fixtures/softwareupdate/sonoma-update.txt");
const SONOMA_AND_SEQUOIA: &str = include_str!("../../../tests/fixtures/softwareupdate/sonoma-and-sequoia.txt");
const NO_UPDATES: &str = include_str!("../../../tests/fixtures/softwareupdate/no-updates.txt");
const LEGACY: &str = include_str!("../../../tests/fixtures/softwareupdate/legacy-format.txt");
const LOCALIZED_WITH_NOISE: &str = include_str!("../../../tests/fixtures/softwareupdate/localized-with-noise.txt");
/// Offers with versions that cannot be compared: they must be ignored, never chosen.
const BAD_VERSIONS: &str = "* Label: macOS Sonoma-23H222\n\tTitle: macOS Sonoma, Version: Sonoma, Size: 1K, Recommended: YES, Action: restart,\n* Label: macOS Sequoia 15.1-24B83\n\tTitle: macOS Sequoia 15.1, Size: 1K,\n";

const BEFORE: &str = "2026-11-15T12:00:00Z";
const DEADLINE: &str = "2026-12-01T00:00:00Z";
const AFTER: &str = "2026-12-01T00:00:01Z";

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn version(text: &str) -> OsVersion {
    OsVersion::parse(text).unwrap()
}

/// A decision in a few words, so each row reads at a glance.
fn summary(decision: &Decision) -> String {
    match decision {
        Decision::Report(Finding::Compliant) => "compliant".into(),
        Decision::Report(Finding::Pending(candidate)) => format!("pending {}", candidate.update.label),
        Decision::Enforce(candidate) => format!("enforce {}", candidate.update.label),
        Decision::Report(Finding::NoUpdate { newest_offered, deadline_passed }) => format!(
            "no update (newest {}){}",
            newest_offered.as_ref().map_or("none", |candidate| candidate.version.as_str()),
            if *deadline_passed { ", deadline passed" } else { "" }
        ),
    }
}

/// (minimum, deadline, installed, offered, now, expected decision)
type Row = (&'static str, Option<&'static str>, &'static str, &'static str, &'static str, &'static str);

#[test]
fn each_device_gets_the_expected_decision() {
    let rows: [Row; 19] = [
        ("14.7", Some(DEADLINE), "14.7.1", SONOMA_UPDATE, AFTER, "compliant"),
        ("14.7", Some(DEADLINE), "14.7", NO_UPDATES, AFTER, "compliant"),
        ("14.7.0", None, "14.7", NO_UPDATES, BEFORE, "compliant"),
        ("14.7", Some(DEADLINE), "15.0", NO_UPDATES, AFTER, "compliant"),
        ("14.7", Some(DEADLINE), "14.6.1", SONOMA_UPDATE, BEFORE, "pending macOS Sonoma 14.7.1-23H222"),
        ("14.7", None, "14.6.1", SONOMA_UPDATE, AFTER, "pending macOS Sonoma 14.7.1-23H222"),
        ("14.7", Some(DEADLINE), "14.6.1", SONOMA_UPDATE, DEADLINE, "enforce macOS Sonoma 14.7.1-23H222"),
        ("14.7", Some(DEADLINE), "14.6.1", SONOMA_UPDATE, AFTER, "enforce macOS Sonoma 14.7.1-23H222"),
        ("14.7.1", Some(DEADLINE), "14.6.1", SONOMA_UPDATE, AFTER, "enforce macOS Sonoma 14.7.1-23H222"),
        ("14.7", Some(DEADLINE), "14.6.1", SONOMA_AND_SEQUOIA, AFTER, "enforce macOS Sonoma 14.7.1-23H222"),
        ("15", Some(DEADLINE), "14.6.1", SONOMA_AND_SEQUOIA, AFTER, "enforce macOS Sequoia 15.1-24B83"),
        ("14.7", Some(DEADLINE), "13.6", SONOMA_AND_SEQUOIA, AFTER, "enforce macOS Sonoma 14.7.1-23H222"),
        ("12.7", Some(DEADLINE), "12.6", LEGACY, AFTER, "enforce macOS Monterey 12.7.1-21G920"),
        ("13.4.1", Some(DEADLINE), "13.4", LOCALIZED_WITH_NOISE, BEFORE, "pending macOS Ventura 13.4.1 (a)-22F770820b"),
        ("15.2", Some(DEADLINE), "14.6.1", SONOMA_AND_SEQUOIA, BEFORE, "no update (newest 15.1)"),
        ("15.2", Some(DEADLINE), "14.6.1", SONOMA_AND_SEQUOIA, AFTER, "no update (newest 15.1), deadline passed"),
        ("15.2", None, "14.6.1", NO_UPDATES, AFTER, "no update (newest none)"),
        ("15", Some(DEADLINE), "14.6.1", BAD_VERSIONS, AFTER, "no update (newest none), deadline passed"),
        ("18.2", Some(DEADLINE), "14.6.1", SONOMA_UPDATE, AFTER, "no update (newest 14.7.1), deadline passed"),
    ];
    for (minimum, deadline, installed, offered, now, expected) in rows {
        let settings = ManagedOs {
            minimum_version: version(minimum),
            deadline: deadline.map(time),
            install_action: InstallAction::InstallAndRestart,
            notify_before: std::time::Duration::ZERO,
            restart_countdown: std::time::Duration::from_secs(3600),
            max_deferrals: 3,
        };
        let decision = decide(&settings, &version(installed), &parse_software_update_list(offered), time(now));
        assert_eq!(
            summary(&decision),
            expected,
            "minimum {minimum}, installed {installed}, deadline {deadline:?}, now {now}"
        );
    }
}

#[test]
fn safari_and_tools_are_never_chosen_whatever_their_version() {
    let offered = "* Label: Safari18.1-18.1\n\tTitle: Safari, Version: 18.1, Size: 191239K, Recommended: YES,\n";
    let settings = ManagedOs {
        minimum_version: version("15"),
        deadline: Some(time(DEADLINE)),
        install_action: InstallAction::Install,
        notify_before: std::time::Duration::ZERO,
        restart_countdown: std::time::Duration::from_secs(3600),
        max_deferrals: 3,
    };
    let decision = decide(&settings, &version("14.6"), &parse_software_update_list(offered), time(AFTER));
    assert_eq!(summary(&decision), "no update (newest none), deadline passed");
}
