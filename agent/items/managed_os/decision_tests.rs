//! Every decision a managed OS item can reach, as table rows.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use super::{Action, Decision, Facts, Finding, InstallReason, Progress, decide};
use crate::blueprint::{InstallAction, ManagedOs};
use crate::operating_system::{AvailableUpdate, OsVersion, parse_software_update_list};

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

const DAY: u64 = 24 * 60 * 60;

/// Facts with nobody logged in, on an Intel Mac, nothing saved, a day between notices.
fn facts<'a>(installed: &'a OsVersion, updates: &'a [AvailableUpdate], now: &str) -> Facts<'a> {
    Facts {
        installed,
        updates,
        now: time(now),
        progress: None,
        notice_interval: Duration::from_secs(DAY),
        someone_logged_in: false,
        apple_silicon: false,
        asked_by_person: false,
    }
}

fn short_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A decision in a few words, so each row reads at a glance.
fn summary(decision: &Decision) -> String {
    match decision {
        Decision::Report(Finding::Compliant) => "compliant".into(),
        Decision::Report(Finding::Pending(candidate)) => format!("pending {}", candidate.update.label),
        Decision::Act(candidate, Action::Remind) => format!("remind {}", candidate.update.label),
        Decision::Act(_, Action::Wait { until }) => format!("wait until {}", short_time(until)),
        Decision::Act(_, Action::Countdown { ends_at, resumed: false }) => format!("countdown to {}", short_time(ends_at)),
        Decision::Act(_, Action::Countdown { ends_at, resumed: true }) => {
            format!("countdown resumed to {}", short_time(ends_at))
        }
        Decision::Act(candidate, Action::Install { reason }) => {
            let reason = match reason {
                InstallReason::NobodyLoggedIn => "nobody logged in",
                InstallReason::CountdownOver => "countdown over",
                InstallReason::NoRestart => "no restart",
            };
            format!("install {} ({reason})", candidate.update.label)
        }
        Decision::Act(candidate, Action::PersonAsked) => format!("asked in Self Service {}", candidate.update.label),
        Decision::Act(_, Action::AskThePerson { notify: true }) => "ask the person with a notice".into(),
        Decision::Act(_, Action::AskThePerson { notify: false }) => "ask the person without a notice".into(),
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
        ("14.7", Some(DEADLINE), "14.6.1", SONOMA_UPDATE, DEADLINE, "install macOS Sonoma 14.7.1-23H222 (nobody logged in)"),
        ("14.7", Some(DEADLINE), "14.6.1", SONOMA_UPDATE, AFTER, "install macOS Sonoma 14.7.1-23H222 (nobody logged in)"),
        ("14.7.1", Some(DEADLINE), "14.6.1", SONOMA_UPDATE, AFTER, "install macOS Sonoma 14.7.1-23H222 (nobody logged in)"),
        ("14.7", Some(DEADLINE), "14.6.1", SONOMA_AND_SEQUOIA, AFTER, "install macOS Sonoma 14.7.1-23H222 (nobody logged in)"),
        ("15", Some(DEADLINE), "14.6.1", SONOMA_AND_SEQUOIA, AFTER, "install macOS Sequoia 15.1-24B83 (nobody logged in)"),
        ("14.7", Some(DEADLINE), "13.6", SONOMA_AND_SEQUOIA, AFTER, "install macOS Sonoma 14.7.1-23H222 (nobody logged in)"),
        ("12.7", Some(DEADLINE), "12.6", LEGACY, AFTER, "install macOS Monterey 12.7.1-21G920 (nobody logged in)"),
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
        let (installed, updates) = (version(installed), parse_software_update_list(offered));
        let decision = decide(&settings, &facts(&installed, &updates, now));
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
    let (installed, updates) = (version("14.6"), parse_software_update_list(offered));
    let decision = decide(&settings, &facts(&installed, &updates, AFTER));
    assert_eq!(summary(&decision), "no update (newest none), deadline passed");
}

/// Reminders open on this day: five days before [`DEADLINE`].
const WINDOW_OPENS: &str = "2026-11-26T00:00:00Z";
const IN_WINDOW: &str = "2026-11-28T09:00:00Z";
const AN_HOUR_AGO: &str = "2026-11-28T08:00:00Z";
const TWO_DAYS_AGO: &str = "2026-11-26T09:00:00Z";
const SONOMA_LABEL: &str = "macOS Sonoma 14.7.1-23H222";

/// What earlier check-ins saved: (last notice, deferrals used, countdown end).
type Saved = Option<(Option<&'static str>, u32, Option<&'static str>)>;

/// (now, saved, someone logged in, Apple silicon, expected decision)
type NoticeRow = (&'static str, Saved, bool, bool, &'static str);

fn notice_settings() -> ManagedOs {
    ManagedOs {
        minimum_version: version("14.7"),
        deadline: Some(time(DEADLINE)),
        install_action: InstallAction::InstallAndRestart,
        notify_before: Duration::from_secs(5 * DAY),
        restart_countdown: Duration::from_secs(3600),
        max_deferrals: 3,
    }
}

fn decide_with(settings: &ManagedOs, now: &str, saved: Saved, someone: bool, apple_silicon: bool) -> String {
    decide_about(settings, SONOMA_LABEL, now, saved, someone, apple_silicon)
}

fn decide_about(
    settings: &ManagedOs,
    subject: &str,
    now: &str,
    saved: Saved,
    someone: bool,
    apple_silicon: bool,
) -> String {
    let (installed, updates) = (version("14.6.1"), parse_software_update_list(SONOMA_UPDATE));
    let progress = saved.map(|(shown, deferrals_used, countdown)| Progress {
        subject: subject.to_string(),
        notice_shown_at: shown.map(time),
        deferrals_used,
        countdown_ends_at: countdown.map(time),
    });
    let facts = Facts {
        progress: progress.as_ref(),
        someone_logged_in: someone,
        apple_silicon,
        ..facts(&installed, &updates, now)
    };
    summary(&decide(settings, &facts))
}

#[test]
fn notices_deferrals_and_countdowns_follow_the_deadline_and_the_person() {
    let rows: Vec<NoticeRow> = vec![
        // Before the window: pending, whoever is there.
        (BEFORE, None, true, false, "pending macOS Sonoma 14.7.1-23H222"),
        (BEFORE, Some((Some(AN_HOUR_AGO), 3, None)), true, false, "pending macOS Sonoma 14.7.1-23H222"),
        (BEFORE, None, true, true, "pending macOS Sonoma 14.7.1-23H222"),
        // In the window, Intel: a reminder once per interval, nothing with nobody there.
        (WINDOW_OPENS, None, true, false, "remind macOS Sonoma 14.7.1-23H222"),
        (IN_WINDOW, Some((Some(TWO_DAYS_AGO), 2, None)), true, false, "remind macOS Sonoma 14.7.1-23H222"),
        (IN_WINDOW, Some((Some(AN_HOUR_AGO), 1, None)), true, false, "wait until 2026-11-29T08:00:00Z"),
        (IN_WINDOW, Some((Some(AN_HOUR_AGO), 0, None)), true, false, "wait until 2026-11-29T08:00:00Z"),
        (IN_WINDOW, None, false, false, "pending macOS Sonoma 14.7.1-23H222"),
        (IN_WINDOW, Some((Some(AN_HOUR_AGO), 1, None)), false, false, "pending macOS Sonoma 14.7.1-23H222"),
        // Deferrals used up: as past the deadline, once the last reminder's interval is over.
        (IN_WINDOW, Some((Some(AN_HOUR_AGO), 3, None)), true, false, "wait until 2026-11-29T08:00:00Z"),
        (IN_WINDOW, Some((Some(TWO_DAYS_AGO), 3, None)), true, false, "countdown to 2026-11-28T10:00:00Z"),
        (IN_WINDOW, Some((Some(AN_HOUR_AGO), 4, None)), false, false, "install macOS Sonoma 14.7.1-23H222 (nobody logged in)"),
        // Past the deadline, Intel.
        (AFTER, None, true, false, "countdown to 2026-12-01T01:00:01Z"),
        (AFTER, Some((Some(AN_HOUR_AGO), 1, None)), true, false, "countdown to 2026-12-01T01:00:01Z"),
        (AFTER, Some((Some("2026-12-01T00:00:00Z"), 0, None)), true, false, "countdown to 2026-12-01T01:00:01Z"),
        (
            AFTER,
            Some((Some(AN_HOUR_AGO), 1, Some("2026-12-01T00:30:00Z"))),
            true,
            false,
            "countdown resumed to 2026-12-01T00:30:00Z",
        ),
        (AFTER, Some((None, 0, Some("2026-12-01T00:00:01Z"))), true, false, "install macOS Sonoma 14.7.1-23H222 (countdown over)"),
        (AFTER, Some((None, 0, Some(DEADLINE))), true, false, "install macOS Sonoma 14.7.1-23H222 (countdown over)"),
        (AFTER, None, false, false, "install macOS Sonoma 14.7.1-23H222 (nobody logged in)"),
        (AFTER, Some((None, 0, Some("2026-12-01T00:30:00Z"))), false, false, "install macOS Sonoma 14.7.1-23H222 (nobody logged in)"),
        // Apple silicon: never installed, the person asked once per interval.
        (WINDOW_OPENS, None, true, true, "ask the person with a notice"),
        (IN_WINDOW, Some((Some(TWO_DAYS_AGO), 3, None)), true, true, "ask the person with a notice"),
        (IN_WINDOW, Some((Some(AN_HOUR_AGO), 0, None)), true, true, "ask the person without a notice"),
        (IN_WINDOW, None, false, true, "ask the person without a notice"),
        (AFTER, None, true, true, "ask the person with a notice"),
        (AFTER, Some((Some(AN_HOUR_AGO), 3, Some(DEADLINE))), true, true, "ask the person with a notice"),
        (AFTER, Some((Some("2026-12-01T00:00:00Z"), 3, None)), true, true, "ask the person without a notice"),
        (AFTER, None, false, true, "ask the person without a notice"),
    ];
    let settings = notice_settings();
    for (now, saved, someone, apple_silicon, expected) in rows {
        assert_eq!(
            decide_with(&settings, now, saved, someone, apple_silicon),
            expected,
            "now {now}, saved {saved:?}, someone {someone}, Apple silicon {apple_silicon}"
        );
    }
}

#[test]
fn a_new_update_starts_the_counting_over() {
    let settings = notice_settings();
    let saved = Some((Some(AN_HOUR_AGO), 3, Some(DEADLINE)));
    assert_eq!(decide_about(&settings, "macOS Sonoma 14.7-23H124", IN_WINDOW, saved, true, false), "remind macOS Sonoma 14.7.1-23H222");
    assert_eq!(decide_about(&settings, "macOS Sonoma 14.7-23H124", AFTER, saved, true, false), "countdown to 2026-12-01T01:00:01Z");
    assert_eq!(decide_with(&settings, AFTER, saved, true, false), "install macOS Sonoma 14.7.1-23H222 (countdown over)");
}

#[test]
fn the_item_settings_move_the_window_the_limit_and_the_countdown() {
    let install_only = ManagedOs { install_action: InstallAction::Install, ..notice_settings() };
    assert_eq!(decide_with(&install_only, IN_WINDOW, None, true, false), "remind macOS Sonoma 14.7.1-23H222");
    assert_eq!(decide_with(&install_only, AFTER, None, true, false), "install macOS Sonoma 14.7.1-23H222 (no restart)");
    assert_eq!(decide_with(&install_only, AFTER, None, true, true), "ask the person with a notice");

    let no_deferrals = ManagedOs { max_deferrals: 0, ..notice_settings() };
    assert_eq!(decide_with(&no_deferrals, IN_WINDOW, None, true, false), "countdown to 2026-11-28T10:00:00Z");

    let no_reminders = ManagedOs { notify_before: Duration::ZERO, ..notice_settings() };
    assert_eq!(decide_with(&no_reminders, IN_WINDOW, None, true, false), "pending macOS Sonoma 14.7.1-23H222");
    assert_eq!(decide_with(&no_reminders, IN_WINDOW, None, true, true), "pending macOS Sonoma 14.7.1-23H222");
    assert_eq!(decide_with(&no_reminders, DEADLINE, None, true, false), "countdown to 2026-12-01T01:00:00Z");

    let short_countdown = ManagedOs { restart_countdown: Duration::from_secs(30), ..notice_settings() };
    assert_eq!(decide_with(&short_countdown, AFTER, None, true, false), "countdown to 2026-12-01T00:00:31Z");

    let no_deadline = ManagedOs { deadline: None, ..notice_settings() };
    assert_eq!(decide_with(&no_deadline, AFTER, None, true, false), "pending macOS Sonoma 14.7.1-23H222");
    assert_eq!(decide_with(&no_deadline, AFTER, None, true, true), "pending macOS Sonoma 14.7.1-23H222");
}

#[test]
fn a_compliant_device_is_compliant_whatever_was_saved() {
    let settings = notice_settings();
    let (installed, updates) = (version("14.7.1"), parse_software_update_list(SONOMA_UPDATE));
    let progress = Progress { subject: SONOMA_LABEL.into(), deferrals_used: 3, ..Progress::default() };
    let facts = Facts { progress: Some(&progress), someone_logged_in: true, ..facts(&installed, &updates, AFTER) };
    assert_eq!(summary(&decide(&settings, &facts)), "compliant");
}

#[test]
fn an_update_asked_for_in_self_service_is_acted_on_at_once_whatever_the_window() {
    let settings = notice_settings();
    let (installed, updates) = (version("14.6.1"), parse_software_update_list(SONOMA_UPDATE));
    let progress = Progress { subject: SONOMA_LABEL.into(), deferrals_used: 1, ..Progress::default() };
    for (now, apple_silicon) in [("2026-01-01T00:00:00Z", false), (AFTER, false), (AFTER, true)] {
        let facts = Facts {
            progress: Some(&progress),
            someone_logged_in: true,
            apple_silicon,
            asked_by_person: true,
            ..facts(&installed, &updates, now)
        };
        assert_eq!(summary(&decide(&settings, &facts)), "asked in Self Service macOS Sonoma 14.7.1-23H222");
    }
    let compliant = version("14.7.1");
    let facts = Facts { asked_by_person: true, ..facts(&compliant, &updates, AFTER) };
    assert_eq!(summary(&decide(&settings, &facts)), "compliant", "nothing to do is nothing to do");
}
