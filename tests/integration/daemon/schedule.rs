//! The daemon's own schedule with intervals of seconds: recurring and daily
//! check-ins, restarts, a missing blueprint, a reloaded configuration.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::{Value, json};

use super::harness::{
    Daemon, assert_no_overlap, finished, runs, setting, time, timed_blueprint, wait_for_logged, wait_for_runs,
};
use crate::support::{Device, PATIENCE, blueprint, logged_records, script};

#[test]
fn scheduled_check_ins_recur_and_the_daily_one_comes_back_without_overlap() {
    let device = Device::new();
    let path = timed_blueprint(&device, "0.2");
    let blueprint_file = setting("blueprint_file", &path);
    let settings = ["schedule.recurring_interval=1s", "schedule.daily_interval=3s", &blueprint_file];
    let mut daemon = Daemon::start(&device, &settings);
    let is_daily = |run: &Value| run["kind"] == "daily" && finished(run);
    let runs = wait_for_runs(&device, PATIENCE, |runs| {
        runs.iter().filter(|run| is_daily(run)).count() >= 2 && runs.iter().filter(|run| finished(run)).count() >= 4
    });
    assert!(daemon.stop().success());

    assert!(runs.iter().all(|run| run["trigger"] == "schedule"), "{runs:#?}");
    assert_eq!(runs[0]["kind"], "daily", "a device that never completed a daily check-in starts with one");
    let dailies: Vec<&Value> = runs.iter().filter(|run| is_daily(run)).collect();
    let between_dailies = time(&dailies[1]["started_at"]) - time(&dailies[0]["started_at"]);
    // The daily check-in takes the recurring slot nearest to a day after the last:
    // up to half a recurring interval early.
    assert!(between_dailies >= chrono::Duration::milliseconds(2500), "dailies {between_dailies} apart: {runs:#?}");
    let recurring = runs.iter().filter(|run| run["kind"] == "recurring").count();
    assert!(recurring >= 2, "recurring check-ins ran between the daily ones: {runs:#?}");
    // A recurring check-in comes at least half an interval after the one before.
    for pair in runs.windows(2).filter(|pair| pair[1]["kind"] == "recurring") {
        let gap = time(&pair[1]["started_at"]) - time(&pair[0]["started_at"]);
        assert!(gap >= chrono::Duration::milliseconds(500), "check-ins {gap} apart: {runs:#?}");
    }
    assert!(assert_no_overlap(&device) >= 4);
}

#[test]
fn a_restarted_daemon_keeps_its_schedule() {
    let device = Device::new();
    let path = device.write_blueprint(&blueprint(vec![script("quick", "Quick", "#!/bin/sh\nexit 0\n")]));
    let blueprint_file = setting("blueprint_file", &path);
    let settings = ["schedule.recurring_interval=2s", "schedule.daily_interval=1h", &blueprint_file];
    let mut daemon = Daemon::start(&device, &settings);
    let first = wait_for_runs(&device, PATIENCE, |runs| runs.first().is_some_and(finished));
    assert!(daemon.stop().success());
    let before = runs(&device);
    let last_start = time(&before.last().unwrap()["started_at"]);
    assert_eq!(first[0]["kind"], "daily");

    let daemon = Daemon::start(&device, &settings);
    let next = daemon.status()["next_checkin"].clone();
    assert_eq!(next["kind"], "recurring", "no second daily after a restart: {next}");
    assert!(time(&next["at"]) >= last_start + chrono::Duration::seconds(1), "{next} after {last_start}");
    let after = wait_for_runs(&device, PATIENCE, |runs| runs.len() > before.len());
    let resumed = &after[before.len()];
    assert_eq!((resumed["kind"].as_str(), resumed["trigger"].as_str()), (Some("recurring"), Some("schedule")));
    assert!(time(&resumed["started_at"]) >= time(&next["at"]), "{resumed} before {next}");
    assert_eq!(after.iter().filter(|run| run["kind"] == "daily").count(), 1, "{after:#?}");
}

#[test]
fn without_a_blueprint_the_daemon_warns_and_waits_for_the_next_slot() {
    let device = Device::new();
    let mut daemon = Daemon::start(&device, &["schedule.recurring_interval=1s", "schedule.daily_interval=1h"]);
    std::thread::sleep(Duration::from_millis(2500));
    assert!(daemon.try_status().is_some(), "still serving");
    assert!(daemon.stop().success());
    let warnings = logged_records(
        &device,
        "No blueprint for the scheduled check-in (set blueprint_file or enroll with a tenant); waiting for the next slot.",
    );
    assert!((1..=4).contains(&warnings.len()), "one attempt a slot, not a loop: {} warnings", warnings.len());
    assert!(runs(&device).is_empty());
}

#[test]
fn sighup_reloads_the_configuration_and_keeps_it_when_the_new_one_is_broken() {
    let device = Device::new();
    let daemon = Daemon::start(&device, &["schedule.recurring_interval=1h", "schedule.daily_interval=1h"]);
    let dropin = "Library/Application Support/EndpointAgent/config.d/20-test.json";
    device.write_file(dropin, r#"{"schedule": {"recurring_interval": "soon"}}"#);
    daemon.signal(Signal::SIGHUP);
    let broken = "SIGHUP: the new configuration is broken; keeping the one in use.";
    let start = Instant::now();
    while logged_records(&device, broken).is_empty() {
        assert!(start.elapsed() < PATIENCE, "the broken configuration was not reported");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(logged_records(&device, broken)[0]["error"].as_str().unwrap().contains("schedule.recurring_interval"));

    // A fixed configuration applies at once: the owed daily check-in now has a blueprint.
    let path = device.write_blueprint(&blueprint(vec![script("quick", "Quick", "#!/bin/sh\nexit 0\n")]));
    device.write_file(dropin, &json!({ "blueprint_file": path }).to_string());
    daemon.signal(Signal::SIGHUP);
    let runs = wait_for_runs(&device, PATIENCE, |runs| runs.first().is_some_and(finished));
    assert_eq!((runs[0]["kind"].as_str(), runs[0]["outcome"].as_str()), (Some("daily"), Some("succeeded")));
    let reloaded = wait_for_logged(
        &device,
        "SIGHUP: configuration reloaded; it applies from the next check-in.",
        1,
        Duration::from_secs(10),
    );
    assert_eq!(reloaded.len(), 1);
    assert_eq!(reloaded[0]["changed"], "blueprint_file");
}
