//! Processes that left an item's process group (`setsid`, `setpgid`) and outlived it.
//!
//! Stopping the group cannot reach them. On Linux the agent makes itself a child
//! subreaper ([`adopt_orphans`]): a descendant whose parent dies is re-parented to
//! the agent rather than to init, so once an item's group is gone, every descendant
//! of it still alive is either in another item's care or a child of the agent that
//! the agent never started. Reading the agent's own children
//! (`/proc/self/task/*/children`, a few short files) is the cheap trigger: only when
//! such an adopted child exists is anything stopped. Adopted children that already
//! exited are reaped here, since the async runtime only reaps the children it started.
//!
//! Elsewhere (macOS) nothing is adopted and nothing is found here: a process that
//! left the group escapes (see the README, "Processes").

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::unistd::Pid;

/// Whether this process adopts orphaned descendants ([`adopt_orphans`] succeeded).
static ADOPTING: AtomicBool = AtomicBool::new(false);

/// The program leaders the agent started and has not yet finished supervising:
/// children of the agent that are not escapees.
static LEADERS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Makes the agent the reaper of its orphaned descendants (Linux), so that a
/// process that left an item's group can still be found and stopped when the item
/// ends. Called once by the commands that run items; a failure is logged and the
/// agent carries on as before.
pub fn adopt_orphans() {
    #[cfg(target_os = "linux")]
    match nix::sys::prctl::set_child_subreaper(true) {
        Ok(()) => ADOPTING.store(true, Ordering::Relaxed),
        Err(error) => {
            tracing::warn!(%error, "cannot adopt orphaned processes; one that leaves its item's group may outlive it")
        }
    }
}

/// Marks `leader` as a program the agent started itself until the guard drops.
pub(super) fn register_leader(leader: Pid) -> LeaderRegistration {
    leaders().insert(leader.as_raw());
    LeaderRegistration(leader.as_raw())
}

/// Keeps a leader in the list of the agent's own children while it lives.
pub(super) struct LeaderRegistration(i32);

impl Drop for LeaderRegistration {
    fn drop(&mut self) {
        leaders().remove(&self.0);
    }
}

fn leaders() -> std::sync::MutexGuard<'static, BTreeSet<i32>> {
    LEADERS.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// After an item's group is gone: stops each process the agent adopted
/// (`SIGTERM` to it and the group it leads, `grace`, then `SIGKILL`), logs each,
/// and reaps adopted zombies. Returns how many were stopped.
///
/// Check-ins run one at a time, so what was adopted while this item ran came from
/// it; an escapee of a program started by another task at the same time (the
/// daemon's doctor, say) would be stopped here too, as it escaped all the same.
pub(super) async fn stop_escapees(program: &Path, grace: Duration) -> usize {
    if !ADOPTING.load(Ordering::Relaxed) {
        return 0;
    }
    let mut stopped = 0;
    // Stopping an escapee orphans its own children that left its group in turn; they
    // are adopted then, and found by the next round.
    for _ in 0..ROUNDS {
        let escapees = platform::adopted_children();
        if escapees.is_empty() {
            break;
        }
        for escapee in &escapees {
            platform::stop(escapee, grace).await;
            tracing::warn!(
                pid = escapee.pid,
                name = %escapee.name,
                program = %program.display(),
                "Stopped a process that left the item's group."
            );
        }
        stopped += escapees.len();
    }
    stopped
}

/// How many times the agent's children are looked at again after escapees were
/// stopped: an escapee's escapee is found in the second round, and a chain deeper
/// than this is left to the next item's end.
const ROUNDS: usize = 4;

/// A process that left an item's group.
#[derive(Debug)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(super) struct Escapee {
    pid: i32,
    /// Its command name as the system shows it.
    name: String,
    /// Whether it leads its own process group (after `setsid` or `setpgid`), which
    /// is then stopped with it.
    leads_group: bool,
}

#[cfg(target_os = "linux")]
mod platform {
    use std::time::Duration;

    use nix::sys::signal::{Signal, kill, killpg};
    use nix::sys::wait::{WaitPidFlag, waitpid};
    use nix::unistd::Pid;

    use super::super::group::proc_scan::{is_live_state, read_stat};
    use super::{Escapee, leaders};

    /// How often a stopped escapee is checked while it is given time to end.
    const POLL_INTERVAL: Duration = Duration::from_millis(20);

    /// How long an escapee is watched after `SIGKILL`.
    const KILL_WAIT: Duration = Duration::from_secs(1);

    /// The agent's live children it did not start; zombies among them are reaped
    /// on the way.
    pub(super) fn adopted_children() -> Vec<Escapee> {
        let mut escapees = Vec::new();
        for pid in children_of_self() {
            if leaders().contains(&pid) {
                continue;
            }
            let directory = std::path::PathBuf::from(format!("/proc/{pid}"));
            let Some(stat) = read_stat(&directory) else { continue };
            if !is_live_state(stat.state) {
                let _ = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG));
                continue;
            }
            let name = std::fs::read_to_string(directory.join("comm")).unwrap_or_default().trim().to_owned();
            escapees.push(Escapee { pid, name, leads_group: stat.group == pid });
        }
        escapees
    }

    /// The pids of this process's children, from every thread's `children` list.
    fn children_of_self() -> Vec<i32> {
        let Ok(threads) = std::fs::read_dir("/proc/self/task") else { return Vec::new() };
        let mut children = Vec::new();
        for thread in threads.flatten() {
            let listed = std::fs::read_to_string(thread.path().join("children")).unwrap_or_default();
            children.extend(listed.split_ascii_whitespace().filter_map(|pid| pid.parse::<i32>().ok()));
        }
        children
    }

    /// `SIGTERM` (and `SIGCONT`) to the escapee and the group it leads, up to
    /// `grace` for it to end, then `SIGKILL`; reaps it.
    pub(super) async fn stop(escapee: &Escapee, grace: Duration) {
        send(escapee, Signal::SIGTERM);
        send(escapee, Signal::SIGCONT);
        if reaped_within(escapee.pid, grace).await {
            return;
        }
        send(escapee, Signal::SIGKILL);
        if !reaped_within(escapee.pid, KILL_WAIT).await {
            tracing::warn!(pid = escapee.pid, "a process that left the item's group is still alive after SIGKILL");
        }
    }

    fn send(escapee: &Escapee, signal: Signal) {
        let pid = Pid::from_raw(escapee.pid);
        if escapee.leads_group {
            let _ = killpg(pid, signal);
        }
        let _ = kill(pid, signal);
    }

    /// Polls for at most `limit` until the escapee has exited and been reaped.
    async fn reaped_within(pid: i32, limit: Duration) -> bool {
        let give_up_at = tokio::time::Instant::now() + limit;
        loop {
            match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
                Ok(nix::sys::wait::WaitStatus::StillAlive) => {}
                _ => return true,
            }
            if tokio::time::Instant::now() >= give_up_at {
                return false;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod platform {
    use std::time::Duration;

    use super::Escapee;

    /// Nothing is adopted here.
    pub(super) fn adopted_children() -> Vec<Escapee> {
        Vec::new()
    }

    /// Never called: nothing is adopted here.
    pub(super) async fn stop(_escapee: &Escapee, _grace: Duration) {}
}
