//! Processes a hard stop of the agent left behind.
//!
//! Every program an item runs has its own process group, which the agent stops
//! when the item ends, times out or is cancelled. A `kill -9` of the agent (or a
//! crash) skips all of that: the group keeps running, adopted by launchd. So while
//! an item's program runs, the check-in keeps its group in the state store (the
//! leader's pid and start time, [`ItemGroupRecorder`]) from its first 20 ms on, or
//! from when it is to be stopped (a program over sooner is not worth a commit),
//! and the next agent, when it closes the run left without an end, stops that
//! group: SIGTERM, the grace, SIGKILL ([`stop_left_behind`]). It does so only when
//! the leader still exists with the recorded start time: a pid the system has
//! since given to another process is never signalled.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use nix::unistd::Pid;
use sysinfo::System;
#[cfg(not(target_os = "linux"))]
use sysinfo::{ProcessRefreshKind, ProcessesToUpdate};

use crate::process::{GroupStop, GroupWatcher, stop_group_left_behind};
use crate::state::{RecordedGroup, Store, StoreError, StoreWriter, Unwritten};

/// Records the process groups of one run's items in the state store; one per run,
/// with its own writer thread and connection, which the run's results share
/// ([`crate::checkin`]'s journal).
///
/// A group is handed to the writer when the process module reports it (once its
/// program has run for a moment, or is to be stopped). That it ended is written
/// with the run's next results, in their transaction
/// ([`ItemGroupRecorder::write_later`]): until then a hard stop leaves the record
/// of a group that is gone, which the next agent recognizes (its leader no longer
/// exists with the recorded start time) and forgets.
pub(crate) struct ItemGroupRecorder {
    run_id: String,
    writer: StoreWriter,
    /// Groups that ended and are not yet forgotten in the store.
    ended: Arc<Mutex<Vec<i32>>>,
}

