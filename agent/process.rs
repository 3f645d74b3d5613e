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
//! The output capture lives in `capture`, the process group and its liveness
//! check in `group`; `escapees` finds and stops descendants that left the group;
//! `watch` lets a check-in record each group while it runs, so the next agent can
//! stop it after a `kill -9` ([`crate::orphans`]); `environment` keeps the agent's
//! secrets out of every child's environment.

use std::ffi::OsString;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::net::unix::pipe;
use tokio::process::{Child, Command};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

mod capture;
mod environment;
mod escapees;
mod group;
#[cfg(target_os = "linux")]
pub(crate) use group::proc_scan::start_ticks;
mod watch;

pub use capture::CapturedOutput;
use capture::OutputReader;
#[cfg(test)]
pub(crate) use environment::SECRET_VARIABLES;
pub use escapees::adopt_orphans;
use group::ProcessGroup;
#[cfg(test)]
pub(crate) use group::group_is_alive;
pub(crate) use group::{GroupStop, stop_group_left_behind};
pub(crate) use watch::{GroupWatcher, watching};

/// Number of bytes kept from the start of the output unless configured otherwise.
pub const DEFAULT_CAPTURE_HEAD: usize = 64 * 1024;

/// Number of bytes kept from the end of the output unless configured otherwise.
pub const DEFAULT_CAPTURE_TAIL: usize = 64 * 1024;

/// How long the end of output is awaited after the program itself has exited.
const PIPE_END_WAIT: Duration = Duration::from_millis(100);

/// How long a program runs before the watcher set for its task hears of its group
/// ([`GroupWatcher`]): a check-in records the group in the state store, a commit
/// that a program ending sooner (most audits) does not need. It is heard of at
/// once when it is to be stopped.
const WATCH_AFTER: Duration = Duration::from_millis(20);

/// How often the process table is walked for a running program's descendants that
/// left its group, where orphans cannot be adopted (macOS): the first look once it
/// has run for [`WATCH_AFTER`], then at this interval. A walk costs a few
/// milliseconds, so a long install pays well under 1%.
const LOOK_INTERVAL: Duration = Duration::from_secs(1);

/// How long output still buffered in the pipe is read after the group is gone.
const DRAIN_WAIT: Duration = Duration::from_millis(100);

/// How often the process group is checked while waiting for it to end.
const GROUP_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How long the group is watched after `SIGKILL` before giving up on it.
const KILL_CONFIRMATION_WAIT: Duration = Duration::from_secs(1);

/// How often the process group is checked after `SIGKILL`.
const KILL_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Size of the buffer each read from the output pipe goes through, one per
/// program. Kept under 64 KiB: freeing a block that large makes the C allocator
/// sweep its free lists, a cost every short program would pay once.
const READ_CHUNK_SIZE: usize = 16 * 1024;

/// What to run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChildSpec {
    /// Program to execute; a bare name is looked up in `PATH`.
    pub program: PathBuf,
    /// Arguments passed to the program, without the program name itself.
    pub args: Vec<OsString>,
    /// Working directory of the program; the agent's own when `None`.
    pub current_dir: Option<PathBuf>,
    /// Variables added to (or overriding) the inherited environment, which never
    /// holds the agent's secrets (see `environment`).
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

/// How far off a deadline lies when `start + duration` would overflow the clock:
/// thirty years, as tokio's own "far future".
const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);

/// `start + duration`, or [`FAR_FUTURE`] from `start` when the sum would overflow
/// the clock. Configured durations are bounded to ten years, so this never bites;
/// it keeps a deadline from ever being the thing that panics.
pub fn deadline_after(start: Instant, duration: Duration) -> Instant {
    start.checked_add(duration).or_else(|| start.checked_add(FAR_FUTURE)).unwrap_or(start)
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
    /// had to be stopped, or descendants that left its group were stopped.
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
    let _leader = escapees::register_leader(supervision.group.id);
    debug!(program = %spec.program.display(), group = supervision.group.id.as_raw(), "child started");
    // The watcher hears of the group once it has run for `WATCH_AFTER`, or when it
    // is to be stopped, and that it ended when this returns or its future is
    // dropped (the group is stopped either way).
    let group = supervision.group.id;
    let mut watched = None;
    let first_end = {
        let watch = supervision.watch(limits, cancel);
        tokio::pin!(watch);
        tokio::select! {
            biased;
            first_end = &mut watch => first_end,
            () = tokio::time::sleep(WATCH_AFTER) => {
                watched = Some(watch::Watched::started(group, &spec.program));
                watch.await
            }
        }
    };
    if watched.is_none() && !matches!(first_end, Watched::Exited(_)) {
        watched = Some(watch::Watched::started(group, &spec.program));
    }
    let _watched = watched;
    let (end, stray_processes_stopped) = match first_end {
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
    let escaped = escapees::stop_escapees(&mut supervision.sightings, &spec.program, limits.grace).await;
    let stray_processes_stopped = stray_processes_stopped || escaped > 0;
    supervision.output.drain(DRAIN_WAIT).await;
    supervision.group.settled = true;
    let duration = started.elapsed();
    debug!(program = %spec.program.display(), ?end, ?duration, stray_processes_stopped, "child finished");
    Ok(ChildOutcome { end, output: supervision.output.captured, duration, stray_processes_stopped })
}

/// Starts the program as leader of a new process group, without the agent's
/// secrets in its environment, with stdin from `/dev/null` and stdout and stderr both writing into one new pipe whose
/// reading end is returned.
fn spawn_in_own_group(spec: &ChildSpec) -> Result<(Child, pipe::Receiver), SpawnError> {
    let start_error = |source| SpawnError::from_start(spec, source);
    let (sender, receiver) = pipe::pipe().map_err(start_error)?;
    let stdout = sender.into_blocking_fd().map_err(start_error)?;
    let stderr = stdout.try_clone().map_err(start_error)?;
    let mut command = Command::new(&spec.program);
    for name in environment::withheld_variables() {
        command.env_remove(name);
    }
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
    /// Its descendants seen outside its group (macOS).
    sightings: escapees::Sightings,
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
            sightings: escapees::Sightings::new(Pid::from_raw(process_id)),
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
        let looking = escapees::looks_while_running();
        let mut looks = tokio::time::interval_at(Instant::now() + WATCH_AFTER, LOOK_INTERVAL);
        looks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
                _ = looks.tick(), if looking => self.sightings.look(),
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
        let give_up_at = deadline_after(Instant::now(), limit);
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

#[cfg(test)]
mod tests;
