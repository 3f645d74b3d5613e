//! The daemon reads its configuration again before a check-in when a source
//! changed: `agent enroll` while it runs, or a new interval, apply without SIGHUP.

use std::time::{Duration, Instant};

use serde_json::json;

use super::harness::{Daemon, finished, runs, setting, time, wait_for_runs};
use crate::support::{Device, PATIENCE, blueprint, code, logged_records, script, text};
use crate::tenant::counting_blueprint;
use crate::tenant::server::TestTenant;

const RELOADED: &str = "A configuration file changed; configuration reloaded for this check-in.";

#[test]
fn enrolling_while_the_daemon_runs_takes_effect_at_the_next_scheduled_check_in_without_a_signal() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-enrolled", counting_blueprint(&device));
    let mut daemon = Daemon::start(&device, &["schedule.recurring_interval=2s", "schedule.daily_interval=1h"]);
    let no_blueprint = "No blueprint for the scheduled check-in (set blueprint_file or enroll with a tenant); waiting for the next slot.";
    let start = Instant::now();
    while logged_records(&device, no_blueprint).is_empty() {
        assert!(start.elapsed() < PATIENCE, "the daemon never tried its first check-in");
        std::thread::sleep(Duration::from_millis(50));
    }
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
    assert!(logged_records(&device, "SIGHUP: configuration reloaded; it applies from the next check-in.").is_empty());
}

#[test]
fn a_longer_interval_written_while_the_daemon_runs_moves_the_schedule_before_the_next_check_in() {
    let device = Device::new();
    let path = device.write_blueprint(&blueprint(vec![script("quick", "Quick", "#!/bin/sh\nexit 0\n")]));
    let fragment = "Library/Application Support/EndpointAgent/config.d/30-schedule.json";
    device.write_file(
        fragment,
        &json!({ "schedule": { "recurring_interval": "2s", "daily_interval": "1h" } }).to_string(),
    );
    let mut daemon = Daemon::start(&device, &[&setting("blueprint_file", &path)]);
    wait_for_runs(&device, PATIENCE, |runs| runs.len() >= 2 && runs.iter().all(finished));
    device.write_file(
        fragment,
        &json!({ "schedule": { "recurring_interval": "1h", "daily_interval": "1h" } }).to_string(),
    );
    let start = Instant::now();
    while logged_records(&device, RELOADED).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(10), "the change was not seen at the next slots");
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = runs(&device).len();
    std::thread::sleep(Duration::from_secs(3));
    let next = daemon.status()["next_checkin"].clone();
    assert!(daemon.stop().success());
    assert_eq!(runs(&device).len(), before, "no check-in at the old 2s slots");
    let last_start = time(&runs(&device).last().unwrap()["started_at"]);
    assert!(time(&next["at"]) >= last_start + chrono::Duration::minutes(30), "re-planned by the new interval: {next}");
    assert_eq!(logged_records(&device, RELOADED)[0]["changed"], "schedule.recurring_interval");
}
