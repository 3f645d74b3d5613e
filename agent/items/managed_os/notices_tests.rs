//! The notices' texts, word for word, and what each answer means.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};

use super::*;

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

#[test]
fn the_reminder_says_what_by_when_and_when_it_comes_back() {
    let rows = [
        (24 * 3600, "tomorrow"),
        (12 * 3600, "in 12 hours"),
        (90 * 60, "in 1 hour 30 minutes"),
        (2 * 24 * 3600, "in 2 days"),
        (5, "in 5 seconds"),
        (0, "at the next check-in"),
    ];
    for (seconds, when) in rows {
        let message = reminder_message("macOS Sonoma 14.7.1", "Monday, 30 November 2026 at 17:00", Duration::from_secs(seconds));
        assert_eq!(
            message,
            format!("macOS Sonoma 14.7.1 must be installed by Monday, 30 November 2026 at 17:00. Your Mac will restart to finish it. Save your work, then choose Update Now, or Later to be reminded {when}.")
        );
    }
}

#[test]
fn the_countdown_says_how_many_minutes_are_left_rounded_up() {
    let rows = [(3600, "60 minutes"), (61, "2 minutes"), (60, "1 minute"), (5, "1 minute"), (0, "1 minute")];
    for (seconds, left) in rows {
        assert_eq!(
            countdown_message("macOS Sonoma 14.7.1", Duration::from_secs(seconds)),
            format!("macOS Sonoma 14.7.1 is being installed. Your Mac will restart in {left}. Save your work now.")
        );
    }
}

#[test]
fn the_apple_silicon_notice_asks_the_person_to_install_it() {
    let deadline = Some("Monday, 30 November 2026 at 17:00");
    assert_eq!(
        apple_silicon_message("macOS Sonoma 14.7.1", deadline, false),
        "macOS Sonoma 14.7.1 must be installed by Monday, 30 November 2026 at 17:00. Only you can install it on this Mac: choose Open Software Update, then Update Now."
    );
    assert_eq!(
        apple_silicon_message("macOS Sonoma 14.7.1", deadline, true),
        "macOS Sonoma 14.7.1 was due by Monday, 30 November 2026 at 17:00. Only you can install it on this Mac: choose Open Software Update, then Update Now."
    );
}

#[test]
fn deadlines_read_in_the_macs_time_zone() {
    let pacific = FixedOffset::west_opt(8 * 3600).unwrap();
    assert_eq!(local_time(time("2026-12-01T01:00:00Z"), &pacific), "Monday, 30 November 2026 at 17:00");
    assert_eq!(local_time(time("2026-12-01T01:00:00Z"), &Utc), "Tuesday, 1 December 2026 at 01:00");
}

#[test]
fn each_answer_means_one_choice() {
    let rows = [
        (Some("Update Now"), Choice::Act),
        (Some("Open Software Update"), Choice::Act),
        (Some("Later"), Choice::Later),
        (None, Choice::NoAnswer),
        (Some("Restart Now"), Choice::NoAnswer),
        (Some("later"), Choice::NoAnswer),
        (Some(""), Choice::NoAnswer),
    ];
    for (clicked, expected) in rows {
        assert_eq!(choice(clicked), expected, "{clicked:?}");
    }
}
