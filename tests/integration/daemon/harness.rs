//! Starting and stopping a real `agent daemon` on a scratch device, talking to
//! its control socket, and reading what it recorded.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

use crate::support::{Device, PATIENCE, blueprint, code, logged_records, poll, script, text};

/// A running `agent daemon` on a scratch device; killed if a test fails midway.
pub struct Daemon {
    /// The daemon process.
    pub child: Child,
    /// Its control socket.
    pub socket: PathBuf,
}

impl Daemon {
    /// Starts `agent daemon --set …` for each setting and waits until it answers.
    pub fn start(device: &Device, settings: &[&str]) -> Self {
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
            assert!(start.elapsed() < PATIENCE, "the daemon never answered on {}", daemon.socket.display());
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends one request line and reads every reply line until the daemon closes.
    pub fn request(&self, request: &Value) -> Vec<Value> {
        let mut stream = UnixStream::connect(&self.socket).expect("socket answers");
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        writeln!(stream, "{request}").unwrap();
        BufReader::new(stream).lines().map(|line| serde_json::from_str(&line.unwrap()).unwrap()).collect()
    }

    pub fn try_status(&self) -> Option<Value> {
        let mut stream = UnixStream::connect(&self.socket).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        writeln!(stream, "{}", json!({ "request": "status" })).ok()?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).ok()?;
        serde_json::from_str(&line).ok()
    }

    /// The daemon's `status` reply.
    pub fn status(&self) -> Value {
        let replies = self.request(&json!({ "request": "status" }));
        assert_eq!(replies.len(), 1, "{replies:?}");
        replies[0].clone()
    }

    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid() as i32), signal).unwrap();
    }

    /// Waits (at most `limit`) for the daemon to exit; its status and how long it took.
    pub fn wait_exit(&mut self, limit: Duration) -> (ExitStatus, Duration) {
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
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(Signal::SIGTERM);
        self.wait_exit(PATIENCE).0
    }
}

/// A test that fails midway still stops its daemon the way launchd would (SIGTERM,
/// then SIGKILL), so the items it was running leave no processes behind.
impl Drop for Daemon {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let _ = kill(Pid::from_raw(self.pid() as i32), Signal::SIGTERM);
        let start = Instant::now();
        while matches!(self.child.try_wait(), Ok(None)) && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The device's runs, oldest first, from `agent history --json`.
pub fn runs(device: &Device) -> Vec<Value> {
    let output = device.run(&["history", "--json", "--limit", "100"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let mut runs: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    runs.reverse();
    runs
}

/// Polls the history until `done` says so (at most `limit`).
pub fn wait_for_runs(device: &Device, limit: Duration, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    poll("the runs", limit, Duration::from_millis(100), || runs(device), |runs| done(runs))
}

pub fn finished(run: &Value) -> bool {
    !run["outcome"].is_null()
}

pub fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("a time")).unwrap().with_timezone(&Utc)
}

/// The log records with this message once there are at least `count` of them: the
/// daemon writes its log through a background writer, so a line may land a moment
/// after the event it tells of (fails after `limit`).
pub fn wait_for_logged(device: &Device, message: &str, count: usize, limit: Duration) -> Vec<Value> {
    let every = Duration::from_millis(50);
    poll(message, limit, every, || logged_records(device, message), |records| records.len() >= count)
}

/// A blueprint whose one item appends `start end` (ns) and its parent's pid, and
/// sleeps `seconds`.
pub fn timed_blueprint(device: &Device, seconds: &str) -> PathBuf {
    let audit = format!(
        "#!/bin/sh\nstart=$(date +%s%N)\necho $PPID >> \"$AGENT_ROOT/parents\"\ntouch \"$AGENT_ROOT/started\"\n\
         sleep {seconds}\necho \"$start $(date +%s%N)\" >> \"$AGENT_ROOT/intervals\"\n"
    );
    device.write_blueprint(&blueprint(vec![script("timed", "Timed", &audit)]))
}

/// The `start end` pairs the timed item wrote, in start order, checked not to overlap.
pub fn assert_no_overlap(device: &Device) -> usize {
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

pub fn setting(key: &str, path: &Path) -> String {
    format!("{key}={}", path.display())
}

/// An item that starts a background child (its pid written) and hangs; with
/// `ignore_term` both ignore SIGTERM and only SIGKILL stops them.
pub fn hanging_blueprint(device: &Device, ignore_term: bool) -> PathBuf {
    let trap = if ignore_term { "trap '' TERM\n" } else { "" };
    let hang = format!("#!/bin/sh\n{trap}sleep 1000 &\necho $! > \"$AGENT_ROOT/child.pid\"\nexec sleep 1000\n");
    let items = vec![script("hang", "1 hangs", &hang), script("after", "2 after", "#!/bin/sh\nexit 0\n")];
    device.write_file("hanging.json", &blueprint(items).to_string())
}

/// The last run is interrupted, its items ended as `statuses` say.
pub fn assert_interrupted(device: &Device, statuses: &[&str]) {
    let status = device.status();
    assert_eq!(status["last_run"]["outcome"], "interrupted", "{status:#}");
    let recorded: Vec<&str> =
        status["last_run"]["items"].as_array().unwrap().iter().map(|item| item["status"].as_str().unwrap()).collect();
    assert_eq!(recorded, statuses, "{status:#}");
    assert_eq!(status["running"], Value::Null);
}
