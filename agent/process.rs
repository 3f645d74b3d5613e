//! Running one child program under supervision.
//!
//! Everything the agent executes on a device (scripts, installers, helper
//! tools) goes through [`run_child`], because a plain `Command::output()` is
//! not safe for an unattended agent:
//!
//! - A program can start descendants that outlive it. The child is therefore
//!   made the leader of its own process group, and every stop signal is sent
//!   to the whole group, so background jobs and double-forked helpers are
//!   reached too. `kill_on_drop` would only reach the direct child.
//! - A program can write without limit. Output is read from one pipe shared by
//!   stdout and stderr (so the captured text keeps the order the program wrote
//!   it in) and only a bounded head and tail of it are kept.
//! - A program can hang or ignore `SIGTERM`. It gets a deadline and can be
//!   cancelled; stopping means `SIGTERM`, a grace period, then `SIGKILL`.
//! - A program can exit while a descendant still holds the output pipe open.
//!   The end of output is awaited only briefly after the program exits; the
//!   leftover descendants are then stopped and reported.
//!
//! Whether a process group still has live members is decided by
//! `group_is_alive`. On Linux it scans `/proc` and ignores zombies, because an
//! orphaned zombie keeps `killpg(group, 0)` succeeding wherever the init
//! process does not reap orphans (as in some containers). Elsewhere (macOS,
//! where launchd reaps orphans) the signal probe is enough.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::process::{Child, Command};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// Number of bytes kept from the start of the output unless configured otherwise.
pub const DEFAULT_CAPTURE_HEAD: usize = 64 * 1024;

/// Number of bytes kept from the end of the output unless configured otherwise.
pub const DEFAULT_CAPTURE_TAIL: usize = 64 * 1024;

/// How long the end of output is awaited after the program itself has exited.
const PIPE_END_WAIT: Duration = Duration::from_millis(100);

/// How long output still buffered in the pipe is read after the group is gone.
const DRAIN_WAIT: Duration = Duration::from_millis(100);

/// How often the process group is checked while waiting for it to end.
const GROUP_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How long the group is watched after `SIGKILL` before giving up on it.
const KILL_CONFIRMATION_WAIT: Duration = Duration::from_secs(1);

/// How often the process group is checked after `SIGKILL`.
const KILL_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Size of the buffer each read from the output pipe goes through.
const READ_CHUNK_SIZE: usize = 64 * 1024;

/// What to run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChildSpec {
    /// Program to execute; a bare name is looked up in `PATH`.
    pub program: PathBuf,
    /// Arguments passed to the program, without the program name itself.
    pub args: Vec<OsString>,
    /// Working directory of the program; the agent's own when `None`.
    pub current_dir: Option<PathBuf>,
    /// Variables added to (or overriding) the inherited environment.
    pub env: Vec<(OsString, OsString)>,
}

impl ChildSpec {
    /// A spec that runs `program` with no arguments, the agent's working
    /// directory and the inherited environment.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self { program: program.into(), ..Self::default() }
    }
}

/// How long the program may run and how much of its output is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Moment at which the program (and its process group) is stopped.
    pub deadline: Instant,
    /// Time between `SIGTERM` and `SIGKILL` when the group has to be stopped.
    pub grace: Duration,
    /// Number of bytes kept from the start of the output.
    pub capture_head: usize,
    /// Number of bytes kept from the end of the output.
    pub capture_tail: usize,
}

impl Limits {
    /// Limits with the given deadline and grace period, keeping
    /// [`DEFAULT_CAPTURE_HEAD`] and [`DEFAULT_CAPTURE_TAIL`] bytes of output.
    pub fn new(deadline: Instant, grace: Duration) -> Self {
        Self { deadline, grace, capture_head: DEFAULT_CAPTURE_HEAD, capture_tail: DEFAULT_CAPTURE_TAIL }
    }
}

/// How the program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildEnd {
    /// The program exited by itself.
    Exited {
        /// The program's exit code.
        code: i32,
    },
    /// The program was killed by a signal that the supervision did not send.
    Signalled {
        /// Number of the signal that ended the program.
        signal: i32,
    },
    /// The deadline passed and the process group was stopped.
    TimedOut,
    /// The cancellation token fired and the process group was stopped.
    Cancelled,
}

/// Bounded copy of everything the program wrote to stdout and stderr.
///
/// Keeps the first `capture_head` bytes, the last `capture_tail` bytes and
/// the total count, so a program that writes gigabytes costs only the two
/// buffers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapturedOutput {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total_bytes: u64,
    head_limit: usize,
    tail_limit: usize,
}

