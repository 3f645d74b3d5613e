//! The launchd job that starts the daemon, and the daemon's logs followed live.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use super::harness::{Daemon, setting};
use crate::support::{Device, PATIENCE, blueprint, script};

#[test]
fn the_launchd_job_starts_the_daemon_and_waits_longer_than_its_shutdown_deadline() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("launchd/io.endpointagent.agent.plist");
    let job = plist::Value::from_file(&path).unwrap().into_dictionary().unwrap();
    assert_eq!(job["Label"].as_string(), Some("io.endpointagent.agent"));
    let arguments: Vec<&str> =
        job["ProgramArguments"].as_array().unwrap().iter().filter_map(|v| v.as_string()).collect();
    assert_eq!(arguments, ["/usr/local/bin/agent", "daemon"]);
    assert_eq!(job["RunAtLoad"].as_boolean(), Some(true));
    assert_eq!(job["KeepAlive"].as_boolean(), Some(true));
    assert!(["Standard", "Background"].contains(&job["ProcessType"].as_string().unwrap()));
    for absent in ["StandardOutPath", "StandardErrorPath"] {
        assert!(!job.contains_key(absent), "{absent}: the daemon writes its own log files");
    }
    let exit_timeout = Duration::from_secs(job["ExitTimeOut"].as_unsigned_integer().unwrap());

    let device = Device::new();
    let output = device.run(&["config", "--json"]);
    let config: Value = serde_json::from_slice(&output.stdout).unwrap();
    let deadline = humantime::parse_duration(config["daemon.shutdown_timeout"].as_str().unwrap()).unwrap();
    assert!(exit_timeout > deadline, "ExitTimeOut {exit_timeout:?} must exceed the shutdown deadline {deadline:?}");
}

#[test]
fn logs_follow_prints_the_daemons_lines_as_they_are_written() {
    let device = Device::new();
    let mut follower = device.spawn(&["logs", "--follow"]);
    let stdout = follower.stdout.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let path = device.write_blueprint(&blueprint(vec![script("quick", "Quick", "#!/bin/sh\nexit 0\n")]));
    let blueprint_file = setting("blueprint_file", &path);
    let _daemon =
        Daemon::start(&device, &["schedule.recurring_interval=1h", "schedule.daily_interval=1h", &blueprint_file]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while !seen.iter().any(|line: &String| line.contains("Check-in finished.")) {
        let left = deadline.saturating_duration_since(Instant::now());
        seen.push(received.recv_timeout(left).unwrap_or_else(|_| panic!("no finished check-in in {seen:#?}")));
    }
    assert!(seen.iter().any(|line| line.contains("Daemon started.")), "{seen:#?}");
    kill(Pid::from_raw(follower.id() as i32), Signal::SIGINT).unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = follower.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < PATIENCE, "--follow did not stop on Ctrl-C");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}
