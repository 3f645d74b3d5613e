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
//! macOS has no subreaper (launchd adopts orphans), so while an item's program runs
//! the process table is walked now and then ([`Sightings::look`]) and its
//! descendants outside its group are noted; those still alive (same start time)
//! when it ends are stopped. One that leaves and loses its parent between two looks
//! escapes (see the README, "Processes").

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// Whether this process looks for escapees ([`adopt_orphans`] was called, and on
/// Linux succeeded).
static ADOPTING: AtomicBool = AtomicBool::new(false);

/// The program leaders the agent started and has not yet finished supervising:
/// children of the agent that are not escapees.
static LEADERS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Lets [`run_child`](super::run_child) find the descendants that leave an item's
/// group: on Linux it makes the agent the reaper of its orphaned descendants, on
/// macOS it turns on the walks of the process table while a program runs. Called
/// once by the commands that run items (not by unit tests, whose own children are
/// not all the agent's); a failure is logged and the agent carries on as before.
pub fn adopt_orphans() {
    #[cfg(not(target_os = "linux"))]
    ADOPTING.store(true, Ordering::Relaxed);
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
pub(super) async fn stop_escapees(sightings: &mut Sightings, program: &Path, grace: Duration) -> usize {
    if !ADOPTING.load(Ordering::Relaxed) {
        return 0;
    }
    let mut stopped = 0;
    // Stopping an escapee orphans its own children that left its group in turn; they
    // are adopted then, and found by the next round.
    for _ in 0..ROUNDS {
        let escapees = platform::escapees(sightings);
        if escapees.is_empty() {
            break;
        }
        for escapee in &escapees {
            stop(escapee, grace, platform::has_ended).await;
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

pub(super) use platform::Sightings;

/// Whether the process table is walked while a program runs ([`Sightings::look`]):
/// on macOS, once [`adopt_orphans`] was called.
pub(super) fn looks_while_running() -> bool {
    cfg!(not(target_os = "linux")) && ADOPTING.load(Ordering::Relaxed)
}

/// How many times the agent's children are looked at again after escapees were
/// stopped: an escapee's escapee is found in the second round, and a chain deeper
/// than this is left to the next item's end.
const ROUNDS: usize = 4;

/// A process that left an item's group.
#[derive(Debug)]
pub(super) struct Escapee {
    pid: i32,
    /// Its command name as the system shows it.
    name: String,
    /// Whether it leads its own process group (after `setsid` or `setpgid`), which
    /// is then stopped with it.
    leads_group: bool,
}

/// How often a stopped escapee is checked while it is given time to end.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// How long an escapee is watched after `SIGKILL`.
const KILL_WAIT: Duration = Duration::from_secs(1);

/// `SIGTERM` (and `SIGCONT`) to the escapee and the group it leads, up to `grace`
/// for it to end (as the platform's `has_ended` tells), then `SIGKILL`.
async fn stop(escapee: &Escapee, grace: Duration, has_ended: fn(i32) -> bool) {
    send(escapee, Signal::SIGTERM);
    send(escapee, Signal::SIGCONT);
    if ended_within(escapee.pid, grace, has_ended).await {
        return;
    }
    send(escapee, Signal::SIGKILL);
    if !ended_within(escapee.pid, KILL_WAIT, has_ended).await {
        tracing::warn!(pid = escapee.pid, "a process that left the item's group is still alive after SIGKILL");
    }
}

/// `signal` to the escapee, and to the group it leads if it leads one.
fn send(escapee: &Escapee, signal: Signal) {
    let pid = Pid::from_raw(escapee.pid);
    if escapee.leads_group {
        let _ = killpg(pid, signal);
    }
    let _ = kill(pid, signal);
}

/// Polls for at most `limit` until `has_ended(pid)`.
async fn ended_within(pid: i32, limit: Duration, has_ended: fn(i32) -> bool) -> bool {
    let give_up_at = tokio::time::Instant::now() + limit;
    loop {
        if has_ended(pid) {
            return true;
        }
        if tokio::time::Instant::now() >= give_up_at {
            return false;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[cfg(target_os = "linux")]
mod platform {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    use nix::unistd::Pid;

    use super::super::group::proc_scan::{is_live_state, read_stat};
    use super::{Escapee, leaders};

    /// Nothing to note on Linux: orphans are adopted instead.
    pub(in crate::process) struct Sightings;

    impl Sightings {
        /// Nothing noted yet.
        pub(in crate::process) fn new(_leader: Pid) -> Self {
            Self
        }

        /// Never called on Linux.
        pub(in crate::process) fn look(&mut self) {}
    }

    /// The agent's live children it did not start; zombies among them are reaped
    /// on the way.
    pub(super) fn escapees(_sightings: &mut Sightings) -> Vec<Escapee> {
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

    /// Whether the escapee `pid` (a child of the agent's, once adopted) has exited;
    /// reaps it if so.
    pub(super) fn has_ended(pid: i32) -> bool {
        !matches!(waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)), Ok(WaitStatus::StillAlive))
    }
}

#[cfg(not(target_os = "linux"))]
use table_walk as platform;

/// Finding escapees by walking the process table while the program runs (macOS;
/// built on Linux too, for its tests).
#[cfg(any(not(target_os = "linux"), test))]
mod table_walk {
    use std::collections::HashMap;

    use nix::errno::Errno;
    use nix::sys::signal::kill;
    use nix::unistd::{Pid, getpgid};
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};

    use super::Escapee;

    /// The descendants of one leader seen outside its group while it ran.
    pub(in crate::process) struct Sightings {
        leader: Pid,
        seen: Vec<Sighting>,
        system: Option<System>,
    }

    struct Sighting {
        pid: sysinfo::Pid,
        /// Start time, in seconds since the Unix epoch: a reused pid is not it.
        started: u64,
        name: String,
    }

    impl Sightings {
        /// Nothing noted yet.
        pub(in crate::process) fn new(leader: Pid) -> Self {
            Self { leader, seen: Vec::new(), system: None }
        }

        /// Walks the process table from the leader down by parent pid and notes
        /// each descendant not in the leader's group.
        pub(in crate::process) fn look(&mut self) {
            let system = self.system.get_or_insert_with(System::new);
            let refresh = ProcessRefreshKind::nothing().without_tasks();
            system.refresh_processes_specifics(ProcessesToUpdate::All, true, refresh);
            let mut children: HashMap<sysinfo::Pid, Vec<sysinfo::Pid>> = HashMap::new();
            for (pid, process) in system.processes() {
                if let Some(parent) = process.parent() {
                    children.entry(parent).or_default().push(*pid);
                }
            }
            let Ok(leader) = u32::try_from(self.leader.as_raw()) else { return };
            let mut family = vec![sysinfo::Pid::from_u32(leader)];
            while let Some(pid) = family.pop() {
                for child in children.get(&pid).into_iter().flatten() {
                    family.push(*child);
                    let Some(process) = system.process(*child) else { continue };
                    let in_group = getpgid(Some(Pid::from_raw(child.as_u32() as i32))) == Ok(self.leader);
                    if !in_group && !self.seen.iter().any(|seen| seen.pid == *child) {
                        let name = process.name().to_string_lossy().into_owned();
                        self.seen.push(Sighting { pid: *child, started: process.start_time(), name });
                    }
                }
            }
        }
    }

    /// The noted descendants still alive with the start time they were seen with.
    pub(super) fn escapees(sightings: &mut Sightings) -> Vec<Escapee> {
        let seen = std::mem::take(&mut sightings.seen);
        if seen.is_empty() {
            return Vec::new();
        }
        let pids: Vec<sysinfo::Pid> = seen.iter().map(|sighting| sighting.pid).collect();
        let mut system = System::new();
        let refresh = ProcessRefreshKind::nothing().without_tasks();
        system.refresh_processes_specifics(ProcessesToUpdate::Some(&pids), true, refresh);
        seen.into_iter()
            .filter(|sighting| system.process(sighting.pid).is_some_and(|now| now.start_time() == sighting.started))
            .filter_map(|sighting| {
                let pid = i32::try_from(sighting.pid.as_u32()).ok()?;
                let leads_group = getpgid(Some(Pid::from_raw(pid))) == Ok(Pid::from_raw(pid));
                Some(Escapee { pid, name: sighting.name, leads_group })
            })
            .collect()
    }

    /// Whether no process has the escapee's pid any more (launchd reaps it).
    pub(super) fn has_ended(pid: i32) -> bool {
        kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::time::Duration;

    use nix::unistd::Pid;

    use super::stop;
    use super::table_walk::{Sightings, escapees, has_ended};

    #[tokio::test]
    async fn a_walk_of_the_process_table_finds_a_descendant_that_left_the_group() {
        let mut leader = std::process::Command::new("sh")
            .args(["-c", "setsid sleep 30 & echo $!; wait"])
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(leader.stdout.take().unwrap()), &mut line).unwrap();
        let escapee: i32 = line.trim().parse().unwrap();
        // setsid runs in the background job; wait until it is in its own session
        // and has become `sleep` (setsid makes the session before it starts it).
        let name = format!("/proc/{escapee}/comm");
        for _ in 0..3000 {
            let own_session = nix::unistd::getsid(Some(Pid::from_raw(escapee))) == Ok(Pid::from_raw(escapee));
            if own_session && std::fs::read_to_string(&name).is_ok_and(|comm| comm.trim() == "sleep") {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let leader_pid = Pid::from_raw(i32::try_from(leader.id()).unwrap());
        let mut sightings = Sightings::new(leader_pid);
        sightings.look();
        let found = escapees(&mut sightings);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].pid, escapee);
        assert_eq!(found[0].name, "sleep");
        assert!(found[0].leads_group);
        stop(&found[0], Duration::from_secs(1), has_ended).await;
        assert!(leader.wait().unwrap().success(), "the leader saw its child end");
    }
}
