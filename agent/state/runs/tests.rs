//! Tests of recording runs in a real SQLite file.

use super::*;

fn run(id: &str, kind: CheckinKind, started_at: DateTime<Utc>) -> RunRecord {
    RunRecord::begun(id, kind, Trigger::Cli, started_at)
}

#[test]
fn history_counts_statuses_and_finished_dailies_count() {
    let (_folder, store) = Store::scratch();
    let now = Utc::now();
    store.begin_run(&run("r1", CheckinKind::Daily, now), 1).unwrap();
    for (position, status) in
        [ItemStatus::Succeeded, ItemStatus::Failed, ItemStatus::Skipped, ItemStatus::NotRun].into_iter().enumerate()
    {
        store.items_finished("r1", &[(position, &ItemRecord::ended(&format!("i{position}"), status, now))]).unwrap();
    }
    store.finish_run("r1", now, RunOutcome::Failed, &Drift { reapplied: 2, ..Drift::default() }).unwrap();
    let history = store.history(10).unwrap();
    assert_eq!(history.len(), 1);
    let counts = &history[0].counts;
    assert_eq!((counts.succeeded, counts.failed, counts.skipped, counts.not_run), (1, 1, 1, 1));
    assert_eq!(store.last_daily_completed().unwrap().map(|time| time.timestamp_millis()), Some(now.timestamp_millis()));
    assert_eq!(store.latest_finished_run().unwrap().unwrap().drift.reapplied, 2);
}

#[test]
fn once_marks_and_the_device_id_persist_across_openings() {
    let (_folder, path) = Store::scratch_file();
    let device_id = {
        let store = Store::open(&path).unwrap();
        store.mark_succeeded_once("li-once", Utc::now(), "r1").unwrap();
        store.device_id().unwrap()
    };
    let store = Store::open_existing(&path).unwrap().expect("exists");
    assert_eq!(store.device_id().unwrap(), device_id);
    assert!(store.succeeded_once().unwrap().contains("li-once"));
    assert_eq!(store.item_marker("li-app", "installed").unwrap(), None);
    store.set_item_marker("li-app", "installed", "1.2").unwrap();
    store.set_item_marker("li-app", "installed", "1.3").unwrap();
    assert_eq!(store.item_marker("li-app", "installed").unwrap().as_deref(), Some("1.3"));
}

#[test]
fn a_store_from_a_newer_agent_is_refused_not_damaged() {
    let (_folder, path) = Store::scratch_file();
    drop(Store::open(&path).unwrap());
    rusqlite::Connection::open(&path).unwrap().execute_batch("PRAGMA user_version = 99").unwrap();
    let message = Store::open(&path).err().expect("refused").to_string();
    assert!(message.contains("schema version 99"), "{message}");
}

#[test]
fn what_is_wrong_with_a_run_s_record_is_read_back_and_pruned_with_it() {
    let (_folder, store) = Store::scratch();
    let now = Utc::now();
    store.begin_run(&run("r1", CheckinKind::Recurring, now), 1).unwrap();
    store.begin_run(&run("r2", CheckinKind::Recurring, now + chrono::Duration::seconds(1)), 1).unwrap();
    store.finish_run("r1", now, RunOutcome::Failed, &Drift::default()).unwrap();
    store.set_run_message("r1", "the record of this run is incomplete").unwrap();
    assert_eq!(store.run("r1").unwrap().unwrap().message.as_deref(), Some("the record of this run is incomplete"));
    assert_eq!(store.run("r2").unwrap().unwrap().message, None);
    let history = store.history(10).unwrap();
    let messages: Vec<_> = history.iter().map(|run| (run.header.id.as_str(), run.message.as_deref())).collect();
    assert_eq!(messages, [("r2", None), ("r1", Some("the record of this run is incomplete"))]);
    store.connection.execute("DELETE FROM runs WHERE id = 'r1'", []).unwrap();
    let left: u32 = store.connection.query_row("SELECT COUNT(*) FROM run_messages", [], |row| row.get(0)).unwrap();
    assert_eq!(left, 0, "a pruned run's message goes with it");
}

#[test]
fn a_self_service_run_keeps_who_asked_and_moves_no_schedule_mark() {
    let (_folder, store) = Store::scratch();
    let daily_at = Utc::now() - chrono::Duration::minutes(5);
    store.begin_run(&run("r1", CheckinKind::Daily, daily_at), 1).unwrap();
    store.finish_run("r1", daily_at, RunOutcome::Succeeded, &Drift::default()).unwrap();
    let mut asked = RunRecord::begun("r2", CheckinKind::SelfService, Trigger::SelfService, Utc::now());
    asked.header.requested_by = Some("ada".into());
    store.begin_run(&asked, 1).unwrap();
    store.items_finished("r2", &[(0, &ItemRecord::ended("tool", ItemStatus::Succeeded, Utc::now()))]).unwrap();
    store.finish_run("r2", Utc::now(), RunOutcome::Succeeded, &Drift::default()).unwrap();

    let read = store.run("r2").unwrap().unwrap();
    assert_eq!((read.header.kind, read.header.trigger), (CheckinKind::SelfService, Trigger::SelfService));
    assert_eq!(read.header.requested_by.as_deref(), Some("ada"));
    let history = store.history(10).unwrap();
    let asked_by: Vec<Option<&str>> = history.iter().map(|run| run.header.requested_by.as_deref()).collect();
    assert_eq!(asked_by, [Some("ada"), None]);
    assert_eq!(history[0].counts.succeeded, 1);
    let millis = |time: Option<DateTime<Utc>>| time.map(|time| time.timestamp_millis());
    assert_eq!(millis(store.newest_run_start().unwrap()), Some(daily_at.timestamp_millis()), "a schedule mark");
    assert_eq!(store.last_ran_result("tool").unwrap().map(|item| item.status), Some(ItemStatus::Succeeded));
    assert_eq!(store.last_ran_result("other").unwrap(), None);

    let item_run = RunRecord::begun("r3", CheckinKind::Item, Trigger::Cli, Utc::now());
    store.begin_run(&item_run, 1).unwrap();
    store.finish_run("r3", Utc::now(), RunOutcome::Succeeded, &Drift::default()).unwrap();
    assert_eq!(store.run("r3").unwrap().unwrap().header.kind, CheckinKind::Item);
    assert_eq!(millis(store.newest_run_start().unwrap()), Some(daily_at.timestamp_millis()), "nor does an item run");
}