impl CapturedOutput {
    /// An empty capture that keeps at most `head_limit` leading and
    /// `tail_limit` trailing bytes.
    fn with_limits(head_limit: usize, tail_limit: usize) -> Self {
        Self {
            head: Vec::with_capacity(head_limit),
            tail: VecDeque::with_capacity(tail_limit),
            total_bytes: 0,
            head_limit,
            tail_limit,
        }
    }

    /// Records the next bytes the program wrote.
    fn append(&mut self, bytes: &[u8]) {
        self.total_bytes = self.total_bytes.saturating_add(bytes.len() as u64);
        let head_room = self.head_limit.saturating_sub(self.head.len());
        let (into_head, rest) = bytes.split_at(head_room.min(bytes.len()));
        self.head.extend_from_slice(into_head);
        if rest.is_empty() || self.tail_limit == 0 {
            return;
        }
        let kept = if rest.len() >= self.tail_limit {
            self.tail.clear();
            &rest[rest.len() - self.tail_limit..]
        } else {
            let overflow = (self.tail.len() + rest.len()).saturating_sub(self.tail_limit);
            self.tail.drain(..overflow);
            rest
        };
        self.tail.extend(kept);
    }

    /// Total number of bytes the program wrote, kept or not.
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Number of bytes written but kept in neither the head nor the tail.
    pub fn omitted_bytes(&self) -> u64 {
        let kept = (self.head.len() + self.tail.len()) as u64;
        self.total_bytes.saturating_sub(kept)
    }

    /// Whether some of the output was dropped between head and tail.
    pub fn is_truncated(&self) -> bool {
        self.omitted_bytes() > 0
    }

    /// The output as text (invalid UTF-8 replaced). When output was dropped,
    /// the head and tail are separated by a line naming the omitted byte count.
    pub fn to_text(&self) -> String {
        let (tail_front, tail_back) = self.tail.as_slices();
        if !self.is_truncated() {
            let whole = [self.head.as_slice(), tail_front, tail_back].concat();
            return String::from_utf8_lossy(&whole).into_owned();
        }
        let tail = [tail_front, tail_back].concat();
        format!(
            "{}\n[… {} bytes omitted …]\n{}",
            String::from_utf8_lossy(&self.head),
            self.omitted_bytes(),
            String::from_utf8_lossy(&tail)
        )
    }
}

/// Everything known about a finished run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildOutcome {
    /// How the program ended.
    pub end: ChildEnd,
    /// Bounded copy of the merged stdout and stderr.
    pub output: CapturedOutput,
    /// Time from spawning the program until supervision finished.
    pub duration: Duration,
    /// Descendants were still alive after the program ended by itself and
    /// had to be stopped.
    pub stray_processes_stopped: bool,
}

/// Why a program could not be run.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The program does not exist (or a component of its path does not).
    #[error("program not found: {}", program.display())]
    NotFound {
        /// The program that was to be started.
        program: PathBuf,
        /// The underlying operating system error.
        #[source]
        source: io::Error,
    },
    /// The program exists but may not be executed by the agent.
    #[error("permission denied starting {}", program.display())]
    PermissionDenied {
        /// The program that was to be started.
        program: PathBuf,
        /// The underlying operating system error.
        #[source]
        source: io::Error,
    },
    /// The requested working directory does not exist or is not a directory.
    #[error("working directory {} for {} is not usable", directory.display(), program.display())]
    WorkingDirectory {
        /// The program that was to be started.
        program: PathBuf,
        /// The working directory that was requested.
        directory: PathBuf,
        /// The underlying operating system error.
        #[source]
        source: io::Error,
    },
    /// The program could not be started for another reason.
    #[error("could not start {}", program.display())]
    Other {
        /// The program that was to be started.
        program: PathBuf,
        /// The underlying operating system error.
        #[source]
        source: io::Error,
    },
    /// The program started but its exit could not be observed; its process
    /// group has been stopped.
    #[error("lost track of {} while waiting for it to exit", program.display())]
    Wait {
        /// The program that was started.
        program: PathBuf,
        /// The underlying operating system error.
        #[source]
        source: io::Error,
    },
}

impl SpawnError {
    /// Classifies an error from starting the program described by `spec`.
    fn from_start(spec: &ChildSpec, source: io::Error) -> Self {
        let program = spec.program.clone();
        if let Some(directory) = spec.current_dir.as_deref().filter(|dir| !dir.is_dir()) {
            let directory = directory.to_path_buf();
            return Self::WorkingDirectory { program, directory, source };
        }
        match source.kind() {
            io::ErrorKind::NotFound => Self::NotFound { program, source },
            io::ErrorKind::PermissionDenied => Self::PermissionDenied { program, source },
            _ => Self::Other { program, source },
        }
    }
}

