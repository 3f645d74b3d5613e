//! Every run reaches the tenant exactly once, a crashed or twice-stopped one included.

use std::time::Duration;

use chrono::{DateTime, Utc};
use nix::sys::signal::Signal;
use serde_json::Value;

use crate::daemon::harness::Daemon;
use crate::end_to_end::harness::{TOKEN, Tenant, enroll, run_id};
use crate::support::{Device, PATIENCE, blueprint, check_in, read_pid, script};

/// First an item that succeeds, then one that waits until `go` exists under the
/// root (ignoring SIGTERM, so only a hard stop ends it), then one never reached.
fn waiting_blueprint() -> Value {
    let wait = "#!/bin/sh\ntrap '' TERM\necho $$ > \"$AGENT_ROOT/waiting.pid\"\n\
                while [ ! -f \"$AGENT_ROOT/go\" ]; do sleep 0.1; done\n";
    blueprint(vec![
        script("li-first", "1 first", "#!/bin/sh\nexit 0\n"),
        script("li-wait", "2 waits", wait),
        script("li-after", "3 after", "#!/bin/sh\nexit 0\n"),
    ])
}

/// Waits until the agent has committed the start of the waiting item (its
/// program may run a moment before the commit).
fn wait_until_item_running(device: &Device) {
    let query = "SELECT COUNT(*) FROM item_results WHERE item_id = 'li-wait' AND status = 'running'";
    device.wait_for_store(query, "the waiting item's start");
}

fn statuses(run: &Value) -> Vec<&str> {
    run["items"].as_array().unwrap().iter().map(|item| item["status"].as_str().unwrap()).collect()
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().and_then(|text| text.parse().ok()).unwrap_or_else(|| panic!("a time: {value}"))
}

/// The run as `agent history --run ID --json` shows it.
fn history(device: &Device, run_id: &str) -> Value {
    let output = device.run(&["history", "--run", run_id, "--json"]);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", crate::support::text(&output.stdout)))
}

#[test]
fn a_run_killed_mid_item_reaches_the_tenant_once_as_interrupted_with_the_next_run() {
    let device = Device::new();
    let tenant = Tenant::start(waiting_blueprint());
    enroll(&device, &tenant.url(), TOKEN);
    let mut agent = device.spawn(&["run"]);
    device.wait_for_file("waiting.pid", PATIENCE);
    wait_until_item_running(&device);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(agent.id() as i32), Signal::SIGKILL).unwrap();
    agent.wait().unwrap();
    let interrupted_id = device.status()["last_run"]["id"].as_str().unwrap().to_string();
    device.write_file("go", "");

    let next = check_in(&device, &[]);
    assert_eq!(next["outcome"], "succeeded", "the next run goes on as usual: {next:#}");
    assert_eq!(tenant.result_run_ids(), [interrupted_id.clone(), run_id(&next)], "the interrupted run first, once");
    let reported = &tenant.reports("results")[0]["body"];
    assert_eq!(reported["run_id"], interrupted_id.as_str());
    assert_eq!(reported["run"]["outcome"], "interrupted", "{reported:#}");
    assert_eq!(statuses(&reported["run"]), ["succeeded", "failed", "not_run"], "{reported:#}");

    let third = check_in(&device, &[]);
    assert_eq!(
        tenant.result_run_ids(),
        [interrupted_id, run_id(&next), run_id(&third)],
        "a closed run is never reported again"
    );
}

#[test]
fn a_daemon_stopped_twice_mid_run_lists_every_item_with_true_times_and_the_next_start_reports_it() {
    let device = Device::new();
    let tenant = Tenant::start(waiting_blueprint());
    enroll(&device, &tenant.url(), TOKEN);
    let settings = ["schedule.daily_interval=1h", "timeouts.termination_grace=30s"];
    let mut daemon = Daemon::start(&device, &settings);
    let waiting = read_pid(&device.wait_for_file("waiting.pid", PATIENCE));
    daemon.signal(Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(500));
    daemon.signal(Signal::SIGTERM);
    let (status, _) = daemon.wait_exit(PATIENCE);
    assert!(status.success(), "{status:?}");
    assert!(!crate::support::is_alive(waiting));

    let interrupted_id = device.status()["last_run"]["id"].as_str().unwrap().to_string();
    let run = history(&device, &interrupted_id);
    assert_eq!(run["outcome"], "interrupted", "{run:#}");
    assert_eq!(statuses(&run), ["succeeded", "failed", "not_run"], "every item of the plan: {run:#}");
    let (cut, after) = (&run["items"][1], &run["items"][2]);
    let (cut_started, cut_finished) = (time(&cut["started_at"]), time(&cut["finished_at"]));
    assert!(cut["duration_ms"].as_u64().unwrap() >= 400, "it ran until the second SIGTERM: {cut:#}");
    let measured = (cut_finished - cut_started).num_milliseconds().abs_diff(cut["duration_ms"].as_i64().unwrap());
    assert!(measured <= 1, "its duration is its times' difference: {cut:#}");
    assert_eq!(after["duration_ms"], 0, "{after:#}");
    assert!(time(&after["started_at"]) >= cut_finished, "{run:#}");
    assert_eq!(time(&run["finished_at"]), cut_finished, "{run:#}");
    assert!(tenant.result_run_ids().is_empty(), "a daemon stopping at once sends nothing");

    device.write_file("go", "");
    let next = check_in(&device, &[]);
    assert_eq!(tenant.result_run_ids(), [interrupted_id, run_id(&next)]);
    assert_eq!(statuses(&tenant.reports("results")[0]["body"]["run"]), ["succeeded", "failed", "not_run"]);
}
