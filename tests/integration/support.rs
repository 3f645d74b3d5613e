//! A scratch device: a temporary `AGENT_ROOT`, blueprint helpers, and ways to run
//! the real binary against it and read what it recorded.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use endpoint_agent::paths::AgentPaths;
use endpoint_agent::plan::CheckinKind;
use endpoint_agent::state::{Drift, RunHeader, RunRecord, Store, Trigger};
use serde_json::{Value, json};

pub mod pending_work;
pub mod person;

/// How long a test waits for something that is bound to come (a file, a run, an
/// exit, a log line): generous, so that a 2-core machine loaded by a parallel
/// build meets it; a passing test never waits it out, so it only bounds failures.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A device with its own root folder.
pub struct Device {
    root: tempfile::TempDir,
}

impl Device {
    /// A fresh device: nothing under its root yet.
    pub fn new() -> Self {
        Self { root: tempfile::tempdir().expect("scratch root") }
    }

    /// The device's `AGENT_ROOT`.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The agent's state folder on this device.
    pub fn state_dir(&self) -> PathBuf {
        self.root().join("Library/Application Support/EndpointAgent/state")
    }

    /// A command for the real binary on this device, with a clean environment.
    pub fn agent(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_agent"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()))
            .env("AGENT_ROOT", self.root())
            .stdin(Stdio::null());
        command
    }

    /// Runs the agent with `arguments` and waits for it.
    pub fn run(&self, arguments: &[&str]) -> Output {
        self.agent().args(arguments).output().expect("agent runs")
    }

    /// Starts the agent with `arguments` without waiting.
    pub fn spawn(&self, arguments: &[&str]) -> Child {
        self.agent().args(arguments).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("agent starts")
    }

    /// Writes `blueprint` as JSON under the root and returns its path.
    pub fn write_blueprint(&self, blueprint: &Value) -> PathBuf {
        self.write_file("blueprint.json", &serde_json::to_string_pretty(blueprint).unwrap())
    }

    /// Writes `text` at `relative` under the root, creating folders.
    pub fn write_file(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.root().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `agent run --blueprint <path>` plus `extra`, waited for.
    pub fn check_in(&self, blueprint: &Path, extra: &[&str]) -> Output {
        let mut arguments = vec!["run", "--blueprint", blueprint.to_str().unwrap()];
        arguments.extend_from_slice(extra);
        self.run(&arguments)
    }

    /// [`Device::check_in`], asserting it exited 0 (its output shown when not).
    pub fn check_in_ok(&self, blueprint: &Path, extra: &[&str]) -> Output {
        let output = self.check_in(blueprint, extra);
        assert_eq!(code(&output), 0, "stdout: {}\nstderr: {}", text(&output.stdout), text(&output.stderr));
        output
    }

    /// The agent's log folder on this device.
    pub fn log_dir(&self) -> PathBuf {
        self.root().join("Library/Logs/EndpointAgent")
    }

    /// `agent status --json`, parsed.
    pub fn status(&self) -> Value {
        let output = self.run(&["status", "--json"]);
        assert!(output.status.success(), "status failed: {}", text(&output.stderr));
        serde_json::from_slice(&output.stdout).expect("status is JSON")
    }

    /// Waits (bounded) until `count_query` (a `SELECT COUNT(*) …`) on the device's
    /// state store answers 1, as it does once the agent has committed what the
    /// test waits for; `what` says what that is when it never comes.
    pub fn wait_for_store(&self, count_query: &str, what: &str) {
        let store = self.state_dir().join("agent.sqlite3");
        let start = Instant::now();
        loop {
            let connection = rusqlite::Connection::open_with_flags(&store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY);
            let count: Option<i64> =
                connection.ok().and_then(|connection| connection.query_row(count_query, [], |row| row.get(0)).ok());
            if count == Some(1) {
                return;
            }
            assert!(start.elapsed() < PATIENCE, "{what} was never recorded");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (bounded) until `relative` exists under the root.
    pub fn wait_for_file(&self, relative: &str, limit: Duration) -> PathBuf {
        let path = self.root().join(relative);
        let start = Instant::now();
        while !path.exists() {
            assert!(start.elapsed() < limit, "{} never appeared", path.display());
            std::thread::sleep(Duration::from_millis(20));
        }
        path
    }
}

/// A blueprint holding `items`.
pub fn blueprint(items: Vec<Value>) -> Value {
    json!({ "id": "bp-test", "name": "Test", "team_id": "T-1", "library_items": items })
}

/// A custom script item running every check-in.
pub fn script(id: &str, name: &str, audit: &str) -> Value {
    json!({ "id": id, "name": name, "type": "custom_script", "audit": audit })
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The exit code, asserting the process exited by itself.
pub fn code(output: &Output) -> i32 {
    output.status.code().expect("exited with a code")
}

/// The items of the status's last run.
pub fn last_items(status: &Value) -> Vec<Value> {
    status["last_run"]["items"].as_array().cloned().unwrap_or_default()
}

/// The item named `name` in the status's last run.
pub fn item<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["last_run"]["items"]
        .as_array()
        .and_then(|items| items.iter().find(|item| item["name"] == name))
        .unwrap_or_else(|| panic!("no item {name:?} in {status:#}"))
}

/// Whether `pid` is still a live process (a zombie no one reaps counts as gone).
pub fn is_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().chars().next());
            !matches!(state, Some(Some('Z' | 'X')))
        }
    }
}

