//! The verdict rules, as plain functions of "now": how old is too old, how close
//! to expiry is too close, and how an age reads.
//!
//! Limits are exclusive, as an MDM console counts them: a check-in exactly 7 days
//! old is still "verified", one a second older is not.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::check::Verdict;

/// The verdict for something last seen `age` ago: pass up to `warn_after`, warn up
/// to `fail_after`, fail beyond. An age below zero (a clock set back) passes.
pub(crate) fn age_verdict(age: TimeDelta, warn_after: Duration, fail_after: Duration) -> Verdict {
    let longer_than = |limit: Duration| TimeDelta::from_std(limit).is_ok_and(|limit| age > limit);
    if longer_than(fail_after) {
        Verdict::Fail
    } else if longer_than(warn_after) {
        Verdict::Warn
    } else {
        Verdict::Pass
    }
}

/// The verdict for something that expires at `expires_at`: fail once past it, warn
/// within `warn_before` of it, pass before.
pub(crate) fn expiry_verdict(now: DateTime<Utc>, expires_at: DateTime<Utc>, warn_before: Duration) -> Verdict {
    let warn_from = TimeDelta::from_std(warn_before).ok().and_then(|before| expires_at.checked_sub_signed(before));
    if now > expires_at {
        Verdict::Fail
    } else if warn_from.is_none_or(|warn_from| now > warn_from) {
        Verdict::Warn
    } else {
        Verdict::Pass
    }
}

/// `later` plus `duration`; `None` past the calendar's end.
pub(crate) fn add(later: DateTime<Utc>, duration: Duration) -> Option<DateTime<Utc>> {
    later.checked_add_signed(TimeDelta::from_std(duration).ok()?)
}

/// An age as people say it: `just now`, `12 minutes ago`, `5 hours ago`, `8 days
/// ago`; `in the future` for a time past now (the clock was set back).
pub(crate) fn age_text(age: TimeDelta) -> String {
    let plural = |count: i64, unit: &str| format!("{count} {unit}{} ago", if count == 1 { "" } else { "s" });
    match age {
        _ if age < TimeDelta::zero() => "in the future".to_string(),
        _ if age < TimeDelta::minutes(1) => "just now".to_string(),
        _ if age < TimeDelta::hours(1) => plural(age.num_minutes(), "minute"),
        _ if age < TimeDelta::hours(48) => plural(age.num_hours(), "hour"),
        _ => plural(age.num_days(), "day"),
    }
}

/// A date people read: `2026-11-18`.
pub(crate) fn date_text(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 24 * 60 * 60;

    fn days(count: u64) -> Duration {
        Duration::from_secs(count * DAY)
    }

    #[test]
    fn check_in_ages_warn_past_a_week_and_fail_past_three() {
        let cases = [
            (TimeDelta::zero(), Verdict::Pass),
            (TimeDelta::hours(-3), Verdict::Pass),
            (TimeDelta::days(1), Verdict::Pass),
            (TimeDelta::days(7), Verdict::Pass),
            (TimeDelta::days(7) + TimeDelta::seconds(1), Verdict::Warn),
            (TimeDelta::days(8), Verdict::Warn),
            (TimeDelta::days(21), Verdict::Warn),
            (TimeDelta::days(21) + TimeDelta::seconds(1), Verdict::Fail),
            (TimeDelta::days(22), Verdict::Fail),
            (TimeDelta::days(400), Verdict::Fail),
        ];
        for (age, expected) in cases {
            assert_eq!(age_verdict(age, days(7), days(21)), expected, "{age}");
        }
    }

    #[test]
    fn inventory_ages_fail_past_two_months() {
        let cases = [
            (TimeDelta::days(3), Verdict::Pass),
            (TimeDelta::days(8), Verdict::Warn),
            (TimeDelta::days(60), Verdict::Warn),
            (TimeDelta::days(61), Verdict::Fail),
        ];
        for (age, expected) in cases {
            assert_eq!(age_verdict(age, days(7), days(60)), expected, "{age}");
        }
    }

    #[test]
    fn a_warning_limit_past_the_failure_limit_never_hides_the_failure() {
        assert_eq!(age_verdict(TimeDelta::days(10), days(30), days(9)), Verdict::Fail);
        assert_eq!(age_verdict(TimeDelta::days(8), days(30), days(9)), Verdict::Pass);
    }

    #[test]
    fn certificates_warn_a_month_before_they_expire_and_fail_after() {
        let expires: DateTime<Utc> = "2026-03-01T00:00:00Z".parse().unwrap();
        let cases = [
            ("2025-12-01T00:00:00Z", Verdict::Pass),
            ("2026-01-30T00:00:00Z", Verdict::Pass),
            ("2026-01-30T00:00:01Z", Verdict::Warn),
            ("2026-03-01T00:00:00Z", Verdict::Warn),
            ("2026-03-01T00:00:01Z", Verdict::Fail),
            ("2028-01-01T00:00:00Z", Verdict::Fail),
        ];
        for (now, expected) in cases {
            assert_eq!(expiry_verdict(now.parse().unwrap(), expires, days(30)), expected, "{now}");
        }
    }

    #[test]
    fn ages_read_as_people_say_them() {
        let cases = [
            (TimeDelta::seconds(-5), "in the future"),
            (TimeDelta::seconds(20), "just now"),
            (TimeDelta::minutes(1), "1 minute ago"),
            (TimeDelta::minutes(12), "12 minutes ago"),
            (TimeDelta::hours(1), "1 hour ago"),
            (TimeDelta::hours(47), "47 hours ago"),
            (TimeDelta::hours(48), "2 days ago"),
            (TimeDelta::days(22) + TimeDelta::hours(5), "22 days ago"),
        ];
        for (age, expected) in cases {
            assert_eq!(age_text(age), expected, "{age}");
        }
    }
}
