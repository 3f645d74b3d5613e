//! How old the last inventory is: `collected_at` of `state/inventory.json`, the
//! inventory the tenant last received (the daily check-in saves what it sends).

use chrono::{DateTime, Utc};

use super::check::{Finding, Verdict};
use super::thresholds::{age_text, age_verdict};
use crate::config::{Doctor, long_duration_text};
use crate::inventory::Inventory;
use crate::render;

/// What to do when the inventory is missing or old.
const COLLECT: &str = "`sudo agent run --reset-daily` collects the inventory and sends it to the tenant; `sudo agent inventory` collects it on this Mac only.";

/// What to do when the saved inventory cannot be read.
pub(crate) const UNREADABLE: &str = "Run `sudo agent doctor`: the saved inventory is readable by root only. If it persists, `sudo agent inventory` writes a new one.";

/// The last inventory's age against `doctor`'s limits.
pub(crate) fn last_inventory(
    inventory: &Result<Option<Inventory>, String>,
    now: DateTime<Utc>,
    doctor: &Doctor,
) -> Finding {
    let collected_at = match inventory {
        Ok(Some(inventory)) => inventory.collected_at,
        Ok(None) => return Finding::warn("never: no inventory has been collected on this Mac", COLLECT),
        Err(error) => return Finding::fail(format!("cannot read the saved inventory: {error}"), UNREADABLE),
    };
    let verdict = age_verdict(now - collected_at, doctor.inventory_warn_after, doctor.inventory_fail_after);
    let mut value = format!("{} ({})", age_text(now - collected_at), render::time(collected_at));
    match verdict {
        Verdict::Warn => value.push_str(&format!(
            "; over {}: daily check-ins are not sending it",
            long_duration_text(doctor.inventory_warn_after)
        )),
        Verdict::Fail => {
            value.push_str(&format!("; over {}: out of control", long_duration_text(doctor.inventory_fail_after)))
        }
        _ => {}
    }
    Finding::judged(verdict, value, COLLECT)
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn the_inventory_warns_past_a_week_and_fails_past_two_months() {
        let now: DateTime<Utc> = "2026-11-26T12:00:00Z".parse().unwrap();
        let collected =
            |days: i64| Ok(Some(Inventory { collected_at: now - TimeDelta::days(days), ..Inventory::default() }));
        let cases = [
            (collected(0), Verdict::Pass, "just now (2026-11-26T12:00:00Z)"),
            (collected(3), Verdict::Pass, "3 days ago"),
            (collected(8), Verdict::Warn, "over 7d: daily check-ins are not sending it"),
            (collected(61), Verdict::Fail, "61 days ago (2026-09-26T12:00:00Z); over 60d: out of control"),
            (Ok(None), Verdict::Warn, "never"),
            (Err("permission denied".to_string()), Verdict::Fail, "cannot read the saved inventory: permission denied"),
        ];
        for (inventory, verdict, value) in cases {
            let finding = last_inventory(&inventory, now, &Doctor::default());
            assert_eq!(finding.verdict, verdict, "{}", finding.value);
            assert!(finding.value.contains(value), "{} lacks {value}", finding.value);
        }
    }
}
