//! Processes a hard stop of the agent left behind.
//!
//! Every program an item runs has its own process group, which the agent stops
//! when the item ends, times out or is cancelled. A `kill -9` of the agent (or a
//! crash) skips all of that: the group keeps running, adopted by launchd. So while
//! an item's program runs, the check-in keeps its group in the state store (the
//! leader's pid and start time, recorded by `checkin`'s run writer) from its first
//! 20 ms on, or from when it is to be stopped (a program over sooner is not worth
//! a commit), and the next agent, when it closes the run left without an end,
//! stops that group: SIGTERM, the grace, SIGKILL ([`stop_left_behind`]). It does
//! so only when the leader still exists with the recorded start time
//! ([`process_start_time`]): a pid the system has since given to another process
//! is never signalled.

use std::time::Duration;

use nix::unistd::Pid;
use sysinfo::System;
#[cfg(not(target_os = "linux"))]
use sysinfo::{ProcessRefreshKind, ProcessesToUpdate};

use crate::process::{GroupStop, stop_group_left_behind};
use crate::state::{RecordedGroup, Store};

/// When `pid` started, in seconds since the Unix epoch; `None` when no such
/// process exists.
///
/// On Linux, read straight from `/proc/PID/stat` (sysinfo lists all of `/proc`
/// to refresh one process, for every program every item starts), in the units
/// sysinfo gives: boot time plus the start's clock ticks, in whole seconds. On
/// macOS sysinfo asks the kernel for the one process.
#[cfg(target_os = "linux")]
pub(crate) fn process_start_time(pid: Pid) -> Option<u64> {
    static BOOT_TIME: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static TICKS_PER_SECOND: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let ticks = crate::process::start_ticks(pid.as_raw())?;
    let boot_time = *BOOT_TIME.get_or_init(System::boot_time);
    let per_second = *TICKS_PER_SECOND.get_or_init(|| {
        let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten();
        ticks.and_then(|ticks| u64::try_from(ticks).ok()).filter(|ticks| *ticks > 0).unwrap_or(100)
    });
    Some(boot_time + ticks / per_second)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn process_start_time(pid: Pid) -> Option<u64> {
    let pid = sysinfo::Pid::from_u32(u32::try_from(pid.as_raw()).ok()?);
    let mut system = System::new();
    let refresh = ProcessRefreshKind::nothing().without_tasks();
    system.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), true, refresh);
    system.process(pid).map(sysinfo::Process::start_time)
}

/// Stops every process group an agent that is gone recorded, then forgets them.
/// Call while holding the check-in lock, so no live check-in has a group here.
pub(crate) async fn stop_left_behind(store: &Store, grace: Duration) {
    let recorded = match store.recorded_process_groups() {
        Ok(recorded) => recorded,
        Err(error) => {
            tracing::error!(error = %error, "Cannot read the process groups an interrupted check-in left.");
            return;
        }
    };
    for group in recorded {
        stop_one(&group, grace).await;
        if let Err(error) = store.forget_process_group(group.process_group) {
            tracing::warn!(process_group = group.process_group, error = %error, "Cannot forget a stopped process group.");
        }
    }
}

/// Stops one recorded group if its leader is still the process the item started.
async fn stop_one(group: &RecordedGroup, grace: Duration) {
    let leader = Pid::from_raw(group.process_group);
    let (process_group, run_id, program) = (group.process_group, &group.run_id, &group.program);
    match process_start_time(leader) {
        Some(started_at) if started_at == group.leader_started_at => {}
        Some(_) => {
            tracing::info!(process_group, run_id = %run_id, program = %program, "The pid of an interrupted item's program now belongs to another process; left alone.");
            return;
        }
        None => {
            tracing::debug!(process_group, run_id = %run_id, "The interrupted item's program is gone.");
            return;
        }
    }
    match stop_group_left_behind(leader, grace).await {
        GroupStop::AlreadyGone => {
            tracing::debug!(process_group, run_id = %run_id, "Nothing of the interrupted item's process group is left.")
        }
        GroupStop::Terminated => tracing::warn!(
            process_group, run_id = %run_id, program = %program, signal = "SIGTERM",
            "Stopped the processes an interrupted item left running."
        ),
        GroupStop::Killed => tracing::warn!(
            process_group, run_id = %run_id, program = %program, signal = "SIGKILL",
            "Stopped the processes an interrupted item left running."
        ),
        GroupStop::Survived => tracing::error!(
            process_group, run_id = %run_id, program = %program,
            "Processes an interrupted item left running survived SIGKILL."
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command};

    use chrono::Utc;

    use super::*;

    /// A real `sleep` leading its own process group, as an item's program does.
    fn group_leader() -> (Child, Pid) {
        let child = Command::new("sleep").arg("30").process_group(0).spawn().unwrap();
        let pid = Pid::from_raw(child.id() as i32);
        (child, pid)
    }

    fn alive(pid: Pid) -> bool {
        crate::process::group_is_alive(pid)
    }

    #[tokio::test]
    async fn a_recorded_group_is_stopped_and_forgotten_but_a_reused_pid_is_left_alone() {
        let (_folder, store) = Store::scratch();
        let (mut reused, reused_pid) = group_leader();
        let (mut orphan, orphan_pid) = group_leader();
        let record = |pid: Pid, leader_started_at: u64| RecordedGroup {
            process_group: pid.as_raw(),
            run_id: "run-1".into(),
            leader_started_at,
            program: "sleep".into(),
        };
        let started_at = process_start_time(reused_pid).unwrap();
        let now = Utc::now();
        store.record_process_group(&record(reused_pid, started_at - 60), now).unwrap();
        store.record_process_group(&record(orphan_pid, process_start_time(orphan_pid).unwrap()), now).unwrap();

        stop_left_behind(&store, Duration::from_secs(1)).await;
        assert!(!alive(orphan_pid), "the recorded group is stopped");
        assert!(alive(reused_pid), "a pid now held by a process started at another time is not signalled");
        assert!(store.recorded_process_groups().unwrap().is_empty(), "both records are settled");
        let _ = orphan.wait();
        reused.kill().unwrap();
        let _ = reused.wait();
    }

    #[test]
    fn the_start_time_is_the_one_sysinfo_gives() {
        let (mut child, pid) = group_leader();
        let mut system = System::new();
        let sysinfo_pid = sysinfo::Pid::from_u32(pid.as_raw() as u32);
        system.refresh_processes(sysinfo::ProcessesToUpdate::Some(&[sysinfo_pid]), true);
        let expected = system.process(sysinfo_pid).map(sysinfo::Process::start_time);
        assert!(expected.is_some());
        assert_eq!(process_start_time(pid), expected);
        child.kill().unwrap();
        let _ = child.wait();
        assert_eq!(process_start_time(Pid::from_raw(i32::MAX)), None);
    }
}
