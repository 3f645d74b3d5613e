//! A running daemon's configuration changing: SIGHUP reaching the process, and
//! `agent enroll` applying at the next scheduled check-in without a signal. When
//! each check-in runs after a change (a new interval, a missing blueprint) is
//! tested under paused time beside the scheduler (`daemon::scheduler` tests).

use nix::sys::signal::Signal;
use serde_json::json;

use super::harness::{Daemon, finished, wait_for_logged, wait_for_runs};
use crate::support::{Device, PATIENCE, blueprint, code, logged_records, script, text};
use crate::tenant::counting_blueprint;
use crate::tenant::server::TestTenant;

const RELOADED: &str = "A configuration file changed; configuration reloaded for this check-in.";
const SIGHUP_RELOADED: &str = "SIGHUP: configuration reloaded; it applies from the next check-in.";
const NO_BLUEPRINT: &str =
    "No blueprint for the scheduled check-in (set blueprint_file or enroll with a tenant); waiting for the next slot.";

/// The log records with `message` once there is one.
fn logged_once(device: &Device, message: &str) -> Vec<serde_json::Value> {
    wait_for_logged(device, message, 1, PATIENCE)
}

#[test]
fn sighup_reloads_the_configuration_and_keeps_it_when_the_new_one_is_broken() {
    let device = Device::new();
    let daemon = Daemon::start(&device, &["schedule.recurring_interval=1h", "schedule.daily_interval=1h"]);
    logged_once(&device, NO_BLUEPRINT);
    let dropin = "Library/Application Support/EndpointAgent/config.d/20-test.json";
    device.write_file(dropin, r#"{"schedule": {"recurring_interval": "soon"}}"#);
    daemon.signal(Signal::SIGHUP);
    let broken = logged_once(&device, "SIGHUP: the new configuration is broken; keeping the one in use.");
    assert!(broken[0]["error"].as_str().unwrap().contains("schedule.recurring_interval"));

    // A fixed configuration applies at once: the owed daily check-in now has a blueprint.
    let path = device.write_blueprint(&blueprint(vec![script("quick", "Quick", "#!/bin/sh\nexit 0\n")]));
    device.write_file(dropin, &json!({ "blueprint_file": path }).to_string());
    daemon.signal(Signal::SIGHUP);
    let runs = wait_for_runs(&device, PATIENCE, |runs| runs.first().is_some_and(finished));
    assert_eq!((runs[0]["kind"].as_str(), runs[0]["outcome"].as_str()), (Some("daily"), Some("succeeded")));
    let reloaded = logged_once(&device, SIGHUP_RELOADED);
    assert_eq!(reloaded.len(), 1);
    assert_eq!(reloaded[0]["changed"], "blueprint_file");
}

#[test]
fn enrolling_while_the_daemon_runs_takes_effect_at_the_next_scheduled_check_in_without_a_signal() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-enrolled", counting_blueprint(&device));
    let mut daemon = Daemon::start(&device, &["schedule.recurring_interval=2s", "schedule.daily_interval=1h"]);
    logged_once(&device, NO_BLUEPRINT);
    let enroll = crate::support::enroll(&device, &tenant.url(), "tok-enrolled");
    assert_eq!(code(&enroll), 0, "{}", text(&enroll.stderr));

    let runs = wait_for_runs(&device, PATIENCE, |runs| runs.first().is_some_and(finished));
    assert!(daemon.stop().success());
    assert_eq!((runs[0]["kind"].as_str(), runs[0]["trigger"].as_str()), (Some("daily"), Some("schedule")));
    assert_eq!(runs[0]["outcome"], "succeeded", "{runs:#?}");
    let checkins = tenant.seen_at("/api/v1/agent/checkin");
    assert!(!checkins.is_empty() && checkins[0].authorization.as_deref() == Some("Bearer tok-enrolled"));
    assert_eq!(tenant.accepted_run_ids()[0], runs[0]["id"].as_str().unwrap());
    let reloaded = logged_records(&device, RELOADED);
    assert_eq!(reloaded.len(), 1, "read once, when the change was first seen: {reloaded:?}");
    assert!(reloaded[0]["changed"].as_str().unwrap().contains("tenant.url"), "{}", reloaded[0]);
    assert!(logged_records(&device, SIGHUP_RELOADED).is_empty());
}