/// Runs one program in its own process group until it ends, the deadline
/// passes or `cancel` fires, and makes sure no process of the group survives.
///
/// Must be called inside a Tokio runtime with I/O and time enabled. If the
/// returned future is dropped before it completes, the group is sent `SIGKILL`.
///
/// # Errors
///
/// [`SpawnError`] when the program cannot be started, or when its exit can no
/// longer be observed (its process group is stopped first in that case).
pub async fn run_child(
    spec: &ChildSpec,
    limits: &Limits,
    cancel: &CancellationToken,
) -> Result<ChildOutcome, SpawnError> {
    let (child, receiver) = spawn_in_own_group(spec)?;
    let started = Instant::now();
    let mut supervision =
        Supervision::new(child, receiver, limits).map_err(|source| SpawnError::from_start(spec, source))?;
    debug!(program = %spec.program.display(), group = supervision.group.id.as_raw(), "child started");
    let (end, stray_processes_stopped) = match supervision.watch(limits, cancel).await {
        Watched::Interrupted(end) => {
            supervision.stop_group(limits.grace).await;
            (end, false)
        }
        Watched::Exited(status) => {
            supervision.leader.status = Some(status);
            (end_from_status(status), supervision.stop_strays(limits.grace).await)
        }
        Watched::WaitFailed(source) => {
            supervision.stop_group(limits.grace).await;
            supervision.group.settled = true;
            return Err(SpawnError::Wait { program: spec.program.clone(), source });
        }
    };
    supervision.output.drain(DRAIN_WAIT).await;
    supervision.group.settled = true;
    let duration = started.elapsed();
    debug!(program = %spec.program.display(), ?end, ?duration, stray_processes_stopped, "child finished");
    Ok(ChildOutcome { end, output: supervision.output.captured, duration, stray_processes_stopped })
}

/// Starts the program as leader of a new process group, with stdin from
/// `/dev/null` and stdout and stderr both writing into one new pipe whose
/// reading end is returned.
fn spawn_in_own_group(spec: &ChildSpec) -> Result<(Child, pipe::Receiver), SpawnError> {
    let start_error = |source| SpawnError::from_start(spec, source);
    let (sender, receiver) = pipe::pipe().map_err(start_error)?;
    let stdout = sender.into_blocking_fd().map_err(start_error)?;
    let stderr = stdout.try_clone().map_err(start_error)?;
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0);
    if let Some(directory) = &spec.current_dir {
        command.current_dir(directory);
    }
    let child = command.spawn().map_err(start_error)?;
    // The command owns our copies of the pipe's writing end; closing them now
    // lets the reader see the end of output once the child's copies are gone.
    drop(command);
    Ok((child, receiver))
}

/// Maps an exit status the program produced by itself to a [`ChildEnd`].
fn end_from_status(status: ExitStatus) -> ChildEnd {
    match (status.code(), status.signal()) {
        (Some(code), _) => ChildEnd::Exited { code },
        (None, Some(signal)) => ChildEnd::Signalled { signal },
        (None, None) => ChildEnd::Exited { code: -1 },
    }
}

/// What ended the first phase of supervision.
enum Watched {
    /// The program exited by itself with this status.
    Exited(ExitStatus),
    /// The deadline passed or the run was cancelled; the program may still run.
    Interrupted(ChildEnd),
    /// Waiting for the program failed.
    WaitFailed(io::Error),
}

/// The running program, its process group and its output.
struct Supervision {
    leader: Leader,
    group: ProcessGroup,
    output: OutputReader,
}

impl Supervision {
    /// Supervision of a freshly spawned `child` whose output arrives through `receiver`.
    fn new(mut child: Child, receiver: pipe::Receiver, limits: &Limits) -> io::Result<Self> {
        let Some(process_id) = child.id().and_then(|id| i32::try_from(id).ok()) else {
            let _ = child.start_kill();
            return Err(io::Error::other("the started program has no usable process id"));
        };
        Ok(Self {
            leader: Leader { child, status: None, untracked: false },
            group: ProcessGroup { id: Pid::from_raw(process_id), settled: false },
            output: OutputReader {
                receiver,
                chunk: vec![0; READ_CHUNK_SIZE].into_boxed_slice(),
                captured: CapturedOutput::with_limits(limits.capture_head, limits.capture_tail),
                finished: false,
            },
        })
    }

    /// Reads output until the program exits, the deadline passes or the run
    /// is cancelled, whichever comes first.
    async fn watch(&mut self, limits: &Limits, cancel: &CancellationToken) -> Watched {
        let deadline = tokio::time::sleep_until(limits.deadline);
        tokio::pin!(deadline);
        loop {
            let output = &mut self.output;
            tokio::select! {
                result = self.leader.child.wait() => {
                    return match result {
                        Ok(status) => Watched::Exited(status),
                        Err(error) => Watched::WaitFailed(error),
                    };
                }
                () = output.read_until_finished(), if !output.finished => {}
                () = &mut deadline => return Watched::Interrupted(ChildEnd::TimedOut),
                () = cancel.cancelled() => return Watched::Interrupted(ChildEnd::Cancelled),
            }
        }
    }

