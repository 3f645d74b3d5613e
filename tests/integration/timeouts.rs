//! Per-item timeouts and the run's budget, with every process of an item stopped.

use std::time::{Duration, Instant};

use crate::support::{Device, PATIENCE, blueprint, code, is_alive, item, read_pid, script, text};

const SCALED: [&str; 4] = ["--set", "timeouts.custom_script=1s", "--set", "timeouts.termination_grace=1s"];

/// Runs one script item with a 1 s timeout and 1 s grace; returns how long the
/// item took and the pids it wrote.
fn run_past_timeout(device: &Device, audit: &str) -> (u64, Vec<i32>) {
    let path = device.write_blueprint(&blueprint(vec![script("slow", "Slow", audit)]));
    let output = device.check_in(&path, &SCALED);
    assert_eq!(code(&output), 1, "{}", text(&output.stdout));
    let status = device.status();
    let slow = item(&status, "Slow");
    assert_eq!(slow["status"], "timed_out", "{slow}");
    assert!(slow["message"].as_str().unwrap().contains("exceeded its 1s timeout"), "{slow}");
    let pids = std::fs::read_dir(device.root().join("pids"))
        .map(|entries| entries.map(|entry| read_pid(&entry.unwrap().path())).collect())
        .unwrap_or_default();
    (slow["duration_ms"].as_u64().unwrap(), pids)
}

fn assert_all_gone(pids: &[i32]) {
    assert!(!pids.is_empty(), "the script recorded its processes");
    let start = Instant::now();
    while pids.iter().any(|pid| is_alive(*pid)) && start.elapsed() < PATIENCE {
        std::thread::sleep(Duration::from_millis(20));
    }
    for pid in pids {
        assert!(!is_alive(*pid), "process {pid} outlived the item's timeout");
    }
}

#[test]
fn a_sleeping_script_and_its_grandchild_are_stopped_within_timeout_and_grace() {
    let device = Device::new();
    let audit = "#!/bin/sh\nmkdir -p \"$AGENT_ROOT/pids\"\nsleep 1000 &\necho $! > \"$AGENT_ROOT/pids/grandchild\"\necho $$ > \"$AGENT_ROOT/pids/script\"\nsleep 1000\n";
    let (duration_ms, pids) = run_past_timeout(&device, audit);
    assert!((1000..3500).contains(&duration_ms), "took {duration_ms} ms");
    assert_all_gone(&pids);
}

#[test]
fn a_script_ignoring_sigterm_is_killed_after_the_grace() {
    let device = Device::new();
    let audit = "#!/bin/sh\ntrap '' TERM\nmkdir -p \"$AGENT_ROOT/pids\"\necho $$ > \"$AGENT_ROOT/pids/script\"\nwhile :; do sleep 0.1; done\n";
    let (duration_ms, pids) = run_past_timeout(&device, audit);
    assert!((2000..3500).contains(&duration_ms), "took {duration_ms} ms: TERM ignored, so KILL after the grace");
    assert_all_gone(&pids);
}

#[test]
fn a_double_forked_process_in_the_same_group_is_stopped() {
    let device = Device::new();
    let audit = "#!/bin/sh\nmkdir -p \"$AGENT_ROOT/pids\"\n(sh -c 'trap \"\" TERM; echo $$ > \"$AGENT_ROOT/pids/orphan\"; exec sleep 1000' &)\nsleep 1000\n";
    let (_, pids) = run_past_timeout(&device, audit);
    assert_all_gone(&pids);
}

#[test]
fn the_run_budget_times_out_the_running_item_and_leaves_the_rest_not_run() {
    let device = Device::new();
    let items = vec![
        script("one", "1 quick", "#!/bin/sh\nsleep 0.5\n"),
        script("two", "2 slow", "#!/bin/sh\nsleep 30\n"),
        script("three", "3 never", "#!/bin/sh\ntouch \"$AGENT_ROOT/three-ran\"\n"),
    ];
    let path = device.write_blueprint(&blueprint(items));
    let start = Instant::now();
    let output = device.check_in(
        &path,
        &["--set", "timeouts.run=2s", "--set", "timeouts.custom_script=1h", "--set", "timeouts.termination_grace=1s"],
    );
    assert!(start.elapsed() < Duration::from_secs(10), "the budget bounds the run");
    assert_eq!(code(&output), 1, "{}", text(&output.stdout));
    let status = device.status();
    assert_eq!(status["last_run"]["outcome"], "timed_out");
    assert_eq!(item(&status, "1 quick")["status"], "succeeded");
    let slow = item(&status, "2 slow");
    assert_eq!(slow["status"], "timed_out");
    assert!(slow["message"].as_str().unwrap().contains("budget ran out"), "{slow}");
    assert_eq!(item(&status, "3 never")["status"], "not_run");
    assert!(!device.root().join("three-ran").exists());
}
