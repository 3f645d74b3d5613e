//! What the person at the Mac reads about a managed OS update, written once: the
//! notices' titles, messages and buttons (the README quotes them verbatim), and
//! what each answer means.
//!
//! Pure: times and durations come in already decided, so every text is a test row.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

/// The reminder's title, and the Apple silicon notice's.
pub(crate) const REMINDER_TITLE: &str = "macOS update required";
/// The final notice's title, past the deadline; its only button is "Restart
/// Now" (the shared countdown's, `person::countdown`).
pub(crate) const COUNTDOWN_TITLE: &str = "macOS update";
/// The reminder's button that installs the update now (Intel).
pub(crate) const UPDATE_NOW: &str = "Update Now";
/// The button that puts the update off: a counted deferral. The default of every
/// notice that has it, so a notice nobody answers changes nothing.
pub(crate) const LATER: &str = "Later";
/// The Apple silicon notice's button that opens Software Update for the person.
pub(crate) const OPEN_SOFTWARE_UPDATE: &str = "Open Software Update";
/// What `open` is given to show Software Update's settings.
pub(crate) const SOFTWARE_UPDATE_URL: &str = "x-apple.systempreferences:com.apple.Software-Update-Settings.extension";

/// What the person did with a notice that offers "Later".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Choice {
    /// "Update Now" or "Open Software Update".
    Act,
    /// "Later": a counted deferral.
    Later,
    /// The notice gave up, or came back with a button it does not have: its default
    /// ("Later") applies, recorded but not counted.
    NoAnswer,
}

/// The choice behind `clicked` (the button's text, `None` when the notice gave up).
pub(crate) fn choice(clicked: Option<&str>) -> Choice {
    match clicked {
        Some(UPDATE_NOW | OPEN_SOFTWARE_UPDATE) => Choice::Act,
        Some(LATER) => Choice::Later,
        _ => Choice::NoAnswer,
    }
}

/// The reminder, from `notify_before` ahead of the deadline: `deadline` as
/// [`local_time`] wrote it, `interval` the notices' interval.
pub(crate) fn reminder_message(update: &str, deadline: &str, interval: Duration) -> String {
    format!(
        "{update} must be installed by {deadline}. Your Mac will restart to finish it. Save your work, then choose Update Now, or Later to be reminded {}.",
        next_time(interval)
    )
}

/// The final notice: the install starts in `remaining`, or when the person
/// clicks "Restart Now".
pub(crate) fn countdown_message(update: &str, remaining: Duration) -> String {
    format!(
        "{update} is being installed. Your Mac will restart in {}. Save your work now.",
        amount(remaining.as_secs().div_ceil(60).max(1), "minute")
    )
}

/// The Apple silicon notice: only the person can install it there.
pub(crate) fn apple_silicon_message(update: &str, deadline: Option<&str>, deadline_passed: bool) -> String {
    let by = match deadline {
        Some(deadline) if deadline_passed => format!("was due by {deadline}"),
        Some(deadline) => format!("must be installed by {deadline}"),
        None => "must be installed".to_string(),
    };
    format!("{update} {by}. Only you can install it on this Mac: choose Open Software Update, then Update Now.")
}

/// `time` as the person reads it, in `zone` (the Mac's own time zone):
/// `Monday, 30 November 2026 at 17:00`.
pub(crate) fn local_time<Zone: TimeZone>(time: DateTime<Utc>, zone: &Zone) -> String
where
    Zone::Offset: std::fmt::Display,
{
    time.with_timezone(zone).format("%A, %-d %B %Y at %H:%M").to_string()
}

/// When "Later" brings the reminder back: "tomorrow" for a day, else "in 12 hours".
fn next_time(interval: Duration) -> String {
    const DAY: u64 = 24 * 60 * 60;
    let seconds = interval.as_secs();
    if seconds == DAY {
        return "tomorrow".to_string();
    }
    let parts: Vec<String> = [(seconds / DAY, "day"), (seconds % DAY / 3600, "hour"), (seconds % 3600 / 60, "minute"), (seconds % 60, "second")]
        .into_iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, unit)| amount(count, unit))
        .collect();
    if parts.is_empty() {
        return "at the next check-in".to_string();
    }
    format!("in {}", parts.join(" "))
}

/// `1 minute`, `5 minutes`.
fn amount(count: u64, unit: &str) -> String {
    if count == 1 { format!("1 {unit}") } else { format!("{count} {unit}s") }
}

#[cfg(test)]
#[path = "notices_tests.rs"]
mod tests;