    /// After the program exited by itself: waits briefly for the end of
    /// output, then stops whatever is left of the process group. Returns
    /// whether anything had to be stopped.
    async fn stop_strays(&mut self, grace: Duration) -> bool {
        let _ = tokio::time::timeout(PIPE_END_WAIT, self.output.read_until_finished()).await;
        if !self.group.is_alive() {
            if !self.output.finished {
                warn!(
                    group = self.group.id.as_raw(),
                    "the output pipe is held open by a process that left the child's process group"
                );
            }
            return false;
        }
        debug!(group = self.group.id.as_raw(), "descendants outlived the program; stopping them");
        self.stop_group(grace).await;
        true
    }

    /// Sends `SIGTERM` to the group, waits up to `grace` for it to end, then
    /// sends `SIGKILL`. Reaps the direct child and keeps reading output meanwhile.
    async fn stop_group(&mut self, grace: Duration) {
        self.group.signal(Signal::SIGTERM);
        // Stopped processes only act on the termination request once continued.
        self.group.signal(Signal::SIGCONT);
        if self.wait_until_gone(grace, GROUP_POLL_INTERVAL).await {
            return;
        }
        debug!(group = self.group.id.as_raw(), "process group outlived the grace period; killing it");
        self.group.signal(Signal::SIGKILL);
        if !self.wait_until_gone(KILL_CONFIRMATION_WAIT, KILL_POLL_INTERVAL).await {
            warn!(group = self.group.id.as_raw(), "process group still has live members after SIGKILL");
        }
    }

    /// Polls every `interval`, for at most `limit`, until the direct child is
    /// reaped and no live process is left in the group. Returns whether that
    /// happened.
    async fn wait_until_gone(&mut self, limit: Duration, interval: Duration) -> bool {
        let give_up_at = Instant::now() + limit;
        loop {
            self.leader.reap_if_exited();
            if self.leader.is_reaped() && !self.group.is_alive() {
                return true;
            }
            let now = Instant::now();
            if now >= give_up_at {
                return false;
            }
            let next_check = (now + interval).min(give_up_at);
            let output = &mut self.output;
            tokio::select! {
                () = tokio::time::sleep_until(next_check) => {}
                () = output.read_until_finished(), if !output.finished => {}
            }
        }
    }
}

/// The direct child, the leader of the process group.
struct Leader {
    child: Child,
    status: Option<ExitStatus>,
    /// Its status can no longer be collected (someone else reaped it).
    untracked: bool,
}

impl Leader {
    /// Whether the child has been reaped (or can no longer be).
    fn is_reaped(&self) -> bool {
        self.status.is_some() || self.untracked
    }

    /// Collects the child's exit status if it has exited, without waiting.
    fn reap_if_exited(&mut self) {
        if self.is_reaped() {
            return;
        }
        match self.child.try_wait() {
            Ok(Some(status)) => self.status = Some(status),
            Ok(None) => {}
            Err(error) => {
                warn!(%error, "could not collect the child's exit status");
                self.untracked = true;
            }
        }
    }
}

/// The child's process group. Until it is marked settled, dropping it (for
/// example when the future of [`run_child`] is dropped) kills the whole group.
struct ProcessGroup {
    id: Pid,
    settled: bool,
}

impl ProcessGroup {
    /// Sends `signal` to every process in the group.
    fn signal(&self, signal: Signal) {
        match killpg(self.id, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(error) => {
                warn!(group = self.id.as_raw(), %signal, %error, "could not signal process group");
            }
        }
    }

    /// Whether any process of the group is still alive.
    fn is_alive(&self) -> bool {
        group_is_alive(self.id)
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if !self.settled {
            let _ = killpg(self.id, Signal::SIGKILL);
        }
    }
}

/// Reads the merged output pipe into a bounded capture.
struct OutputReader {
    receiver: pipe::Receiver,
    chunk: Box<[u8]>,
    captured: CapturedOutput,
    /// The end of output was reached (or reading failed).
    finished: bool,
}

impl OutputReader {
    /// Reads until the end of output. Safe to cancel: every chunk read is
    /// recorded before the next await point.
    async fn read_until_finished(&mut self) {
        while !self.finished {
            match self.receiver.read(&mut self.chunk).await {
                Ok(0) => self.finished = true,
                Ok(count) => self.captured.append(&self.chunk[..count]),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    warn!(%error, "reading the child's output failed");
                    self.finished = true;
                }
            }
        }
    }

    /// Reads what is still buffered, for at most `limit`.
    async fn drain(&mut self, limit: Duration) {
        let _ = tokio::time::timeout(limit, self.read_until_finished()).await;
    }
}

