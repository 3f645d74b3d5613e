//! `agent daemon` with intervals scaled down to seconds: its schedule, its control
//! socket (who may use it, what `agent run` gets through it), its signals, its
//! restarts, and the launchd job that starts it.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

use crate::support::{Device, blueprint, code, is_alive, read_pid, script, text};

/// How long a daemon may take to answer on its socket after being started.
const START_LIMIT: Duration = Duration::from_secs(10);

/// A running `agent daemon` on a scratch device; killed if a test fails midway.
struct Daemon {
    child: Child,
    socket: PathBuf,
}

impl Daemon {
    /// Starts `agent daemon --set …` for each setting and waits until it answers.
    fn start(device: &Device, settings: &[&str]) -> Self {
        let mut command = device.agent();
        command.arg("daemon");
        for setting in settings {
            command.args(["--set", setting]);
        }
        let stderr = File::options().create(true).append(true).open(device.root().join("daemon.stderr")).unwrap();
        let child = command.stdout(Stdio::null()).stderr(stderr).spawn().expect("daemon starts");
        let socket = device.root().join("var/run/io.endpointagent.agent.sock");
        let daemon = Self { child, socket };
        let start = Instant::now();
        while daemon.try_status().is_none() {
            assert!(start.elapsed() < START_LIMIT, "the daemon never answered on {}", daemon.socket.display());
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends one request line and reads every reply line until the daemon closes.
    fn request(&self, request: &Value) -> Vec<Value> {
        let mut stream = UnixStream::connect(&self.socket).expect("socket answers");
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        writeln!(stream, "{request}").unwrap();
        BufReader::new(stream).lines().map(|line| serde_json::from_str(&line.unwrap()).unwrap()).collect()
    }

    fn try_status(&self) -> Option<Value> {
        let mut stream = UnixStream::connect(&self.socket).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        writeln!(stream, "{}", json!({ "request": "status" })).ok()?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).ok()?;
        serde_json::from_str(&line).ok()
    }

    /// The daemon's `status` reply.
    fn status(&self) -> Value {
        let replies = self.request(&json!({ "request": "status" }));
        assert_eq!(replies.len(), 1, "{replies:?}");
        replies[0].clone()
    }

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid() as i32), signal).unwrap();
    }

    /// Waits (at most `limit`) for the daemon to exit; its status and how long it took.
    fn wait_exit(&mut self, limit: Duration) -> (ExitStatus, Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, start.elapsed());
            }
            assert!(start.elapsed() < limit, "the daemon did not exit within {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, and the exit that must follow within a few seconds.
    fn stop(&mut self) -> ExitStatus {
        self.signal(Signal::SIGTERM);
        self.wait_exit(Duration::from_secs(5)).0
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The device's runs, oldest first, from `agent history --json`.
fn runs(device: &Device) -> Vec<Value> {
    let output = device.run(&["history", "--json", "--limit", "100"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let mut runs: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    runs.reverse();
    runs
}

/// Polls the history until `done` says so (at most `limit`).
fn wait_for_runs(device: &Device, limit: Duration, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let runs = runs(device);
        if done(&runs) {
            return runs;
        }
        assert!(start.elapsed() < limit, "the runs never got there: {runs:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn finished(run: &Value) -> bool {
    !run["outcome"].is_null()
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("a time")).unwrap().with_timezone(&Utc)
}

/// The log records with this message, read straight from the log files (every
/// verb, `agent logs` too, refuses to start on a broken configuration).
fn logged(device: &Device, message: &str) -> Vec<Value> {
    let folder = device.root().join("Library/Logs/EndpointAgent");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .map(|entries| entries.map(|entry| entry.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .flat_map(|file| std::fs::read_to_string(file).unwrap().lines().map(str::to_string).collect::<Vec<_>>())
        .filter_map(|line| serde_json::from_str::<Value>(&line).ok())
        .filter(|record| record["message"] == message)
        .collect()
}

/// A blueprint whose one item appends `start end` (ns) and its parent's pid, and
/// sleeps `seconds`.
fn timed_blueprint(device: &Device, seconds: &str) -> PathBuf {
    let audit = format!(
        "#!/bin/sh\nstart=$(date +%s%N)\necho $PPID >> \"$AGENT_ROOT/parents\"\ntouch \"$AGENT_ROOT/started\"\n\
         sleep {seconds}\necho \"$start $(date +%s%N)\" >> \"$AGENT_ROOT/intervals\"\n"
    );
    device.write_blueprint(&blueprint(vec![script("timed", "Timed", &audit)]))
}

/// The `start end` pairs the timed item wrote, in start order, checked not to overlap.
fn assert_no_overlap(device: &Device) -> usize {
    let mut intervals: Vec<(u128, u128)> = std::fs::read_to_string(device.root().join("intervals"))
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let (start, end) = line.split_once(' ').unwrap();
            (start.parse().unwrap(), end.parse().unwrap())
        })
        .collect();
    intervals.sort();
    for pair in intervals.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "two check-ins overlapped: {intervals:?}");
    }
    intervals.len()
}

fn setting(key: &str, path: &Path) -> String {
    format!("{key}={}", path.display())
}

#[test]
fn scheduled_check_ins_recur_and_the_daily_one_comes_back_without_overlap() {
    let device = Device::new();
    let path = timed_blueprint(&device, "0.2");
    let blueprint_file = setting("blueprint_file", &path);
    let settings = ["schedule.recurring_interval=1s", "schedule.daily_interval=3s", &blueprint_file];
    let mut daemon = Daemon::start(&device, &settings);
    let is_daily = |run: &Value| run["kind"] == "daily" && finished(run);
    let runs = wait_for_runs(&device, Duration::from_secs(8), |runs| {
        runs.iter().filter(|run| is_daily(run)).count() >= 2 && runs.iter().filter(|run| finished(run)).count() >= 4
    });
    assert!(daemon.stop().success());

    assert!(runs.iter().all(|run| run["trigger"] == "schedule"), "{runs:#?}");
    assert_eq!(runs[0]["kind"], "daily", "a device that never completed a daily check-in starts with one");
    let dailies: Vec<&Value> = runs.iter().filter(|run| is_daily(run)).collect();
    let between_dailies = time(&dailies[1]["started_at"]) - time(&dailies[0]["started_at"]);
    assert!(between_dailies >= chrono::Duration::seconds(3), "dailies {between_dailies} apart: {runs:#?}");
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
fn agent_run_while_the_daemon_is_busy_waits_then_runs_in_the_daemon() {
    let device = Device::new();
    let path = timed_blueprint(&device, "1");
    let blueprint_file = setting("blueprint_file", &path);
    let daemon =
        Daemon::start(&device, &["schedule.recurring_interval=1h", "schedule.daily_interval=1h", &blueprint_file]);
    device.wait_for_file("started", Duration::from_secs(10));

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
    let requests = logged(&device, "Check-in requested over the control socket.");
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
    wait_for_runs(&device, Duration::from_secs(10), |runs| runs.first().is_some_and(finished));

    assert_eq!(code(&device.run(&["run"])), 0);
    let output = device.run(&["run", "--reset-daily", "--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let record: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((record["kind"].as_str(), record["trigger"].as_str()), (Some("daily"), Some("cli")));
    let kinds: Vec<String> = runs(&device).iter().map(|run| run["kind"].as_str().unwrap().to_string()).collect();
    assert_eq!(kinds, ["daily", "recurring", "daily"]);
}

#[test]
fn a_peer_that_is_not_root_is_refused_and_the_refusal_is_logged() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: dropping to nobody needs root");
        return;
    }
    let device = Device::new();
    let daemon = Daemon::start(&device, &["schedule.recurring_interval=1h", "schedule.daily_interval=1h"]);
    // For this test only: let `nobody` reach the socket, so the daemon's own
    // credential check is what turns it away.
    for folder in ["", "Library", "Library/Application Support", "Library/Application Support/EndpointAgent"] {
        std::fs::set_permissions(device.root().join(folder), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&daemon.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let mut command = device.agent();
    command.arg("run").current_dir("/");
    // SAFETY: only async-signal-safe system calls run between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let nobody = nix::unistd::Uid::from_raw(65534);
            nix::unistd::setgroups(&[]).map_err(std::io::Error::from)?;
            nix::unistd::setgid(nix::unistd::Gid::from_raw(65534)).map_err(std::io::Error::from)?;
            nix::unistd::setuid(nobody).map_err(std::io::Error::from)
        });
    }
    let output = command.output().unwrap();
    assert_eq!(code(&output), 1, "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("only takes requests from root"), "{}", text(&output.stderr));
    let refusals = logged(&device, "Refused a control connection: only root may use the control socket.");
    assert_eq!(refusals.len(), 1, "{refusals:#?}");
    assert_eq!(refusals[0]["peer_uid"], 65534);
    assert!(logged(&device, "Check-in requested over the control socket.").is_empty());
    assert!(daemon.try_status().is_some(), "the daemon still serves root");
}

/// An item that starts a background child (its pid written) and hangs; with
/// `ignore_term` both ignore SIGTERM and only SIGKILL stops them.
fn hanging_blueprint(device: &Device, ignore_term: bool) -> PathBuf {
    let trap = if ignore_term { "trap '' TERM\n" } else { "" };
    let hang = format!("#!/bin/sh\n{trap}sleep 1000 &\necho $! > \"$AGENT_ROOT/child.pid\"\nexec sleep 1000\n");
    let items = vec![script("hang", "1 hangs", &hang), script("after", "2 after", "#!/bin/sh\nexit 0\n")];
    device.write_file("hanging.json", &blueprint(items).to_string())
}

/// The last run is interrupted, its items ended as `statuses` say.
fn assert_interrupted(device: &Device, statuses: &[&str]) {
    let status = device.status();
    assert_eq!(status["last_run"]["outcome"], "interrupted", "{status:#}");
    let recorded: Vec<&str> =
        status["last_run"]["items"].as_array().unwrap().iter().map(|item| item["status"].as_str().unwrap()).collect();
    assert_eq!(recorded, statuses, "{status:#}");
    assert_eq!(status["running"], Value::Null);
}

#[test]
fn sigterm_during_a_long_item_stops_its_processes_and_records_an_interrupted_run() {
    let device = Device::new();
    let blueprint_file = setting("blueprint_file", &hanging_blueprint(&device, false));
    let settings = ["schedule.daily_interval=1h", "timeouts.termination_grace=1s", &blueprint_file];
    let mut daemon = Daemon::start(&device, &settings);
    let child = read_pid(&device.wait_for_file("child.pid", Duration::from_secs(10)));
    daemon.signal(Signal::SIGTERM);
    let (status, took) = daemon.wait_exit(Duration::from_secs(5));
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(3), "stopped in {took:?}");
    assert!(!is_alive(child), "the item's background child is gone");
    assert!(!daemon.socket.exists(), "the socket is removed");
    assert_interrupted(&device, &["failed", "not_run"]);
    assert_eq!(logged(&device, "Daemon stopped.").len(), 1);
}

#[test]
fn a_second_sigterm_stops_at_once_even_when_the_item_ignores_sigterm() {
    let device = Device::new();
    let blueprint_file = setting("blueprint_file", &hanging_blueprint(&device, true));
    let settings = ["schedule.daily_interval=1h", "timeouts.termination_grace=30s", &blueprint_file];
    let mut daemon = Daemon::start(&device, &settings);
    let child = read_pid(&device.wait_for_file("child.pid", Duration::from_secs(10)));
    daemon.signal(Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(500));
    assert!(daemon.child.try_wait().unwrap().is_none(), "the first SIGTERM waits for the item's grace");
    daemon.signal(Signal::SIGTERM);
    let (status, took) = daemon.wait_exit(Duration::from_secs(5));
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(3), "stopped in {took:?}");
    assert!(!is_alive(child), "SIGKILL reached the item's background child");
    // Cut short, the run records what it got to; the item it was in is failed.
    assert_interrupted(&device, &["failed"]);
}

#[test]
fn the_shutdown_timeout_bounds_a_stop_whatever_the_item_does() {
    let device = Device::new();
    let blueprint_file = setting("blueprint_file", &hanging_blueprint(&device, true));
    let settings =
        ["schedule.daily_interval=1h", "timeouts.termination_grace=30s", "daemon.shutdown_timeout=1s", &blueprint_file];
    let mut daemon = Daemon::start(&device, &settings);
    let child = read_pid(&device.wait_for_file("child.pid", Duration::from_secs(10)));
    daemon.signal(Signal::SIGTERM);
    let (status, took) = daemon.wait_exit(Duration::from_secs(5));
    assert!(status.success(), "{status:?}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(4), "stopped in {took:?}");
    assert!(!is_alive(child));
    assert_interrupted(&device, &["failed"]);
}

#[test]
fn ctrl_c_on_agent_run_stops_its_check_in_in_the_daemon_which_carries_on() {
    let device = Device::new();
    let quick = device.write_blueprint(&blueprint(vec![script("quick", "Quick", "#!/bin/sh\nexit 0\n")]));
    let hanging = hanging_blueprint(&device, false);
    let blueprint_file = setting("blueprint_file", &quick);
    let daemon =
        Daemon::start(&device, &["schedule.recurring_interval=1h", "schedule.daily_interval=1h", &blueprint_file]);
    wait_for_runs(&device, Duration::from_secs(10), |runs| runs.first().is_some_and(finished));
    let cli =
        device.spawn(&["run", "--blueprint", hanging.to_str().unwrap(), "--set", "timeouts.termination_grace=1s"]);
    let child = read_pid(&device.wait_for_file("child.pid", Duration::from_secs(10)));
    kill(Pid::from_raw(cli.id() as i32), Signal::SIGINT).unwrap();
    let output = cli.wait_with_output().unwrap();
    assert_eq!(code(&output), 1, "{}{}", text(&output.stdout), text(&output.stderr));
    assert!(text(&output.stdout).contains("Check-in interrupted"), "{}", text(&output.stdout));
    let start = Instant::now();
    while is_alive(child) {
        assert!(start.elapsed() < Duration::from_secs(5), "the item's child outlived the interruption");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_interrupted(&device, &["failed", "not_run"]);
    assert_eq!(daemon.status()["reply"], "status", "the daemon carries on");
}

#[test]
fn a_restarted_daemon_keeps_its_schedule() {
    let device = Device::new();
    let path = device.write_blueprint(&blueprint(vec![script("quick", "Quick", "#!/bin/sh\nexit 0\n")]));
    let blueprint_file = setting("blueprint_file", &path);
    let settings = ["schedule.recurring_interval=2s", "schedule.daily_interval=1h", &blueprint_file];
    let mut daemon = Daemon::start(&device, &settings);
    let first = wait_for_runs(&device, Duration::from_secs(10), |runs| runs.first().is_some_and(finished));
    assert!(daemon.stop().success());
    let before = runs(&device);
    let last_start = time(&before.last().unwrap()["started_at"]);
    assert_eq!(first[0]["kind"], "daily");

    let daemon = Daemon::start(&device, &settings);
    let next = daemon.status()["next_checkin"].clone();
    assert_eq!(next["kind"], "recurring", "no second daily after a restart: {next}");
    assert!(time(&next["at"]) >= last_start + chrono::Duration::seconds(1), "{next} after {last_start}");
    let after = wait_for_runs(&device, Duration::from_secs(6), |runs| runs.len() > before.len());
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
    let warnings = logged(
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
    while logged(&device, broken).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(5), "the broken configuration was not reported");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(logged(&device, broken)[0]["error"].as_str().unwrap().contains("schedule.recurring_interval"));

    // A fixed configuration applies at once: the owed daily check-in now has a blueprint.
    let path = device.write_blueprint(&blueprint(vec![script("quick", "Quick", "#!/bin/sh\nexit 0\n")]));
    device.write_file(dropin, &json!({ "blueprint_file": path }).to_string());
    daemon.signal(Signal::SIGHUP);
    let runs = wait_for_runs(&device, Duration::from_secs(5), |runs| runs.first().is_some_and(finished));
    assert_eq!((runs[0]["kind"].as_str(), runs[0]["outcome"].as_str()), (Some("daily"), Some("succeeded")));
    let reloaded = logged(&device, "SIGHUP: configuration reloaded; it applies from the next check-in.");
    assert_eq!(reloaded.len(), 1);
    assert_eq!(reloaded[0]["changed"], "blueprint_file");
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
        assert!(start.elapsed() < Duration::from_secs(3), "--follow did not stop on Ctrl-C");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

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
