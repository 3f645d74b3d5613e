//! The age of the last check-in and of the last inventory, and a fresh device.

use chrono::{TimeDelta, Utc};
use endpoint_agent::inventory::Inventory;

use super::harness::{Installed, assert_check, doctor, record_check_in, save_inventory, without_tenant};
use crate::support::Device;
use crate::tenant::configure;
use crate::tenant::server::TestTenant;

/// A freshly enrolled Mac that never checked in is not out of control yet (an MDM
/// console measures that from when it first saw the device), but not verified
/// either: every check that needs a check-in or an inventory warns and says how to
/// get one. Nothing fails, so the doctor exits 0.
#[test]
fn a_freshly_enrolled_device_warns_that_it_never_checked_in() {
    let installed = Installed::new();
    let device = &installed.device;
    let tenant = TestTenant::start("tok-fresh-secret", crate::support::blueprint(Vec::new()));
    configure(device, &tenant.url(), "tok-fresh-secret");
    let output = device.run(&["doctor", "--json"]);
    assert!(!crate::support::text(&output.stdout).contains("tok-fresh-secret"));
    assert!(!crate::support::text(&output.stderr).contains("tok-fresh-secret"));
    let (code, report) = doctor(device, &[]);
    assert_eq!((code, report["verdict"].as_str()), (0, Some("warn")), "{report:#}");
    assert_check(&report, "agent_binary", "pass", &format!("agent {}", env!("CARGO_PKG_VERSION")));
    assert_check(&report, "launchd_job", "pass", "starts `/usr/local/bin/agent daemon` at boot");
    assert_check(&report, "launchd_loaded", "pass", "system/io.endpointagent.agent is loaded and running, pid 412");
    assert_check(&report, "tenant_connection", "pass", "connected in");
    assert_check(&report, "tenant_request", "pass", "GET /api/v1/agent/blueprint: 200 in");
    assert_check(&report, "apple_push", "pass", "connected in");
    assert_check(&report, "last_checkin", "warn", "never: no check-in has run on this Mac yet");
    assert_check(&report, "last_inventory", "warn", "never");
    assert_check(&report, "mdm_profile", "warn", "unknown: no inventory");
    assert_check(&report, "mdm_certificate", "skipped", "no inventory");
    assert_check(&report, "filevault", "pass", "On");
    let requests = tenant.seen();
    assert!(requests.iter().all(|seen| seen.path == "/api/v1/agent/blueprint"), "the doctor never checks in");
    assert_eq!(requests[0].authorization.as_deref(), Some("Bearer tok-fresh-secret"));
    assert!(requests[0].query.starts_with("device_id="), "{}", requests[0].query);
}

#[test]
fn a_device_last_seen_8_days_ago_warns_and_22_days_ago_fails() {
    let now = Utc::now();
    let cases = [
        (8, 0, "warn", "8 days ago", "over 7d: no longer verified"),
        (22, 1, "fail", "22 days ago", "over 21d: out of control"),
    ];
    for (days, expected_code, verdict, age, meaning) in cases {
        let installed = Installed::new();
        let device = &installed.device;
        without_tenant(device);
        record_check_in(device, now - TimeDelta::days(days + 5));
        record_check_in(device, now - TimeDelta::days(days));
        save_inventory(device, &Inventory { collected_at: now - TimeDelta::days(1), ..Inventory::default() });
        let (code, report) = doctor(device, &[]);
        assert_eq!((code, report["verdict"].as_str()), (expected_code, Some(verdict)), "{report:#}");
        assert_check(&report, "last_checkin", verdict, age);
        assert_check(&report, "last_checkin", verdict, meaning);
        assert_check(&report, "tenant_connection", "skipped", "no tenant configured: the agent enforces");
        assert_check(&report, "tenant_request", "skipped", "no tenant configured");
        assert_check(&report, "last_inventory", "pass", "24 hours ago");
    }
}

#[test]
fn the_thresholds_are_configurable() {
    let installed = Installed::new();
    let device = &installed.device;
    without_tenant(device);
    record_check_in(device, Utc::now() - TimeDelta::days(3));
    let tight = ["--set", "doctor.checkin_warn_after=1d", "--set", "doctor.checkin_fail_after=2d"];
    assert_check(&doctor(device, &tight).1, "last_checkin", "fail", "over 2d: out of control");
    let loose = ["--set", "doctor.checkin_warn_after=2d", "--set", "doctor.checkin_fail_after=4w"];
    assert_check(&doctor(device, &loose).1, "last_checkin", "warn", "over 2d: no longer verified");
}

#[test]
fn an_inventory_older_than_two_months_fails() {
    let installed = Installed::new();
    let device = &installed.device;
    without_tenant(device);
    record_check_in(device, Utc::now() - TimeDelta::hours(1));
    save_inventory(device, &Inventory { collected_at: Utc::now() - TimeDelta::days(61), ..Inventory::default() });
    let (code, report) = doctor(device, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_check(&report, "last_checkin", "pass", "1 hour ago");
    assert_check(&report, "last_inventory", "fail", "61 days ago");
    assert_check(&report, "last_inventory", "fail", "over 60d: out of control");
}

#[test]
fn a_bad_doctor_setting_is_a_configuration_error() {
    let device = Device::new();
    let output = device.run(&["doctor", "--json", "--set", "doctor.push_ports=https"]);
    assert_eq!(crate::support::code(&output), 2);
    let message = crate::support::text(&output.stderr);
    assert!(message.contains("doctor.push_ports"), "{message}");
    assert!(output.stdout.is_empty());
}
