//! The run writer's unit tests: which commit a result goes into, what a hard
//! stop keeps, and the process groups recorded while they run.

use std::sync::Arc;

use chrono::Utc;

use super::*;
use crate::plan::CheckinKind;
use crate::state::{Drift, ItemStatus, RunOutcome, RunRecord, Store, Trigger};

/// Item `id`'s result, ended now with `status`.
fn record(id: &str, status: ItemStatus) -> ItemRecord {
    ItemRecord::ended(id, status, Utc::now())
}

/// A fresh store with run `run-1` begun, and a writer of it.
fn begun() -> (tempfile::TempDir, Store, RunRecord, RunWriter) {
    let (folder, store) = Store::scratch();
    let run = RunRecord::begun("run-1", CheckinKind::Recurring, Trigger::Cli, Utc::now());
    store.begin_run(&run, 1).unwrap();
    let writer = RunWriter::start(store.path(), "run-1");
    (folder, store, run, writer)
}

fn recorded(store: &Store) -> Vec<(String, ItemStatus)> {
    let run = store.run("run-1").unwrap().unwrap();
    run.items.into_iter().map(|item| (item.id, item.status)).collect()
}

#[tokio::test]
async fn decided_results_wait_for_the_next_write_that_cannot() {
    let (_folder, store, mut run, writer) = begun();
    run.items.push(record("a", ItemStatus::Skipped));
    run.items.push(record("b", ItemStatus::Skipped));
    assert_eq!(recorded(&store), [], "nothing written yet");

    // A second connection, as `agent status` would read it, sees the skipped
    // items as soon as the next item starts its programs.
    writer.item_started(&run, &record("c", ItemStatus::NotRun));
    writer.written().await.unwrap();
    let reader = Store::open(store.path()).unwrap();
    let written: Vec<_> = reader.run("run-1").unwrap().unwrap().items.into_iter().map(|item| item.id).collect();
    assert_eq!(written, ["a", "b"], "the running item is not a result yet");

    run.items.push(record("c", ItemStatus::Succeeded));
    writer.write(&run).await.unwrap();
    run.items.push(record("d", ItemStatus::NotRun));
    assert_eq!(recorded(&store).len(), 3, "d waits");
    writer.write(&run).await.unwrap();
    writer.write(&run).await.unwrap();
    store.finish_run("run-1", Utc::now(), RunOutcome::Succeeded, &Drift::default()).unwrap();
    assert_eq!(
        recorded(&store),
        [
            ("a".into(), ItemStatus::Skipped),
            ("b".into(), ItemStatus::Skipped),
            ("c".into(), ItemStatus::Succeeded),
            ("d".into(), ItemStatus::NotRun),
        ]
    );
}

#[tokio::test]
async fn a_result_goes_into_the_commit_of_the_next_start() {
    let (_folder, store, mut run, writer) = begun();
    writer.item_started(&run, &record("a", ItemStatus::NotRun));
    writer.written().await.unwrap();
    run.items.push(record("a", ItemStatus::Failed));
    assert_eq!(recorded(&store), [], "a is still shown running");
    writer.item_started(&run, &record("b", ItemStatus::NotRun));
    writer.written().await.unwrap();
    assert_eq!(recorded(&store), [("a".into(), ItemStatus::Failed)]);
    // Nothing waiting, nothing ended: nothing to write.
    writer.write(&run).await.unwrap();
    assert_eq!(recorded(&store).len(), 1);
}

#[tokio::test]
async fn results_are_handed_over_once_enough_wait() {
    let (_folder, store, mut run, writer) = begun();
    for index in 0..RESULTS_PER_WRITE - 1 {
        run.items.push(record(&format!("i{index}"), ItemStatus::Skipped));
        writer.result_added(&run);
    }
    writer.written().await.unwrap();
    assert_eq!(recorded(&store), [], "fewer than enough wait in memory");
    run.items.push(record("last", ItemStatus::Skipped));
    writer.result_added(&run);
    writer.written().await.unwrap();
    assert_eq!(recorded(&store).len(), RESULTS_PER_WRITE);
    run.items.push(record("after", ItemStatus::Skipped));
    writer.result_added(&run);
    writer.written().await.unwrap();
    assert_eq!(recorded(&store).len(), RESULTS_PER_WRITE, "the count starts again");
}