/// Reads a pid a script wrote.
pub fn read_pid(path: &Path) -> i32 {
    let start = Instant::now();
    loop {
        if let Ok(pid) = std::fs::read_to_string(path).unwrap_or_default().trim().parse() {
            return pid;
        }
        assert!(start.elapsed() < PATIENCE, "no pid in {}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `agent enroll --url URL --token-file FILE`, the token written (with a trailing
/// newline, as `echo` leaves it) to a file outside the agent's folders.
pub fn enroll(device: &Device, url: &str, token: &str) -> Output {
    let token_file = device.write_file("enroll-token.txt", &format!("{token}\n"));
    device.run(&["enroll", "--url", url, "--token-file", token_file.to_str().unwrap()])
}

/// Whether the tests run as root (as CI does); otherwise says that the calling test,
/// which needs root for `what`, is skipped.
pub fn running_as_root(what: &str) -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        eprintln!("skipped: {what} needs root");
    }
    root
}

/// A small tmpfs mounted on a folder while it lives (tests that run as root).
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts `size` (`1m`) on `folder` (made if missing), or says why the calling
    /// test is skipped.
    pub fn mount(folder: PathBuf, size: &str) -> Option<Self> {
        Self::mount_with(folder, &format!("size={size},mode=0755"))
    }

    /// Mounts a tmpfs with mount `options` (`size=1m,mode=0700`) on `folder`.
    pub fn mount_with(folder: PathBuf, options: &str) -> Option<Self> {
        if !running_as_root("mounting a tmpfs") {
            return None;
        }
        std::fs::create_dir_all(&folder).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(&folder)
            .status()
            .is_ok_and(|status| status.success());
        if !mounted {
            eprintln!("skipped: cannot mount a tmpfs on {}", folder.display());
            return None;
        }
        Some(Self(folder))
    }
}