impl ItemGroupRecorder {
    /// A recorder for the items of run `run_id`, writing to the store at `store_file`.
    pub(crate) fn new(store_file: &Path, run_id: &str) -> Self {
        ItemGroupRecorder {
            run_id: run_id.to_string(),
            writer: StoreWriter::start(store_file),
            ended: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Hands `write`, which carries `results` results, to the writer, to run in
    /// one transaction with forgetting the groups that ended before it runs;
    /// returns at once. A write the store refuses is kept and tried again
    /// (see [`StoreWriter`]).
    pub(crate) fn write_later(
        &self,
        results: usize,
        mut write: impl FnMut(&Store) -> Result<(), StoreError> + Send + 'static,
    ) {
        let ended = Arc::clone(&self.ended);
        // Taken once: should the write be refused, they are forgotten when it is retried.
        let mut forgotten: Option<Vec<i32>> = None;
        self.writer.write_later(results, move |store| {
            let forgotten = forgotten
                .get_or_insert_with(|| std::mem::take(&mut *ended.lock().unwrap_or_else(PoisonError::into_inner)));
            store.in_transaction(|| {
                write(store)?;
                forgotten.iter().try_for_each(|group| store.forget_process_group(*group))
            })
        });
    }

    /// Like [`ItemGroupRecorder::write_later`], then waits until everything handed
    /// over is in the store.
    ///
    /// # Errors
    ///
    /// The results the store has not taken (kept in memory while this lives).
    pub(crate) fn write(
        &self,
        results: usize,
        write: impl FnMut(&Store) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<(), Unwritten> {
        self.write_later(results, write);
        self.written()
    }

    /// Tries again what the store refused, then waits until everything handed
    /// over is in the store.
    ///
    /// # Errors
    ///
    /// The results the store has not taken (kept in memory while this lives).
    pub(crate) fn written(&self) -> Result<(), Unwritten> {
        self.writer.written()
    }
}

impl GroupWatcher for ItemGroupRecorder {
    fn started(&self, group: Pid, program: &Path) {
        // The pid of a group that ended may come back: the new group's record is
        // not to be forgotten with the old one.
        self.ended.lock().unwrap_or_else(PoisonError::into_inner).retain(|ended| *ended != group.as_raw());
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
        // Not waited for: the program already runs. A failure here costs only the
        // record, as a hard stop before it would; it is not tried again (the item
        // runs on, and its group is stopped when it ends all the same).
        self.writer.write_later(0, move |store| {
            if let Err(error) = store.record_process_group(&recorded, Utc::now()) {
                tracing::warn!(process_group = recorded.process_group, run_id = %recorded.run_id, error = %error, "Cannot record the item's process group; a hard stop now could leave it running.");
            }
            Ok(())
        });
    }

    fn ended(&self, group: Pid) {
        self.ended.lock().unwrap_or_else(PoisonError::into_inner).push(group.as_raw());
    }
}

/// When `pid` started, in seconds since the Unix epoch; `None` when no such
/// process exists.
///
/// On Linux, read straight from `/proc/PID/stat` (sysinfo lists all of `/proc`
/// to refresh one process, for every program every item starts), in the units
/// sysinfo gives: boot time plus the start's clock ticks, in whole seconds. On
/// macOS sysinfo asks the kernel for the one process.
#[cfg(target_os = "linux")]
fn process_start_time(pid: Pid) -> Option<u64> {
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
fn process_start_time(pid: Pid) -> Option<u64> {
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

    #[tokio::test]
    async fn the_recorder_keeps_a_group_while_it_runs() {
        let folder = tempfile::tempdir().unwrap();
        let store_file = folder.path().join("state/agent.sqlite3");
        let recorder = ItemGroupRecorder::new(&store_file, "run-2");
        let (mut child, pid) = group_leader();
        recorder.started(pid, Path::new("/bin/sleep"));
        recorder.written().unwrap();
        let recorded = || Store::open(&store_file).unwrap().recorded_process_groups().unwrap();
        let groups = recorded();
        assert_eq!(groups.len(), 1);
        assert_eq!((groups[0].process_group, groups[0].run_id.as_str()), (pid.as_raw(), "run-2"));
        assert_eq!(Some(groups[0].leader_started_at), process_start_time(pid));
        recorder.ended(pid);
        recorder.written().unwrap();
        assert_eq!(recorded().len(), 1, "forgotten with the run's next write");
        recorder.write(0, |_| Ok(())).unwrap();
        assert!(recorded().is_empty());

        // A pid that comes back for another group in the run keeps its new record.
        recorder.started(pid, Path::new("/bin/sleep"));
        recorder.ended(pid);
        recorder.started(pid, Path::new("/bin/sleep"));
        recorder.write(0, |_| Ok(())).unwrap();
        assert_eq!(recorded().len(), 1, "the second group is still running");
        child.kill().unwrap();
        let _ = child.wait();
    }

    #[test]
    fn a_refused_write_is_kept_and_the_groups_that_ended_are_forgotten_with_it() {
        let folder = tempfile::tempdir().unwrap();
        let store_file = folder.path().join("state/agent.sqlite3");
        let recorder = ItemGroupRecorder::new(&store_file, "run-3");
        let (mut child, pid) = group_leader();
        recorder.started(pid, Path::new("/bin/sleep"));
        recorder.ended(pid);
        let refusing = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let refused = Arc::clone(&refusing);
        let path = store_file.clone();
        recorder.write_later(1, move |_| {
            if refused.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(StoreError::Corrupt { path: path.clone(), message: "refused".into() });
            }
            Ok(())
        });
        let kept = recorder.written().unwrap_err();
        assert!(kept.to_string().contains("refused"), "{kept}");
        let recorded = || Store::open(&store_file).unwrap().recorded_process_groups().unwrap();
        assert_eq!(recorded().len(), 1, "a hard stop now: the next agent finds the group gone and forgets it");
        refusing.store(false, std::sync::atomic::Ordering::SeqCst);
        recorder.written().unwrap();
        assert!(recorded().is_empty(), "forgotten with the write once it was taken");
        child.kill().unwrap();
        let _ = child.wait();
    }
}
