//! Durations as admins write them and `agent config` shows them: `"1h 30m"`,
//! `"21d"`, never seconds and nanoseconds.

use std::time::Duration;

use serde::Serializer;

/// Seconds in a minute.
pub(super) const MINUTE: u64 = 60;
/// Seconds in an hour.
pub(super) const HOUR: u64 = 60 * MINUTE;
/// Seconds in a day.
pub(super) const DAY: u64 = 24 * HOUR;

/// A duration as admins write it (`"1h 30m"`), not as seconds and nanoseconds.
pub(super) fn as_duration_text<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&duration_text(*duration))
}

/// A long duration as admins write it: whole days as `"21d"`, else as
/// [`duration_text`] would.
pub(super) fn as_long_duration_text<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&long_duration_text(*duration))
}

/// `duration` in days when it is a whole number of them (`"7d"`, `"730d"`), else in
/// hours, minutes and seconds. For thresholds counted in days and weeks, where
/// `"504h"` would hide the three weeks an admin wrote. Parses back the same.
pub(crate) fn long_duration_text(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds > 0 && seconds % DAY == 0 && duration.subsec_nanos() == 0 {
        return format!("{}d", seconds / DAY);
    }
    duration_text(duration)
}

/// `duration` in hours, minutes and seconds (`"24h"`, `"1h 30m"`, `"1m 30s"`), the
/// units admins write; `humantime` would say `"1day"`. The text parses back to the
/// same duration.
pub(crate) fn duration_text(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let nanoseconds = duration.subsec_nanos();
    let mut parts = Vec::new();
    for (amount, unit) in [(seconds / HOUR, "h"), (seconds % HOUR / MINUTE, "m"), (seconds % MINUTE, "s")] {
        if amount > 0 {
            parts.push(format!("{amount}{unit}"));
        }
    }
    if nanoseconds > 0 {
        parts.push(match nanoseconds {
            _ if nanoseconds % 1_000_000 == 0 => format!("{}ms", nanoseconds / 1_000_000),
            _ if nanoseconds % 1_000 == 0 => format!("{}us", nanoseconds / 1_000),
            _ => format!("{nanoseconds}ns"),
        });
    }
    if parts.is_empty() {
        return "0s".to_string();
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_in_hours_minutes_and_seconds_and_parse_back() {
        let cases = [
            (Duration::from_secs(24 * HOUR), "24h"),
            (Duration::from_secs(90 * MINUTE), "1h 30m"),
            (Duration::from_secs(90), "1m 30s"),
            (Duration::from_secs(5), "5s"),
            (Duration::from_millis(1_500), "1s 500ms"),
            (Duration::from_micros(7), "7us"),
            (Duration::from_nanos(3), "3ns"),
            (Duration::ZERO, "0s"),
        ];
        for (duration, expected) in cases {
            assert_eq!(duration_text(duration), expected);
            assert_eq!(humantime::parse_duration(expected).unwrap(), duration, "{expected}");
        }
    }

    #[test]
    fn long_durations_print_in_days_when_whole_and_parse_back() {
        let cases = [
            (Duration::from_secs(21 * DAY), "21d"),
            (Duration::from_secs(730 * DAY), "730d"),
            (Duration::from_secs(DAY), "1d"),
            (Duration::from_secs(36 * HOUR), "36h"),
            (Duration::from_secs(90), "1m 30s"),
            (Duration::from_millis(DAY * 1000 + 1), "24h 1ms"),
        ];
        for (duration, expected) in cases {
            assert_eq!(long_duration_text(duration), expected);
            assert_eq!(humantime::parse_duration(expected).unwrap(), duration, "{expected}");
        }
    }
}
