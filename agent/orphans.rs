//! Processes a hard stop of the agent left behind.
//!
//! Every program an item runs has its own process group, which the agent stops
//! when the item ends, times out or is cancelled. A `kill -9` of the agent (or a
//! crash) skips all of that: the group keeps running, adopted by launchd. So while
//! an item's program runs, the check-in keeps its group in the state store (the
//! leader's pid and start time, [`ItemGroupRecorder`]), and the next agent, when
//! it closes the run left without an end, stops that group: SIGTERM, the grace,
//! SIGKILL ([`stop_left_behind`]). It does so only when the leader still exists
//! with the recorded start time: a pid the system has since given to another
//! process is never signalled.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use nix::unistd::Pid;
use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};

use crate::process::{GroupStop, GroupWatcher, stop_group_left_behind};
use crate::state::{RecordedGroup, Store, StoreError};

/// Records the process groups of one run's items in the state store.
pub(crate) struct ItemGroupRecorder {
    store_file: PathBuf,
    run_id: String,
    /// Opened at the first program, kept for the item's others.
    store: Mutex<Option<Store>>,
}

impl ItemGroupRecorder {
    /// A recorder for the items of run `run_id`, writing to the store at `store_file`.
    pub(crate) fn new(store_file: &Path, run_id: &str) -> Self {
        ItemGroupRecorder { store_file: store_file.to_path_buf(), run_id: run_id.to_string(), store: Mutex::new(None) }
    }

    fn with_store(&self, write: impl FnOnce(&Store) -> Result<(), StoreError>) -> Result<(), StoreError> {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        if store.is_none() {
            *store = Some(Store::open(&self.store_file)?);
        }
        store.as_ref().map_or(Ok(()), write)
    }
}

impl GroupWatcher for ItemGroupRecorder {
    fn started(&self, group: Pid, program: &Path) {
        let Some(leader_started_at) = process_start_time(group) else {
            tracing::debug!(process_group = group.as_raw(), "The item's program ended before it could be recorded.");
            return;
        };
        let recorded = RecordedGroup {
            process_group: group.as_raw(),
            run_id: self.run_id.clone(),
            leader_started_at,
            program: program.display().to_string(),
        };
        if let Err(error) = self.with_store(|store| store.record_process_group(&recorded, Utc::now())) {
            tracing::warn!(process_group = group.as_raw(), error = %error, "Cannot record the item's process group; a hard stop now could leave it running.");
        }
    }

    fn ended(&self, group: Pid) {
        if let Err(error) = self.with_store(|store| store.forget_process_group(group.as_raw())) {
            tracing::warn!(process_group = group.as_raw(), error = %error, "Cannot forget the item's ended process group.");
        }
    }
}

/// When `pid` started, in seconds since the Unix epoch; `None` when no such
/// process exists.
fn process_start_time(pid: Pid) -> Option<u64> {
    let pid = sysinfo::Pid::from_u32(u32::try_from(pid.as_raw()).ok()?);
    let mut system = System::new();
    system.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), true, ProcessRefreshKind::nothing());
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

    fn store() -> (tempfile::TempDir, Store) {
        let folder = tempfile::tempdir().unwrap();
        let store = Store::open(&folder.path().join("state/agent.sqlite3")).unwrap();
        (folder, store)
    }

    #[tokio::test]
    async fn a_recorded_group_is_stopped_and_forgotten_but_a_reused_pid_is_left_alone() {
        let (_folder, store) = store();
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

    #[tokio::test]
    async fn the_recorder_keeps_a_group_while_it_runs() {
        let folder = tempfile::tempdir().unwrap();
        let store_file = folder.path().join("state/agent.sqlite3");
        let recorder = ItemGroupRecorder::new(&store_file, "run-2");
        let (mut child, pid) = group_leader();
        recorder.started(pid, Path::new("/bin/sleep"));
        let recorded = Store::open(&store_file).unwrap().recorded_process_groups().unwrap();
        assert_eq!(recorded.len(), 1);
        assert_eq!((recorded[0].process_group, recorded[0].run_id.as_str()), (pid.as_raw(), "run-2"));
        assert_eq!(Some(recorded[0].leader_started_at), process_start_time(pid));
        recorder.ended(pid);
        assert!(Store::open(&store_file).unwrap().recorded_process_groups().unwrap().is_empty());
        child.kill().unwrap();
        let _ = child.wait();
    }
}
