//! `agent run` through the daemon's control socket: queued behind a running
//! check-in, `--no-wait`, `--reset-daily`, Ctrl-C, and peers that are not root.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use super::harness::{
    Daemon, assert_interrupted, assert_no_overlap, finished, hanging_blueprint, runs, setting, timed_blueprint,
    wait_for_logged, wait_for_runs,
};
use crate::support::{
    Device, NOBODY, PATIENCE, blueprint, code, is_alive, logged_records, read_pid, running_as_root, script, text,
};

#[test]
fn agent_run_while_the_daemon_is_busy_waits_then_runs_in_the_daemon() {
    let device = Device::new();
    let path = timed_blueprint(&device, "1");
    let blueprint_file = setting("blueprint_file", &path);
    let daemon =
        Daemon::start(&device, &["schedule.recurring_interval=1h", "schedule.daily_interval=1h", &blueprint_file]);
    device.wait_for_file("started", PATIENCE);

    let refused = device.run(&["run", "--no-wait"]);
    assert_eq!(code(&refused), 3, "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("another check-in is running (started at"), "{}", text(&refused.stderr));

    // No blueprint is configured for the CLI itself: only the daemon knows one.
    let output = device.run(&["run"]);
    assert_eq!(code(&output), 0, "{}{}", text(&output.stdout), text(&output.stderr));
    let printed = text(&output.stdout);
    assert!(printed.contains("Waiting for the check-in started at"), "{printed}");
    assert!(printed.contains(&format!("(pid {}) to finish", daemon.pid())), "{printed}");
    assert!(printed.contains("Check-in succeeded"), "{printed}");

    let parents = std::fs::read_to_string(device.root().join("parents")).unwrap();
    let daemon_pid = daemon.pid().to_string();
    let parents: Vec<&str> = parents.lines().collect();
    assert_eq!(parents, [daemon_pid.as_str(); 2], "both items ran under the daemon");
    let runs = runs(&device);
    let kinds: Vec<(&str, &str)> =
        runs.iter().map(|run| (run["kind"].as_str().unwrap(), run["trigger"].as_str().unwrap())).collect();
    assert_eq!(kinds, [("daily", "schedule"), ("recurring", "cli")]);
    assert_eq!(assert_no_overlap(&device), 2);
    let requests = wait_for_logged(&device, "Check-in requested over the control socket.", 2, PATIENCE);
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert!(requests.iter().all(|record| record["peer_uid"] == 0), "{requests:#?}");
}

#[test]
fn reset_daily_through_the_daemon_makes_the_run_daily() {
    let device = Device::new();
    let path = device.write_blueprint(&blueprint(vec![script("quick", "Quick", "#!/bin/sh\nexit 0\n")]));
    let blueprint_file = setting("blueprint_file", &path);
    let _daemon =
        Daemon::start(&device, &["schedule.recurring_interval=1h", "schedule.daily_interval=1h", &blueprint_file]);
    wait_for_runs(&device, PATIENCE, |runs| runs.first().is_some_and(finished));

    assert_eq!(code(&device.run(&["run"])), 0);
    let output = device.run(&["run", "--reset-daily", "--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let record: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((record["kind"].as_str(), record["trigger"].as_str()), (Some("daily"), Some("cli")));
    let kinds: Vec<String> = runs(&device).iter().map(|run| run["kind"].as_str().unwrap().to_string()).collect();
    assert_eq!(kinds, ["daily", "recurring", "daily"]);
}

#[test]
fn ctrl_c_on_agent_run_stops_its_check_in_in_the_daemon_which_carries_on() {
    let device = Device::new();
    let quick = device.write_blueprint(&blueprint(vec![script("quick", "Quick", "#!/bin/sh\nexit 0\n")]));
    let hanging = hanging_blueprint(&device, false);
    let blueprint_file = setting("blueprint_file", &quick);
    let daemon =
        Daemon::start(&device, &["schedule.recurring_interval=1h", "schedule.daily_interval=1h", &blueprint_file]);
    wait_for_runs(&device, PATIENCE, |runs| runs.first().is_some_and(finished));
    let cli =
        device.spawn(&["run", "--blueprint", hanging.to_str().unwrap(), "--set", "timeouts.termination_grace=1s"]);
    let child = read_pid(&device.wait_for_file("child.pid", PATIENCE));
    kill(Pid::from_raw(cli.id() as i32), Signal::SIGINT).unwrap();
    let output = cli.wait_with_output().unwrap();
    assert_eq!(code(&output), 1, "{}{}", text(&output.stdout), text(&output.stderr));
    let note = "note: the agent daemon runs this check-in with its own configuration; timeouts.termination_grace set here do not apply";
    assert!(text(&output.stderr).contains(note), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("Check-in interrupted"), "{}", text(&output.stdout));
    let start = Instant::now();
    while is_alive(child) {
        assert!(start.elapsed() < PATIENCE, "the item's child outlived the interruption");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_interrupted(&device, &["failed", "not_run"]);
    assert_eq!(daemon.status()["reply"], "status", "the daemon carries on");
}

#[test]
fn a_peer_that_is_not_root_is_refused_and_the_refusal_is_logged() {
    if !running_as_root("dropping to nobody") {
        return;
    }
    let device = Device::new();
    let daemon = Daemon::start(&device, &["schedule.recurring_interval=1h", "schedule.daily_interval=1h"]);
    let output = device.run_as_nobody(&["run"]);
    assert_eq!(code(&output), 1, "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("only an administrator may ask the agent to run a check-in"), "{stderr}");
    let refusal = "Refused a control request: only root may make it.";
    let refusals = wait_for_logged(&device, refusal, 1, PATIENCE);
    assert_eq!(refusals.len(), 1, "{refusals:#?}");
    assert_eq!(refusals[0]["peer_uid"], NOBODY);
    assert_eq!((refusals[0]["user"].as_str(), refusals[0]["request"].as_str()), (Some("nobody"), Some("run")));
    assert!(logged_records(&device, "Check-in requested over the control socket.").is_empty());
    assert!(daemon.try_status().is_some(), "the daemon still serves root");
}

#[test]
fn a_bad_blueprint_sent_to_the_daemon_is_bad_input_named_by_file_and_key() {
    let device = Device::new();
    let _daemon = Daemon::start(&device, &["schedule.recurring_interval=1h", "schedule.daily_interval=1h"]);
    device.write_file(
        "bad.json",
        r#"{"id": "bp", "name": "Bad", "library_items": [{"id": "1", "name": "x", "type": "nope"}]}"#,
    );
    // A relative path is the caller's, not the daemon's.
    let output = device.agent().args(["run", "--blueprint", "bad.json"]).current_dir(device.root()).output().unwrap();
    assert_eq!(code(&output), 2, "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!("{}: key \"library_items[0].type\"", device.root().join("bad.json").display())),
        "{stderr}"
    );
    let requests = wait_for_logged(&device, "Check-in requested over the control socket.", 1, PATIENCE);
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert!(runs(&device).is_empty(), "nothing ran");
}

#[test]
fn a_person_without_admin_rights_holds_at_most_eight_connections_and_a_ninth_is_refused() {
    if !running_as_root("dropping to nobody") {
        return;
    }
    let device = Device::new();
    let _daemon = Daemon::start(&device, &["schedule.recurring_interval=1h", "schedule.daily_interval=1h"]);
    crate::support::open_to_nobody(&device);
    let socket = endpoint_agent::paths::AgentPaths::under(device.root()).socket;
    // Connections that send nothing are held (the daemon waits 10 s for a request);
    // a refused one is answered at once and closed.
    let client = r#"
        use IO::Socket::UNIX; use IO::Select;
        my @held;
        for my $i (1..40) {
            my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!";
            if (IO::Select->new($s)->can_read(0.3)) { my $line = <$s>; print "after $i: $line"; exit 0 }
            push @held, $s;
        }
        die "never refused";
    "#;
    let mut command = std::process::Command::new("perl");
    command.args(["-e", client]).arg(&socket).current_dir("/");
    let output = crate::support::as_nobody(&mut command).output().expect("perl runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let (held, reply) = stdout.trim().split_once(": ").expect("a reply");
    let held: usize = held.trim_start_matches("after ").parse::<usize>().unwrap() - 1;
    assert!(held >= 8, "{held} connections held before the refusal");
    let reply: Value = serde_json::from_str(reply).unwrap();
    assert_eq!(reply["reply"], "failed", "{reply}");
    assert!(reply["message"].as_str().unwrap().starts_with("too many requests from this user at once (at most 8)"));
    let refusals = wait_for_logged(
        &device,
        "Refused a control connection: this user already holds the most open at once.",
        1,
        PATIENCE,
    );
    assert_eq!((refusals.len(), &refusals[0]["peer_uid"]), (1, &Value::from(NOBODY)), "{refusals:#?}");
    // Once the person's connections closed, a request is answered again (here: no
    // blueprint yet, so nothing is offered).
    let replies = device.request_as_nobody(&serde_json::json!({"request": "self_service_list"}));
    let message = replies.last().and_then(|reply| reply["message"].as_str()).unwrap_or_default();
    assert!(message.contains("nothing is offered on this Mac yet"), "{replies:#?}");
}
