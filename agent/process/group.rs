//! A child's process group: signalling it, and telling whether it still has live
//! members.
//!
//! On Linux liveness comes from `/proc`, ignoring zombies, because an orphaned
//! zombie keeps `killpg(group, 0)` succeeding wherever the init process does not
//! reap orphans (as in some containers). Elsewhere (macOS, where launchd reaps
//! orphans) the signal probe is enough.

use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tracing::warn;

/// The child's process group. Until it is marked settled, dropping it (for
/// example when the future of [`run_child`] is dropped) kills the whole group.
pub(super) struct ProcessGroup {
    pub(super) id: Pid,
    pub(super) settled: bool,
}

impl ProcessGroup {
    /// Sends `signal` to every process in the group.
    pub(super) fn signal(&self, signal: Signal) {
        match killpg(self.id, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(error) => {
                warn!(group = self.id.as_raw(), %signal, %error, "could not signal process group");
            }
        }
    }

    /// Whether any process of the group is still alive.
    pub(super) fn is_alive(&self) -> bool {
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

/// What [`stop_group_left_behind`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupStop {
    /// No live process was left in the group.
    AlreadyGone,
    /// The group ended within the grace after SIGTERM.
    Terminated,
    /// The group had to be sent SIGKILL.
    Killed,
    /// Processes of the group were still alive after SIGKILL.
    Survived,
}

/// Stops a process group the agent no longer supervises (its supervisor died):
/// SIGTERM (and SIGCONT, so stopped processes act on it), up to `grace` for it to
/// end, then SIGKILL. Nobody here can reap its members, so a zombie counts as gone.
pub(crate) async fn stop_group_left_behind(group: Pid, grace: Duration) -> GroupStop {
    if !group_is_alive(group) {
        return GroupStop::AlreadyGone;
    }
    let left_behind = ProcessGroup { id: group, settled: true };
    left_behind.signal(Signal::SIGTERM);
    left_behind.signal(Signal::SIGCONT);
    if gone_within(group, grace).await {
        return GroupStop::Terminated;
    }
    left_behind.signal(Signal::SIGKILL);
    if gone_within(group, KILLED_GROUP_WAIT).await { GroupStop::Killed } else { GroupStop::Survived }
}

/// How long a group gets to disappear after SIGKILL.
const KILLED_GROUP_WAIT: Duration = Duration::from_secs(1);

/// Polls until no live process is left in `group`, for at most `limit`.
async fn gone_within(group: Pid, limit: Duration) -> bool {
    let give_up_at = tokio::time::Instant::now() + limit;
    loop {
        if !group_is_alive(group) {
            return true;
        }
        if tokio::time::Instant::now() >= give_up_at {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether any process of `group` is alive (zombies do not count).
pub(crate) fn group_is_alive(group: Pid) -> bool {
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
            tracing::debug!(%error, "cannot scan /proc; trusting the signal probe");
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
pub(in crate::process) mod proc_scan {
    use std::io;
    use std::path::Path;

    /// Whether some process in `/proc` belongs to `group` and is not a zombie.
    pub(in crate::process) fn group_has_live_member(group: i32) -> io::Result<bool> {
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

    /// The fields of `/proc/<pid>/stat` the agent reads.
    #[derive(Debug, PartialEq, Eq)]
    pub(in crate::process) struct ProcessStat {
        /// One-letter scheduler state (`R`, `S`, `Z`, ...).
        pub(in crate::process) state: u8,
        /// Process group id.
        pub(in crate::process) group: i32,
        /// When the process started, in clock ticks after boot (field 22); `None`
        /// in a line cut short before it.
        pub(in crate::process) start_ticks: Option<u64>,
    }

    /// When process `pid` started, in clock ticks after boot; `None` when there
    /// is no such process.
    pub(crate) fn start_ticks(pid: i32) -> Option<u64> {
        read_stat(Path::new(&format!("/proc/{pid}")))?.start_ticks
    }

    /// Reads and parses `<process_directory>/stat`.
    pub(in crate::process) fn read_stat(process_directory: &Path) -> Option<ProcessStat> {
        let contents = std::fs::read(process_directory.join("stat")).ok()?;
        parse_stat(&contents)
    }

    /// Parses a stat line: `pid (comm) state ppid pgrp ...`. The command name
    /// may itself contain spaces and parentheses, so fields are counted from
    /// the last `)`.
    pub(in crate::process) fn parse_stat(contents: &[u8]) -> Option<ProcessStat> {
        let name_end = contents.iter().rposition(|&byte| byte == b')')?;
        let rest = std::str::from_utf8(contents.get(name_end + 1..)?).ok()?;
        let mut fields = rest.split_ascii_whitespace();
        let state = *fields.next()?.as_bytes().first()?;
        let _parent = fields.next()?;
        let group = fields.next()?.parse().ok()?;
        // Field 22, the 17th after the group.
        let start_ticks = fields.nth(16).and_then(|ticks| ticks.parse().ok());
        Some(ProcessStat { state, group, start_ticks })
    }

    /// Whether a process in `state` still runs code (is not zombie or dead).
    pub(in crate::process) fn is_live_state(state: u8) -> bool {
        !matches!(state, b'Z' | b'X' | b'x')
    }
}
