//! The two verdicts an admin console or an integration (Siit, Twingate) reads:
//! "verified" and "out of control", computed from a device's record at a given "now".
//!
//! - verified: checked in within 7 days, the agent is installed (it has checked in),
//!   the last inventory says `mdm_profile_installed: true`, and not removed.
//! - out of control: no check-in for 3 weeks, or no inventory for 2 months, or the MDM
//!   profile expired (enrolment + 2 years). A device that never checked in or never
//!   sent inventory is measured from when the tenant first saw it, so a device that
//!   just enrolled is not out of control yet. Enrolment is the inventory's
//!   `mdm_enrolled_at` when sent, else the first time the tenant saw the device.

use chrono::{DateTime, Duration, Months, Utc};
use serde::Serialize;

use crate::store::DeviceRow;

/// Both verdicts with the reasons behind them, so a person can see why.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub(crate) struct Verdicts {
    pub(crate) verified: bool,
    /// Why the device is not verified (empty when it is).
    pub(crate) not_verified_because: Vec<&'static str>,
    pub(crate) out_of_control: bool,
    /// Why the device is out of control (empty when it is not).
    pub(crate) out_of_control_because: Vec<&'static str>,
}

/// Applies the rules to one device at `now`.
pub(crate) fn judge(device: &DeviceRow, now: DateTime<Utc>) -> Verdicts {
    let mut not_verified_because = Vec::new();
    match device.last_checkin {
        None => not_verified_because.push("agent has never checked in"),
        Some(last) if now - last > Duration::days(7) => not_verified_because.push("no check-in within 7 days"),
        Some(_) => {}
    }
    match device.mdm_profile_installed {
        Some(true) => {}
        Some(false) => not_verified_because.push("MDM profile not installed"),
        None => not_verified_because.push("no inventory has said the MDM profile is installed"),
    }
    if device.removed {
        not_verified_because.push("device removed");
    }

    let mut out_of_control_because = Vec::new();
    if now - device.last_checkin.unwrap_or(device.first_seen) > Duration::weeks(3) {
        out_of_control_because.push("no check-in for 3 weeks");
    }
    let last_inventory = device.last_inventory.unwrap_or(device.first_seen);
    if last_inventory.checked_add_months(Months::new(2)).is_some_and(|due| now > due) {
        out_of_control_because.push("no inventory for 2 months");
    }
    let enrolled = device.mdm_enrolled_at.unwrap_or(device.first_seen);
    if enrolled.checked_add_months(Months::new(24)).is_some_and(|expiry| now > expiry) {
        out_of_control_because.push("MDM profile expired (enrolled more than 2 years ago)");
    }

    Verdicts {
        verified: not_verified_because.is_empty(),
        not_verified_because,
        out_of_control: !out_of_control_because.is_empty(),
        out_of_control_because,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("a valid time in the test")
    }

    fn healthy() -> DeviceRow {
        DeviceRow {
            device_id: "D-1".into(),
            first_seen: at("2026-01-01T00:00:00Z"),
            last_checkin: Some(at("2026-01-10T00:00:00Z")),
            agent_version: Some("0.1.0".into()),
            serial_number: None,
            hostname: None,
            os_version: None,
            blueprint_id: None,
            blueprint_etag: None,
            blueprint_sent_at: None,
            last_inventory: Some(at("2026-01-10T00:00:00Z")),
            mdm_profile_installed: Some(true),
            mdm_enrolled_at: Some(at("2026-01-01T00:00:00Z")),
            removed: false,
        }
    }

    #[test]
    fn each_rule_at_its_boundary() {
        type Change = fn(&mut DeviceRow);
        let cases: &[(&str, Change, &str, bool, bool)] = &[
            ("healthy", |_| {}, "2026-01-17T00:00:00Z", true, false),
            ("7 days and a second", |_| {}, "2026-01-17T00:00:01Z", false, false),
            ("3 weeks exactly", |_| {}, "2026-01-31T00:00:00Z", false, false),
            ("3 weeks and a second", |_| {}, "2026-01-31T00:00:01Z", false, true),
            ("never checked in", |device| device.last_checkin = None, "2026-01-11T00:00:00Z", false, false),
            (
                "profile missing",
                |device| device.mdm_profile_installed = Some(false),
                "2026-01-11T00:00:00Z",
                false,
                false,
            ),
            ("profile unknown", |device| device.mdm_profile_installed = None, "2026-01-11T00:00:00Z", false, false),
            ("removed", |device| device.removed = true, "2026-01-11T00:00:00Z", false, false),
            (
                "no inventory for 2 months",
                |device| {
                    device.last_checkin = Some(at("2026-03-10T00:00:00Z"));
                    device.last_inventory = Some(at("2026-01-09T00:00:00Z"));
                },
                "2026-03-10T00:00:00Z",
                true,
                true,
            ),
            (
                "profile expired",
                |device| {
                    device.last_checkin = Some(at("2028-01-01T12:00:00Z"));
                    device.last_inventory = device.last_checkin;
                },
                "2028-01-01T12:00:00Z",
                true,
                true,
            ),
        ];
        for (name, change, now, verified, out_of_control) in cases {
            let mut device = healthy();
            change(&mut device);
            let verdicts = judge(&device, at(now));
            assert_eq!(
                (verdicts.verified, verdicts.out_of_control),
                (*verified, *out_of_control),
                "{name}: {verdicts:?}"
            );
        }
    }
}
