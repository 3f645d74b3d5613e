//! Supervising a started program: reading its output until it exits, its
//! deadline passes or it is cancelled, then stopping what is left of its process
//! group (`SIGTERM`, a grace period, `SIGKILL`) while the output keeps being read.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::net::unix::pipe;
use tokio::process::Child;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::capture::{CapturedOutput, OutputReader};
use super::group::ProcessGroup;
use super::{ChildEnd, Limits, WATCH_AFTER, deadline_after, escapees};

/// How long the end of output is awaited after the program itself has exited.
const PIPE_END_WAIT: Duration = Duration::from_millis(100);

/// How often the process table is walked for a running program's descendants that
/// left its group, where orphans cannot be adopted (macOS): the first look once it
/// has run for [`WATCH_AFTER`], then at this interval. A walk costs a few
/// milliseconds, so a long install pays well under 1%.
const LOOK_INTERVAL: Duration = Duration::from_secs(1);

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

/// What ended the first phase of supervision.
pub(super) enum Watched {
    /// The program exited by itself with this status.
    Exited(ExitStatus),
    /// The deadline passed or the run was cancelled; the program may still run.
    Interrupted(ChildEnd),
    /// Waiting for the program failed.
    WaitFailed(io::Error),
}

/// The running program, its process group and its output.
pub(super) struct Supervision {
    pub(super) leader: Leader,
    pub(super) group: ProcessGroup,
    pub(super) output: OutputReader,
    /// Its descendants seen outside its group (macOS).
    pub(super) sightings: escapees::Sightings,
}

impl Supervision {
    /// Supervision of a freshly spawned `child` whose output arrives through `receiver`.
    pub(super) fn new(mut child: Child, receiver: pipe::Receiver, limits: &Limits) -> io::Result<Self> {
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
    pub(super) async fn watch(&mut self, limits: &Limits, cancel: &CancellationToken) -> Watched {
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
    pub(super) async fn stop_strays(&mut self, grace: Duration) -> bool {
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
    pub(super) async fn stop_group(&mut self, grace: Duration) {
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
pub(super) struct Leader {
    child: Child,
    /// Its exit status, once collected.
    pub(super) status: Option<ExitStatus>,
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