/// Whether any process of `group` is alive (zombies do not count).
fn group_is_alive(group: Pid) -> bool {
    // A group nobody can be signalled in is either empty or beyond our reach.
    if killpg(group, None).is_err() {
        return false;
    }
    has_live_member(group)
}

/// Linux: the signal probe also succeeds for zombies, so look at `/proc`.
#[cfg(target_os = "linux")]
fn has_live_member(group: Pid) -> bool {
    match proc_scan::group_has_live_member(group.as_raw()) {
        Ok(alive) => alive,
        Err(error) => {
            debug!(%error, "cannot scan /proc; trusting the signal probe");
            true
        }
    }
}

/// Other Unix systems reap orphaned zombies promptly, so the probe suffices.
#[cfg(not(target_os = "linux"))]
fn has_live_member(_group: Pid) -> bool {
    true
}

/// Reading process states from Linux's `/proc`.
#[cfg(target_os = "linux")]
mod proc_scan {
    use std::io;
    use std::path::Path;

    /// Whether some process in `/proc` belongs to `group` and is not a zombie.
    pub(super) fn group_has_live_member(group: i32) -> io::Result<bool> {
        for entry in std::fs::read_dir("/proc")? {
            let Ok(entry) = entry else { continue };
            let is_process =
                entry.file_name().to_str().is_some_and(|name| name.bytes().all(|byte| byte.is_ascii_digit()));
            if !is_process {
                continue;
            }
            // The process may vanish between listing and reading; skip it then.
            let Some(stat) = read_stat(&entry.path()) else {
                continue;
            };
            if stat.group == group && is_live_state(stat.state) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The fields of `/proc/<pid>/stat` needed here.
    #[derive(Debug, PartialEq, Eq)]
    pub(super) struct ProcessStat {
        /// One-letter scheduler state (`R`, `S`, `Z`, ...).
        pub(super) state: u8,
        /// Process group id.
        pub(super) group: i32,
    }

    /// Reads and parses `<process_directory>/stat`.
    pub(super) fn read_stat(process_directory: &Path) -> Option<ProcessStat> {
        let contents = std::fs::read(process_directory.join("stat")).ok()?;
        parse_stat(&contents)
    }

    /// Parses a stat line: `pid (comm) state ppid pgrp ...`. The command name
    /// may itself contain spaces and parentheses, so fields are counted from
    /// the last `)`.
    pub(super) fn parse_stat(contents: &[u8]) -> Option<ProcessStat> {
        let name_end = contents.iter().rposition(|&byte| byte == b')')?;
        let rest = std::str::from_utf8(contents.get(name_end + 1..)?).ok()?;
        let mut fields = rest.split_ascii_whitespace();
        let state = *fields.next()?.as_bytes().first()?;
        let _parent = fields.next()?;
        let group = fields.next()?.parse().ok()?;
        Some(ProcessStat { state, group })
    }

    /// Whether a process in `state` still runs code (is not zombie or dead).
    pub(super) fn is_live_state(state: u8) -> bool {
        !matches!(state, b'Z' | b'X' | b'x')
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    const TEST_GRACE: Duration = Duration::from_millis(200);

    fn shell(script: &str) -> ChildSpec {
        ChildSpec { program: PathBuf::from("/bin/sh"), args: vec!["-c".into(), script.into()], ..ChildSpec::default() }
    }

    fn limits_for(run_time: Duration) -> Limits {
        Limits::new(Instant::now() + run_time, TEST_GRACE)
    }

    async fn run(spec: &ChildSpec, limits: &Limits) -> ChildOutcome {
        match run_child(spec, limits, &CancellationToken::new()).await {
            Ok(outcome) => outcome,
            Err(error) => panic!("running {spec:?} failed: {error}"),
        }
    }

    /// Gone means: no such process, or only a zombie is left of it.
    fn process_is_gone(process_id: i32) -> bool {
        #[cfg(target_os = "linux")]
        {
            let directory = PathBuf::from(format!("/proc/{process_id}"));
            match proc_scan::read_stat(&directory) {
                Some(stat) => !proc_scan::is_live_state(stat.state),
                None => true,
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            nix::sys::signal::kill(Pid::from_raw(process_id), None).is_err()
        }
    }

    fn read_process_id(path: &Path) -> i32 {
        let text = std::fs::read_to_string(path).expect("pid file was written");
        text.trim().parse().expect("pid file holds a process id")
    }

    #[tokio::test]
    async fn reports_exit_code() {
        let outcome = run(&shell("exit 7"), &limits_for(Duration::from_secs(10))).await;
        assert_eq!(outcome.end, ChildEnd::Exited { code: 7 });
        assert!(!outcome.stray_processes_stopped);
        assert_eq!(outcome.output.total_bytes(), 0);
    }

    #[tokio::test]
    async fn reports_signal_not_sent_by_supervision() {
        let outcome = run(&shell("kill -KILL $$"), &limits_for(Duration::from_secs(10))).await;
        assert_eq!(outcome.end, ChildEnd::Signalled { signal: Signal::SIGKILL as i32 });
    }

    #[tokio::test]
    async fn keeps_order_of_stdout_and_stderr() {
        let script = "echo one; echo two >&2; echo three; echo four >&2; printf five >&2";
        let outcome = run(&shell(script), &limits_for(Duration::from_secs(10))).await;
        assert_eq!(outcome.end, ChildEnd::Exited { code: 0 });
        assert_eq!(outcome.output.to_text(), "one\ntwo\nthree\nfour\nfive");
        assert!(!outcome.output.is_truncated());
    }

    #[tokio::test]
    async fn passes_environment_working_directory_and_null_stdin() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let mut spec = shell("echo \"$GREETING\"; pwd; cat; echo end");
        spec.env.push(("GREETING".into(), "hello there".into()));
        spec.current_dir = Some(directory.path().to_path_buf());
        let outcome = run(&spec, &limits_for(Duration::from_secs(10))).await;
        let canonical = directory.path().canonicalize().expect("canonical path");
        let expected = format!("hello there\n{}\nend\n", canonical.display());
        assert_eq!(outcome.output.to_text(), expected);
    }

    #[tokio::test]
    async fn truncates_between_head_and_tail() {
        let mut limits = limits_for(Duration::from_secs(10));
        limits.capture_head = 10;
        limits.capture_tail = 10;
        let spec = shell("printf 0123456789; printf abcdefghijklmnop; printf qrstuvwxyz");
        let outcome = run(&spec, &limits).await;
        assert_eq!(outcome.output.total_bytes(), 36);
        assert!(outcome.output.is_truncated());
        assert_eq!(outcome.output.omitted_bytes(), 16);
        assert_eq!(outcome.output.to_text(), "0123456789\n[… 16 bytes omitted …]\nqrstuvwxyz");
    }

    #[test]
    fn output_exactly_filling_head_and_tail_is_not_truncated() {
        let mut captured = CapturedOutput::with_limits(3, 3);
        captured.append(b"ab");
        captured.append(b"cd");
        captured.append(b"ef");
        assert!(!captured.is_truncated());
        assert_eq!(captured.to_text(), "abcdef");
        captured.append(b"g");
        assert_eq!(captured.to_text(), "abc\n[… 1 bytes omitted …]\nefg");
    }

    #[test]
    fn tail_ring_matches_last_bytes_for_any_write_sizes() {
        let data: Vec<u8> = (0..5000u32).map(|value| (value % 251) as u8).collect();
        for piece in [1, 7, 64, 100, 999, 5000] {
            let mut captured = CapturedOutput::with_limits(50, 100);
            data.chunks(piece).for_each(|chunk| captured.append(chunk));
            assert_eq!(captured.head, &data[..50]);
            assert_eq!(captured.tail.iter().copied().collect::<Vec<_>>(), &data[data.len() - 100..]);
            assert_eq!(captured.total_bytes(), 5000);
            assert_eq!(captured.omitted_bytes(), 4850);
        }
    }

    #[test]
    fn zero_sized_capture_only_counts() {
        let mut captured = CapturedOutput::with_limits(0, 0);
        captured.append(b"hello");
        assert_eq!(captured.total_bytes(), 5);
        assert_eq!(captured.to_text(), "\n[… 5 bytes omitted …]\n");
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let mut captured = CapturedOutput::with_limits(16, 16);
        captured.append(b"ok \xff\xfe done");
        assert_eq!(captured.to_text(), "ok \u{fffd}\u{fffd} done");
    }

    fn assert_buffers_bounded(output: &CapturedOutput, head: usize, tail: usize) {
        assert_eq!(output.head.len(), head);
        assert_eq!(output.tail.len(), tail);
        assert!(output.head.capacity() <= 2 * head, "head capacity {}", output.head.capacity());
        assert!(output.tail.capacity() <= 2 * tail, "tail capacity {}", output.tail.capacity());
    }

    #[tokio::test]
    async fn huge_output_costs_only_the_capture_buffers() {
        let mut limits = limits_for(Duration::from_secs(20));
        limits.capture_head = 1024;
        limits.capture_tail = 2048;
        let outcome = run(&shell("head -c 200000000 /dev/zero; printf END"), &limits).await;
        assert_eq!(outcome.end, ChildEnd::Exited { code: 0 });
        assert_eq!(outcome.output.total_bytes(), 200_000_003);
        assert_buffers_bounded(&outcome.output, 1024, 2048);
        assert!(outcome.output.to_text().ends_with("\0END"));
        assert!(outcome.output.to_text().contains("[… 199996931 bytes omitted …]"));
    }

    #[tokio::test]
    async fn endless_output_is_bounded_and_stopped_at_deadline() {
        let mut limits = limits_for(Duration::from_millis(300));
        limits.capture_head = 100;
        limits.capture_tail = 100;
        let outcome = run(&shell("yes"), &limits).await;
        assert_eq!(outcome.end, ChildEnd::TimedOut);
        assert!(outcome.output.total_bytes() > 200);
        assert_buffers_bounded(&outcome.output, 100, 100);
        assert!(outcome.output.to_text().starts_with("y\ny\n"));
    }

    #[tokio::test]
    async fn deadline_stops_a_sleeping_child() {
        let outcome = run(&shell("sleep 30"), &limits_for(Duration::from_millis(300))).await;
        assert_eq!(outcome.end, ChildEnd::TimedOut);
        assert!(outcome.duration >= Duration::from_millis(290), "{:?}", outcome.duration);
        assert!(outcome.duration < Duration::from_millis(300) + TEST_GRACE + Duration::from_millis(700));
        assert!(!outcome.stray_processes_stopped);
    }

    #[tokio::test]
    async fn child_ignoring_term_is_killed_after_grace() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let pid_file = directory.path().join("pid");
        let script = format!("trap '' TERM; sleep 30 & echo $! > '{}'; sleep 30", pid_file.display());
        let outcome = run(&shell(&script), &limits_for(Duration::from_millis(300))).await;
        assert_eq!(outcome.end, ChildEnd::TimedOut);
        let minimum = Duration::from_millis(300) + TEST_GRACE - Duration::from_millis(20);
        assert!(outcome.duration >= minimum, "{:?}", outcome.duration);
        assert!(outcome.duration < minimum + Duration::from_millis(800), "{:?}", outcome.duration);
        assert!(process_is_gone(read_process_id(&pid_file)));
    }

    #[tokio::test]
    async fn deadline_stops_grandchildren() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let pid_file = directory.path().join("pid");
        let script = format!("sleep 1000 & echo $! > '{}'; sleep 1000", pid_file.display());
        let outcome = run(&shell(&script), &limits_for(Duration::from_millis(300))).await;
        assert_eq!(outcome.end, ChildEnd::TimedOut);
        assert!(outcome.duration < Duration::from_secs(2), "{:?}", outcome.duration);
        assert!(process_is_gone(read_process_id(&pid_file)));
    }

    #[tokio::test]
    async fn deadline_stops_double_forked_descendants() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let pid_file = directory.path().join("pid");
        let script = format!("(sleep 1000 & echo $! > '{}'); sleep 1000", pid_file.display());
        let outcome = run(&shell(&script), &limits_for(Duration::from_millis(300))).await;
        assert_eq!(outcome.end, ChildEnd::TimedOut);
        assert!(outcome.duration < Duration::from_secs(2), "{:?}", outcome.duration);
        assert!(process_is_gone(read_process_id(&pid_file)));
    }

