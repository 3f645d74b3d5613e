//! `kill -9` in the middle of a run loses nothing already recorded.

use std::time::Duration;

use serde_json::json;

use crate::support::{Device, blueprint, code, item, read_pid, script, text};

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
    let hanging = read_pid(&device.wait_for_file("hanging.pid", Duration::from_secs(10)));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(agent.id() as i32), nix::sys::signal::SIGKILL).unwrap();
    agent.wait().unwrap();
    // The item's own process group outlives a kill -9 of the agent; clean it up.
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(hanging), nix::sys::signal::SIGKILL);

    let status = device.status();
    assert_eq!(status["running"], serde_json::Value::Null);
    assert_eq!(status["last_run"]["outcome"], "interrupted", "{status:#}");
    assert_eq!(item(&status, "1 first")["status"], "succeeded");
    let second = item(&status, "2 second");
    assert_eq!(second["status"], "succeeded");
    assert!(second["message"].as_str().unwrap().starts_with("remediated"), "{second}");
    let interrupted_id = status["last_run"]["id"].as_str().unwrap().to_string();

    // The next run closes the dangling one for good and runs normally.
    let next =
        device.check_in(&path, &["--set", "timeouts.custom_script=1s", "--set", "timeouts.termination_grace=1s"]);
    assert_eq!(code(&next), 1, "{}", text(&next.stdout));
    let history = device.run(&["history", "--json", "--run", &interrupted_id]);
    let interrupted: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(interrupted["outcome"], "interrupted");
    let statuses: Vec<&str> =
        interrupted["items"].as_array().unwrap().iter().map(|item| item["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["succeeded", "succeeded", "failed"], "{interrupted:#}");
    assert!(interrupted["items"][2]["message"].as_str().unwrap().contains("interrupted"));
}

#[test]
fn sigterm_stops_the_running_item_and_records_an_interrupted_run() {
    let device = Device::new();
    let hang = "#!/bin/sh\nsleep 1000 &\necho $! > \"$AGENT_ROOT/child.pid\"\nexec sleep 1000\n";
    let items = vec![script("hang", "1 hangs", hang), script("after", "2 after", "#!/bin/sh\nexit 0\n")];
    let path = device.write_blueprint(&blueprint(items));
    let agent = device.spawn(&["run", "--blueprint", path.to_str().unwrap(), "--set", "timeouts.termination_grace=1s"]);
    let child = read_pid(&device.wait_for_file("child.pid", Duration::from_secs(10)));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(agent.id() as i32), nix::sys::signal::SIGTERM).unwrap();
    let output = agent.wait_with_output().unwrap();
    assert_eq!(code(&output), 1, "{}", text(&output.stderr));
    assert!(!crate::support::is_alive(child), "the item's processes are stopped");
    let status = device.status();
    assert_eq!(status["last_run"]["outcome"], "interrupted");
    assert_eq!(item(&status, "1 hangs")["status"], "failed");
    assert_eq!(item(&status, "2 after")["status"], "not_run");
}