impl Drop for Tmpfs {
    /// Unmounts, lazily if something still holds it open.
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(&self.0).status().is_ok_and(|status| status.success());
        if !unmounted {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// `agent run --json` plus `extra` (the configured blueprint, from a tenant or a
/// file), asserting it ran (exit 0 or 1); the run record.
pub fn check_in(device: &Device, extra: &[&str]) -> Value {
    let mut arguments = vec!["run", "--json"];
    arguments.extend_from_slice(extra);
    let output = device.run(&arguments);
    assert!(code(&output) <= 1, "agent run failed: {}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("run JSON: {}", text(&output.stdout)))
}

/// Every line the agent logged on `device`, as text.
pub fn logged(device: &Device) -> String {
    let files = std::fs::read_dir(device.log_dir()).into_iter().flatten().flatten();
    files.map(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default()).collect()
}

/// The log records with this message, oldest file first, read straight from the
/// log files (every verb, `agent logs` too, refuses to start on a broken
/// configuration).
pub fn logged_records(device: &Device, message: &str) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(device.log_dir())
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

/// The device's state store, opened through the library as the agent opens it.
pub fn store(device: &Device) -> Store {
    Store::open(&AgentPaths::under(device.root()).store_file).expect("the device's store opens")
}

/// A run of blueprint `bp-test` as a check-in begins it, started at `started_at`:
/// a fresh id, no end, no items yet (`..begun_run(...)` for anything else).
pub fn begun_run(kind: CheckinKind, trigger: Trigger, started_at: DateTime<Utc>) -> RunRecord {
    RunRecord {
        header: RunHeader::begun(uuid::Uuid::now_v7().to_string(), kind, trigger, started_at),
        blueprint_id: Some("bp-test".to_string()),
        drift: Drift::default(),
        message: None,
        parameters: Vec::new(),
        items: Vec::new(),
    }
}

/// Reads with `read` every `every` until `done` holds, and returns what it read
/// last; fails naming `what` (and showing the last reading) after `limit`.
pub fn poll<T: std::fmt::Debug>(
    what: &str,
    limit: Duration,
    every: Duration,
    mut read: impl FnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let start = Instant::now();
    loop {
        let value = read();
        if done(&value) {
            return value;
        }
        assert!(start.elapsed() < limit, "{what} never got there: {value:#?}");
        std::thread::sleep(every);
    }
}

/// The path of an installed program, from the usual folders or `PATH`; fails with
/// `needed` (which tests need it and how to install it) when there is none.
pub fn installed_program(name: &str, needed: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let folders = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"].into_iter().map(PathBuf::from);
    folders
        .chain(std::env::split_paths(&path))
        .map(|folder| folder.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{name} not found: {needed}"))
}

/// The uid and gid of `nobody`: a person without admin rights.
pub const NOBODY: u32 = 65534;

impl Device {
    /// A command for the real binary on this device run as `nobody` from `/`,
    /// the scratch root opened to it (the tests that use it run as root).
    pub fn agent_as_nobody(&self) -> Command {
        open_to_nobody(self);
        let mut command = self.agent();
        as_nobody(command.current_dir("/"));
        command
    }

    /// Runs the agent with `arguments` as `nobody` and waits for it.
    pub fn run_as_nobody(&self, arguments: &[&str]) -> Output {
        self.agent_as_nobody().args(arguments).output().expect("agent runs")
    }

    /// Sends one raw `request` line to the daemon's control socket from a process
    /// running as `nobody` (the kernel names the peer at connect time) and returns
    /// the reply lines. The client is core Perl's `IO::Socket::UNIX` (in Debian's
    /// essential `perl-base`, and on every Mac).
    pub fn request_as_nobody(&self, request: &Value) -> Vec<Value> {
        open_to_nobody(self);
        let socket = AgentPaths::under(self.root()).socket;
        let client = r#"$s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!"; print $s "$ARGV[1]\n"; print while <$s>"#;
        let mut command = Command::new("perl");
        command.args(["-MIO::Socket::UNIX", "-e", client]).arg(&socket).arg(request.to_string()).current_dir("/");
        let output = as_nobody(&mut command).output().expect("perl runs");
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stdout).lines().map(|line| serde_json::from_str(line).expect("a reply line")).collect()
    }
}

/// Lets `nobody` into the scratch root, as everyone may look into the Mac's `/`;
/// the agent's own folders keep the modes it gives them (a person's verbs need
/// nothing in them but the control socket's folder).
pub fn open_to_nobody(device: &Device) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(device.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Makes `command` run as `nobody` (uid and gid 65534, no supplementary groups
/// on Linux); the caller must be root.
pub fn as_nobody(command: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe system calls run between fork and exec.
    unsafe {
        command.pre_exec(|| {
            // nix offers setgroups on Linux only; elsewhere the test keeps root's groups.
            #[cfg(target_os = "linux")]
            nix::unistd::setgroups(&[]).map_err(std::io::Error::from)?;
            nix::unistd::setgid(nix::unistd::Gid::from_raw(NOBODY)).map_err(std::io::Error::from)?;
            nix::unistd::setuid(nix::unistd::Uid::from_raw(NOBODY)).map_err(std::io::Error::from)
        })
    }
}
