//! `kill -9` in the middle of a run loses nothing already recorded, and the next
//! run stops the processes the interrupted item left running.

use std::time::Duration;

use serde_json::json;

use crate::support::{Device, PATIENCE, blueprint, code, item, read_pid, script, text};

/// Waits until the agent has recorded process group `group` in its store: the
/// item's program may write its pid a moment before the agent records it.
fn wait_until_recorded(device: &Device, group: i32) {
    let query = format!("SELECT COUNT(*) FROM running_process_groups WHERE process_group = {group}");
    device.wait_for_store(&query, &format!("process group {group}"));
}

#[test]
fn kill_9_mid_run_keeps_finished_items_and_the_run_shows_interrupted() {
    let device = Device::new();
    let hang = "#!/bin/sh\necho $$ > \"$AGENT_ROOT/hanging.pid\"\nexec sleep 1000\n";
    let items = vec![
        script("first", "1 first", "#!/bin/sh\nexit 0\n"),
        json!({ "id": "second", "name": "2 second", "type": "custom_script",
                "audit": "#!/bin/sh\ntest -f \"$AGENT_ROOT/fixed\"\n",
                "remediation": "#!/bin/sh\ntouch \"$AGENT_ROOT/fixed\"\n" }),
        script("third", "3 hangs", hang),
        script("fourth", "4 after", "#!/bin/sh\nexit 0\n"),
    ];
    let path = device.write_blueprint(&blueprint(items));
    let mut agent = device.spawn(&["run", "--blueprint", path.to_str().unwrap()]);
    let hanging = read_pid(&device.wait_for_file("hanging.pid", PATIENCE));
    wait_until_recorded(&device, hanging);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(agent.id() as i32), nix::sys::signal::SIGKILL).unwrap();
    agent.wait().unwrap();
    assert!(crate::support::is_alive(hanging), "the item's own process group outlives a kill -9 of the agent");

    let status = device.status();
    assert_eq!(status["running"], serde_json::Value::Null);
    assert_eq!(status["last_run"]["outcome"], "interrupted", "{status:#}");
    assert_eq!(item(&status, "1 first")["status"], "succeeded");
    let second = item(&status, "2 second");
    assert_eq!(second["status"], "succeeded");
    assert!(second["message"].as_str().unwrap().starts_with("remediated"), "{second}");
    let interrupted_id = status["last_run"]["id"].as_str().unwrap().to_string();
    let scripts = device.state_dir().join("scripts").join(&interrupted_id);
    assert!(scripts.is_dir(), "the interrupted run's scripts are still there");

    // The next run closes the dangling one for good and runs normally.
    let next =
        device.check_in(&path, &["--set", "timeouts.custom_script=1s", "--set", "timeouts.termination_grace=1s"]);
    assert_eq!(code(&next), 1, "{}", text(&next.stdout));
    let history = device.run(&["history", "--json", "--run", &interrupted_id]);
    let interrupted: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(interrupted["outcome"], "interrupted");
    let statuses: Vec<&str> =
        interrupted["items"].as_array().unwrap().iter().map(|item| item["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["succeeded", "succeeded", "failed", "not_run"], "every item of its plan: {interrupted:#}");
    assert!(interrupted["items"][2]["message"].as_str().unwrap().contains("interrupted"));
    assert!(!crate::support::is_alive(hanging), "the next run stopped what the interrupted item left running");
    assert!(!scripts.exists(), "and removed the interrupted run's scripts");
}

#[test]
fn after_kill_9_the_next_run_stops_the_items_process_group_even_when_it_ignores_sigterm() {
    let device = Device::new();
    let hang = "#!/bin/sh
trap '' TERM
sleep 1000 &
echo $! > \"$AGENT_ROOT/child.pid\"
\
                echo $$ > \"$AGENT_ROOT/leader.pid\"
exec sleep 1000
";
    let path = device.write_blueprint(&blueprint(vec![script("hang", "Hangs", hang)]));
    let mut agent = device.spawn(&["run", "--blueprint", path.to_str().unwrap()]);
    let leader = read_pid(&device.wait_for_file("leader.pid", PATIENCE));
    let child = read_pid(&device.root().join("child.pid"));
    wait_until_recorded(&device, leader);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(agent.id() as i32), nix::sys::signal::SIGKILL).unwrap();
    agent.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(crate::support::is_alive(leader) && crate::support::is_alive(child), "orphaned, still running");

    let quick =
        device.write_file("quick.json", &blueprint(vec![script("quick", "Quick", "#!/bin/sh\nexit 0\n")]).to_string());
    let next = device.check_in(&quick, &["--set", "timeouts.termination_grace=1s"]);
    assert_eq!(code(&next), 0, "{}", text(&next.stderr));
    assert!(!crate::support::is_alive(leader), "the leader is gone (a zombie counts: nobody here reaps it)");
    assert!(!crate::support::is_alive(child), "its background child in the group too");
    let history = device.run(&["history", "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(runs[1]["outcome"], "interrupted", "{runs:#}");
    let logs = device.run(&["logs", "--json"]);
    let stopped: Vec<serde_json::Value> = text(&logs.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|record| record["message"] == "Stopped the processes an interrupted item left running.")
        .collect();
    assert_eq!(stopped.len(), 1, "{}", text(&logs.stdout));
    assert_eq!(stopped[0]["process_group"], leader);
    assert_eq!(stopped[0]["signal"], "SIGKILL", "SIGTERM was ignored, so the grace ran out");
    assert_eq!(stopped[0]["run_id"], runs[1]["id"]);
}

#[test]
fn sigterm_stops_the_running_item_and_records_an_interrupted_run() {
    let device = Device::new();
    let hang = "#!/bin/sh\nsleep 1000 &\necho $! > \"$AGENT_ROOT/child.pid\"\nexec sleep 1000\n";
    let items = vec![script("hang", "1 hangs", hang), script("after", "2 after", "#!/bin/sh\nexit 0\n")];
    let path = device.write_blueprint(&blueprint(items));
    let agent = device.spawn(&["run", "--blueprint", path.to_str().unwrap(), "--set", "timeouts.termination_grace=1s"]);
    let child = read_pid(&device.wait_for_file("child.pid", PATIENCE));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(agent.id() as i32), nix::sys::signal::SIGTERM).unwrap();
    let output = agent.wait_with_output().unwrap();
    assert_eq!(code(&output), 1, "{}", text(&output.stderr));
    assert!(!crate::support::is_alive(child), "the item's processes are stopped");
    let status = device.status();
    assert_eq!(status["last_run"]["outcome"], "interrupted");
    assert_eq!(item(&status, "1 hangs")["status"], "failed");
    assert_eq!(item(&status, "2 after")["status"], "not_run");
}