#[tokio::test]
async fn parameters_come_first_in_the_store() {
    let (_folder, store, mut run, writer) = begun();
    let mut parameter = record("p", ItemStatus::Succeeded);
    parameter.item_type = crate::state::PARAMETER_TYPE.into();
    run.parameters.push(parameter);
    writer.write(&run).await.unwrap();
    run.items.push(record("a", ItemStatus::Skipped));
    writer.write(&run).await.unwrap();
    let stored = store.run("run-1").unwrap().unwrap();
    assert_eq!(stored.parameters.len(), 1);
    assert_eq!(recorded(&store), [("a".into(), ItemStatus::Skipped)]);
}

#[tokio::test]
async fn a_hard_stop_keeps_every_result_written_before_a_program_started() {
    let (_folder, store, mut run, writer) = begun();
    run.items.push(record("a", ItemStatus::Skipped));
    writer.item_started(&run, &record("b", ItemStatus::NotRun));
    writer.written().await.unwrap();
    // The agent dies here: nothing more is written.
    let path = store.path().to_path_buf();
    drop(writer);
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.mark_dangling_runs_interrupted(None).unwrap()[0].run_id, "run-1");
    assert_eq!(recorded(&store), [("a".into(), ItemStatus::Skipped), ("b".into(), ItemStatus::Failed)]);
}

/// A real `sleep` leading its own process group, as an item's program does.
fn group_leader() -> (std::process::Child, Pid) {
    use std::os::unix::process::CommandExt;
    let child = std::process::Command::new("sleep").arg("30").process_group(0).spawn().unwrap();
    let pid = Pid::from_raw(child.id() as i32);
    (child, pid)
}

#[tokio::test]
async fn the_writer_keeps_a_group_while_it_runs() {
    let (_folder, store_file) = Store::scratch_file();
    let writer = RunWriter::start(&store_file, "run-2");
    let (mut child, pid) = group_leader();
    writer.started(pid, Path::new("/bin/sleep"));
    writer.written().await.unwrap();
    let recorded = || Store::open(&store_file).unwrap().recorded_process_groups().unwrap();
    let groups = recorded();
    assert_eq!(groups.len(), 1);
    assert_eq!((groups[0].process_group, groups[0].run_id.as_str()), (pid.as_raw(), "run-2"));
    assert_eq!(Some(groups[0].leader_started_at), process_start_time(pid));
    writer.ended(pid);
    writer.written().await.unwrap();
    assert_eq!(recorded().len(), 1, "forgotten with the run's next write");
    writer.thread.write_later(0, |_| Ok(()));
    writer.written().await.unwrap();
    assert!(recorded().is_empty());

    // A pid that comes back for another group in the run keeps its new record.
    writer.started(pid, Path::new("/bin/sleep"));
    writer.ended(pid);
    writer.started(pid, Path::new("/bin/sleep"));
    writer.thread.write_later(0, |_| Ok(()));
    writer.written().await.unwrap();
    assert_eq!(recorded().len(), 1, "the second group is still running");
    child.kill().unwrap();
    let _ = child.wait();
}

#[tokio::test]
async fn a_refused_write_is_kept_and_the_groups_that_ended_are_forgotten_with_it() {
    let (_folder, store_file) = Store::scratch_file();
    let writer = RunWriter::start(&store_file, "run-3");
    let (mut child, pid) = group_leader();
    writer.started(pid, Path::new("/bin/sleep"));
    writer.ended(pid);
    let refusing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let refused = Arc::clone(&refusing);
    let path = store_file.clone();
    writer.thread.write_later(1, move |_| {
        if refused.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Corrupt { path: path.clone(), message: "refused".into() });
        }
        Ok(())
    });
    let kept = writer.written().await.unwrap_err();
    assert!(kept.to_string().contains("refused"), "{kept}");
    let recorded = || Store::open(&store_file).unwrap().recorded_process_groups().unwrap();
    assert_eq!(recorded().len(), 1, "a hard stop now: the next agent finds the group gone and forgets it");
    refusing.store(false, std::sync::atomic::Ordering::SeqCst);
    writer.written().await.unwrap();
    assert!(recorded().is_empty(), "forgotten with the write once it was taken");
    child.kill().unwrap();
    let _ = child.wait();
}