    #[tokio::test]
    async fn background_child_holding_the_pipe_is_stopped() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let pid_file = directory.path().join("pid");
        let script = format!("sleep 30 & echo $! > '{}'; echo done", pid_file.display());
        let outcome = run(&shell(&script), &limits_for(Duration::from_secs(20))).await;
        assert_eq!(outcome.end, ChildEnd::Exited { code: 0 });
        assert!(outcome.stray_processes_stopped);
        assert!(outcome.duration < Duration::from_secs(2), "{:?}", outcome.duration);
        assert_eq!(outcome.output.to_text(), "done\n");
        assert!(process_is_gone(read_process_id(&pid_file)));
    }

    #[tokio::test]
    async fn background_child_ignoring_term_is_killed_after_exit() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let pid_file = directory.path().join("pid");
        let script =
            format!("(trap '' TERM; exec sleep 30) >/dev/null 2>&1 & echo $! > '{}'; exit 3", pid_file.display());
        let outcome = run(&shell(&script), &limits_for(Duration::from_secs(20))).await;
        assert_eq!(outcome.end, ChildEnd::Exited { code: 3 });
        assert!(outcome.stray_processes_stopped);
        assert!(outcome.duration >= TEST_GRACE, "{:?}", outcome.duration);
        assert!(outcome.duration < Duration::from_secs(2), "{:?}", outcome.duration);
        assert!(process_is_gone(read_process_id(&pid_file)));
    }

    #[tokio::test]
    async fn finished_descendants_are_not_strays() {
        let outcome = run(&shell("(true &); true & wait; echo ok"), &limits_for(Duration::from_secs(10))).await;
        assert_eq!(outcome.end, ChildEnd::Exited { code: 0 });
        assert!(!outcome.stray_processes_stopped);
        assert_eq!(outcome.output.to_text(), "ok\n");
    }

    #[tokio::test]
    async fn cancellation_stops_the_group() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let pid_file = directory.path().join("pid");
        let script = format!("echo started; sleep 1000 & echo $! > '{}'; sleep 1000", pid_file.display());
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            trigger.cancel();
        });
        let limits = limits_for(Duration::from_secs(30));
        let outcome = run_child(&shell(&script), &limits, &cancel).await.expect("child ran");
        assert_eq!(outcome.end, ChildEnd::Cancelled);
        assert!(outcome.duration < Duration::from_secs(2), "{:?}", outcome.duration);
        assert_eq!(outcome.output.to_text(), "started\n");
        assert!(process_is_gone(read_process_id(&pid_file)));
    }

    #[tokio::test]
    async fn dropping_the_future_kills_the_group() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let pid_file = directory.path().join("pid");
        let script = format!("sleep 1000 & echo $! > '{}'; sleep 1000", pid_file.display());
        let limits = limits_for(Duration::from_secs(30));
        let cancel = CancellationToken::new();
        let spec = shell(&script);
        let running = run_child(&spec, &limits, &cancel);
        let abandoned = tokio::time::timeout(Duration::from_millis(300), running).await;
        assert!(abandoned.is_err(), "the run should still have been going");
        let process_id = read_process_id(&pid_file);
        let give_up_at = Instant::now() + Duration::from_secs(1);
        while !process_is_gone(process_id) && Instant::now() < give_up_at {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(process_is_gone(process_id));
    }

    #[tokio::test]
    async fn already_cancelled_token_stops_at_once() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let limits = limits_for(Duration::from_secs(30));
        let outcome = run_child(&shell("sleep 30"), &limits, &cancel).await.expect("child ran");
        assert_eq!(outcome.end, ChildEnd::Cancelled);
        assert!(outcome.duration < Duration::from_secs(2), "{:?}", outcome.duration);
    }

    #[tokio::test]
    async fn missing_program_is_not_found() {
        let spec = ChildSpec::new("/nonexistent/endpoint-agent-missing-tool");
        let result = run_child(&spec, &limits_for(Duration::from_secs(5)), &CancellationToken::new()).await;
        let error = result.expect_err("missing program must fail");
        assert!(matches!(error, SpawnError::NotFound { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("not found"), "{message}");
        assert!(message.contains("/nonexistent/endpoint-agent-missing-tool"), "{message}");
        assert!(std::error::Error::source(&error).is_some());
    }

    #[tokio::test]
    async fn non_executable_program_is_permission_denied() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let program = directory.path().join("script");
        std::fs::write(&program, "#!/bin/sh\necho hi\n").expect("write script");
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let result =
            run_child(&ChildSpec::new(&program), &limits_for(Duration::from_secs(5)), &CancellationToken::new()).await;
        let error = result.expect_err("non-executable program must fail");
        assert!(matches!(error, SpawnError::PermissionDenied { .. }), "{error:?}");
        assert!(error.to_string().contains(&program.display().to_string()));
    }

    #[tokio::test]
    async fn missing_working_directory_is_reported_as_such() {
        let mut spec = shell("true");
        spec.current_dir = Some(PathBuf::from("/nonexistent/endpoint-agent-directory"));
        let result = run_child(&spec, &limits_for(Duration::from_secs(5)), &CancellationToken::new()).await;
        let error = result.expect_err("missing working directory must fail");
        assert!(matches!(error, SpawnError::WorkingDirectory { .. }), "{error:?}");
        assert!(error.to_string().contains("/nonexistent/endpoint-agent-directory"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn stat_line_with_parentheses_in_the_name_is_parsed() {
        let line = b"4242 (we ird) (name)) S 1 777 777 0 -1 4194560 0 0";
        let stat = proc_scan::parse_stat(line).expect("parsable");
        assert_eq!(stat, proc_scan::ProcessStat { state: b'S', group: 777 });
        assert!(proc_scan::parse_stat(b"4242 (broken").is_none());
        assert!(proc_scan::parse_stat(b"4242 (x) Z").is_none());
        assert!(!proc_scan::is_live_state(b'Z'));
        assert!(proc_scan::is_live_state(b'S'));
    }
}
