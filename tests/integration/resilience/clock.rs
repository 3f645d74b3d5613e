//! A clock that steps back runs one check-in at once, as the README says.
//!
//! The agent reads the system clock, which a test must not step on a shared
//! machine; what a step back leaves behind is a store whose runs all lie in the
//! future, so the test dates them 27 hours ahead. Noticing a step while the daemon
//! already waits (within a minute, by comparing the wall clock with the monotonic
//! one) is shown under paused time in `agent/schedule/tests/paused.rs`.

use std::time::Duration;

use serde_json::Value;

use crate::daemon::harness::{Daemon, finished, runs, setting, time, wait_for_runs};
use crate::support::{Device, PATIENCE, blueprint, poll, script};

/// How far the clock went back.
const STEP_BACK: chrono::Duration = chrono::Duration::hours(27);

/// Dates every recorded run `by` later, in the store's own time format.
fn shift_runs(device: &Device, by: chrono::Duration) {
    let connection = rusqlite::Connection::open(device.state_dir().join("agent.sqlite3")).unwrap();
    let shifted = |text: String| {
        let time = chrono::DateTime::parse_from_rfc3339(&text).unwrap().with_timezone(&chrono::Utc) + by;
        time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let mut select = connection.prepare("SELECT id, started_at, finished_at FROM runs").unwrap();
    let rows: Vec<(String, String, Option<String>)> =
        select.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?))).unwrap().map(Result::unwrap).collect();
    for (id, started_at, finished_at) in rows {
        let update = "UPDATE runs SET started_at = ?2, finished_at = ?3 WHERE id = ?1";
        connection.execute(update, (id, shifted(started_at), finished_at.map(shifted))).unwrap();
    }
}

#[test]
fn a_27_hour_step_back_runs_one_check_in_at_once_then_waits_for_the_grid() {
    let device = Device::new();
    let path = device.write_blueprint(&blueprint(vec![script("quick", "Quick", "#!/bin/sh\nexit 0\n")]));
    for _ in 0..2 {
        device.check_in_ok(&path, &[]);
    }
    shift_runs(&device, STEP_BACK);
    let status = device.status();
    assert!(status["next_daily_at"].is_null(), "due now, its last one dated in the future: {status:#}");

    let blueprint_file = setting("blueprint_file", &path);
    let settings = ["schedule.recurring_interval=1h", "schedule.daily_interval=24h", &blueprint_file];
    let mut daemon = Daemon::start(&device, &settings);
    // The history lists runs by start time: the one run after the step comes first.
    let by_schedule = |run: &&Value| run["trigger"] == "schedule";
    let ran = wait_for_runs(&device, PATIENCE, |runs| runs.iter().filter(by_schedule).any(finished));
    // Once the daemon plans a check-in for later, a storm would already show.
    let planned = |next: &Value| next["at"].is_string() && time(&next["at"]) > chrono::Utc::now();
    let every = Duration::from_millis(50);
    let next = poll("the next check-in planned", PATIENCE, every, || daemon.status()["next_checkin"].clone(), planned);
    assert!(daemon.stop().success());

    let stepped = ran.iter().find(by_schedule).unwrap();
    assert_eq!(stepped["kind"], "daily", "its last one dated in the future, the daily one: {stepped:#}");
    assert_eq!(runs(&device).len(), 3, "one check-in, not a storm");
    // The grid continues from it: the next slot at least half an interval on.
    let half_interval = chrono::Duration::minutes(30);
    assert!(time(&next["at"]) >= time(&stepped["started_at"]) + half_interval, "{next} after {stepped:#}");
}
