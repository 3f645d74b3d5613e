//! Small pieces of text shared by everything that prints for people.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::state::{ItemRecord, ItemStatus};

/// `text` with control characters escaped, so a hostile item name cannot move the
/// cursor, clear the screen or forge a line (see [`crate::terminal`]).
pub use crate::terminal::printable;

/// A duration in milliseconds, short and readable: `850ms`, `12.3s`, `4m05s`, `2h10m`.
pub fn duration_ms(milliseconds: u64) -> String {
    let seconds = milliseconds / 1000;
    match milliseconds {
        0..1_000 => format!("{milliseconds}ms"),
        1_000..60_000 => format!("{:.1}s", milliseconds as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h{:02}m", seconds / 3600, (seconds % 3600) / 60),
    }
}

/// A time for people: RFC 3339, UTC, whole seconds.
pub fn time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An optional time, or `never`.
pub fn optional_time(value: Option<DateTime<Utc>>) -> String {
    value.map_or_else(|| "never".into(), time)
}

/// The mark before an item's line.
pub fn status_mark(status: ItemStatus) -> &'static str {
    match status {
        ItemStatus::Succeeded => "✔",
        ItemStatus::Failed => "✘",
        ItemStatus::TimedOut => "⏱",
        ItemStatus::Skipped => "–",
        ItemStatus::NotRun => "·",
        ItemStatus::Deferred => "⏸",
        ItemStatus::WaitingForUser => "⌛",
    }
}

/// One line for an item result: mark, status, type, name, duration, message.
pub fn item_line(record: &ItemRecord) -> String {
    let mut line = format!(
        "{} {:<9} {:<14} {}",
        status_mark(record.status),
        record.status.as_str(),
        record.item_type,
        printable(&record.name)
    );
    if !matches!(record.status, ItemStatus::Skipped | ItemStatus::NotRun) {
        line.push_str(&format!(" ({})", duration_ms(record.duration_ms)));
    }
    if !record.message.is_empty() {
        line.push_str(&format!(": {}", printable(&record.message)));
    }
    line
}

/// The items whose work waits on the person, for a run's summary: `, 2 deferred,
/// 1 waiting for the user`, or nothing when none does (most runs).
pub fn waiting_counts(deferred: u32, waiting_for_user: u32) -> String {
    let mut text = String::new();
    if deferred > 0 {
        text.push_str(&format!(", {deferred} deferred"));
    }
    if waiting_for_user > 0 {
        text.push_str(&format!(", {waiting_for_user} waiting for the user"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_counts_of_waiting_work_that_there_is_are_named() {
        assert_eq!(waiting_counts(0, 0), "");
        assert_eq!(waiting_counts(2, 0), ", 2 deferred");
        assert_eq!(waiting_counts(0, 1), ", 1 waiting for the user");
        assert_eq!(waiting_counts(1, 3), ", 1 deferred, 3 waiting for the user");
    }

    #[test]
    fn durations_read_well() {
        for (milliseconds, shown) in [(5, "5ms"), (1500, "1.5s"), (245_000, "4m05s"), (7_800_000, "2h10m")] {
            assert_eq!(duration_ms(milliseconds), shown);
        }
    }
}
