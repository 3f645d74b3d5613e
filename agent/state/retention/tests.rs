//! Tests of pruning a real SQLite file to its budget.

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::plan::CheckinKind;
use crate::state::{Drift, ItemRecord, ItemStatus, RunOutcome, RunRecord, Trigger};

/// Items per run, and bytes of output each prints.
const ITEMS: usize = 20;
const OUTPUT: usize = 4096;

/// A store holding `count` runs (`r00`, `r01`, ...) made by [`add_runs`].
fn store_with_runs(
    count: usize,
    kind_of: impl Fn(usize) -> Option<CheckinKind>,
) -> (tempfile::TempDir, Store, DateTime<Utc>) {
    let (folder, store) = Store::scratch();
    let start = Utc::now() - Duration::hours(1);
    add_runs(&store, 0..count, start, kind_of);
    (folder, store, start)
}

/// Records runs `numbers` (`r00`, `r01`, ...) of [`ITEMS`] items printing
/// [`OUTPUT`] bytes each, a minute apart from `start`; `kind_of` says each run's
/// kind and `None` leaves a run without an end.
fn add_runs(
    store: &Store,
    numbers: std::ops::Range<usize>,
    start: DateTime<Utc>,
    kind_of: impl Fn(usize) -> Option<CheckinKind>,
) {
    for number in numbers {
        let id = format!("r{number:02}");
        let at = start + Duration::minutes(number as i64);
        let kind = kind_of(number);
        store.begin_run(&RunRecord::begun(&id, kind.unwrap_or(CheckinKind::Recurring), Trigger::Cli, at), 1).unwrap();
        let items: Vec<ItemRecord> = (0..ITEMS)
            .map(|position| ItemRecord {
                output: format!("{position:04}").repeat(OUTPUT / 4),
                ..ItemRecord::ended(&format!("item-{position}"), ItemStatus::Succeeded, at)
            })
            .collect();
        let positioned: Vec<(usize, &ItemRecord)> = items.iter().enumerate().collect();
        store.items_finished(&id, &positioned).unwrap();
        if kind.is_some() {
            store.finish_run(&id, at, RunOutcome::Succeeded, &Drift::default()).unwrap();
        }
    }
    settle(store);
}

/// Empties the write-ahead log, so sizes depend on the data alone.
fn settle(store: &Store) {
    store.connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
}

fn recurring(_: usize) -> Option<CheckinKind> {
    Some(CheckinKind::Recurring)
}

/// Each remaining run's id and whether its output is whole.
fn runs_left(store: &Store) -> Vec<(String, bool)> {
    let mut ids: Vec<String> = store.history(100).unwrap().into_iter().map(|run| run.header.id).collect();
    ids.sort();
    ids.into_iter()
        .map(|id| {
            let run = store.run(&id).unwrap().unwrap();
            assert_eq!(run.items.len(), ITEMS, "{id} keeps every row");
            let whole = run.items.iter().all(|item| item.output.len() == OUTPUT);
            if !whole {
                assert!(run.items.iter().all(|item| item.output == PRUNED_OUTPUT), "{id}");
            }
            (id, whole)
        })
        .collect()
}

/// What the data may reach after a pruning under `budget`, with `room` kept.
fn goal(budget: u64) -> u64 {
    budget / 10 * GOAL_TENTHS
}

/// The least room kept for the next run under `budget`.
fn least_room(budget: u64) -> u64 {
    budget / 10 * LEAST_ROOM_TENTHS
}

fn ids(runs: &[(String, bool)]) -> Vec<&str> {
    runs.iter().map(|(id, _)| id.as_str()).collect()
}

#[test]
fn a_store_within_its_budget_is_left_alone() {
    let (_folder, store, _) = store_with_runs(5, recurring);
    let before = store.size().unwrap();
    let pruning = store.keep_within(256 << 20, "r04").unwrap();
    assert!(!pruning.changed_anything(), "{pruning:?}");
    assert_eq!((pruning.used_before, pruning.used_after), (before.used(), before.used()));
    assert!(runs_left(&store).iter().all(|(_, whole)| *whole));
}

#[test]
fn the_oldest_runs_lose_their_output_before_any_run_goes() {
    let (_folder, store, _) = store_with_runs(10, recurring);
    let data = store.size().unwrap().data;
    // Room for the next run is a tenth of the budget (more than a run here):
    // fitting needs about one and a half runs' output less.
    let share = GOAL_TENTHS - LEAST_ROOM_TENTHS;
    let budget = (data - (ITEMS * OUTPUT) as u64 * 3 / 2) * 10 / share;
    assert!(least_room(budget) > (ITEMS * (OUTPUT + 256)) as u64, "a run is smaller than the least room");
    let pruning = store.keep_within(budget, "r09").unwrap();
    assert_eq!(pruning.runs_deleted, 0, "{pruning:?}");
    assert!((2..=3).contains(&pruning.outputs_pruned), "{pruning:?}");
    assert!(!pruning.own_output_pruned);
    let runs = runs_left(&store);
    assert_eq!(runs.len(), 10);
    let pruned = pruning.outputs_pruned as usize;
    assert!(runs[..pruned].iter().all(|(_, whole)| !whole), "the oldest first: {runs:?}");
    assert!(runs[pruned..].iter().all(|(_, whole)| *whole), "{runs:?}");
    let after = store.size().unwrap();
    assert!(after.data + least_room(budget) <= goal(budget), "{after:?} within {budget}");

    // The next pruning starts after the runs already pruned.
    assert_eq!(store.runs_with_output("r09").unwrap().len(), 9 - pruned);
}

#[test]
fn the_room_kept_for_the_next_run_is_what_the_store_grew_by_since_the_last_pruning() {
    let (_folder, store, start) = store_with_runs(4, recurring);
    assert!(!store.keep_within(256 << 20, "r03").unwrap().changed_anything());
    let before = store.size().unwrap().data;
    add_runs(&store, 4..8, start, recurring);
    let (data, grown) = (store.size().unwrap().data, store.size().unwrap().data - before);
    // Room for one run (or a tenth of the budget) would fit; room for the four
    // the store grew by does not.
    let share = GOAL_TENTHS - LEAST_ROOM_TENTHS;
    let budget = (data * 10 / share + (data + grown) * 10 / GOAL_TENTHS) / 2;
    assert!(data + least_room(budget) <= goal(budget) && data + grown > goal(budget));
    let pruning = store.keep_within(budget, "r07").unwrap();
    assert!(pruning.outputs_pruned > 0, "{pruning:?}");
    assert!(store.size().unwrap().data + grown <= goal(budget));
}

#[test]
fn then_the_oldest_runs_go_but_never_those_the_schedule_or_a_restart_needs() {
    // r00 is the newest completed daily; r03 never ended; r09 just ended.
    let kinds = |number: usize| match number {
        0 => Some(CheckinKind::Daily),
        3 => None,
        _ => Some(CheckinKind::Recurring),
    };
    let (_folder, store, _) = store_with_runs(10, kinds);
    let pruning = store.keep_within(300 << 10, "r09").unwrap();
    assert_eq!(pruning.runs_deleted, 7, "{pruning:?}");
    let runs = runs_left(&store);
    assert_eq!(ids(&runs), ["r00", "r03", "r09"]);
    assert!(!runs[0].1, "the daily kept its rows, not its output");
    assert!(runs[1].1, "a run not ended is not touched");
    // r03 and r09 alone take more than the goal less the room: r09 loses its output.
    assert!(pruning.own_output_pruned);
    assert!(!runs[2].1);
    assert_eq!(
        store.newest_completed_daily_start().unwrap(),
        Some(store.run("r00").unwrap().unwrap().header.started_at)
    );
}

#[test]
fn a_run_larger_than_the_budget_keeps_its_rows_not_its_output() {
    let (_folder, store, _) = store_with_runs(1, recurring);
    // An empty store is some 20 pages of schema (80 KiB); one run prints 80 KiB.
    let pruning = store.keep_within(128 << 10, "r00").unwrap();
    assert!(pruning.own_output_pruned, "{pruning:?}");
    assert_eq!(runs_left(&store), [("r00".to_string(), false)]);
    settle(&store);
    let file = std::fs::metadata(store.path()).unwrap().len();
    assert!(file <= 128 << 10, "the file was compacted: {file} bytes");
    assert!(pruning.data_after <= 128 << 10, "{pruning:?}");
    // Below what the schema and the run's rows take, the budget cannot be met.
    let pruning = store.keep_within(32 << 10, "r00").unwrap();
    assert!(pruning.data_after > 32 << 10, "{pruning:?}");
    assert_eq!(runs_left(&store), [("r00".to_string(), false)]);
}

#[test]
fn a_file_left_above_the_budget_gives_its_free_pages_back() {
    let (_folder, store, _) = store_with_runs(12, recurring);
    let file = || std::fs::metadata(store.path()).unwrap().len();
    let budget = file() / 2;
    let pruning = store.keep_within(budget, "r11").unwrap();
    assert!(pruning.compacted, "{pruning:?}");
    let size = store.size().unwrap();
    assert!(size.on_disk() <= budget, "{size:?} within {budget}");
    assert!(file() <= budget, "{} within {budget}", file());
    assert_eq!(ids(&runs_left(&store)).last(), Some(&"r11"));
    // Within the budget now: the next pruning compacts nothing.
    assert!(!store.keep_within(budget, "r11").unwrap().compacted);
}

#[test]
fn a_long_output_keeps_its_head_and_tail() {
    assert!(matches!(stored_output("short"), Cow::Borrowed("short")));
    let exact = "x".repeat(MAX_STORED_OUTPUT);
    assert_eq!(stored_output(&exact).len(), MAX_STORED_OUTPUT);
    // Two-byte characters put a boundary in the middle of one.
    let long = format!("{}{}{}", "h", "é".repeat(MAX_STORED_OUTPUT), "tail");
    let kept = stored_output(&long);
    assert!(kept.len() <= MAX_STORED_OUTPUT + 64, "{}", kept.len());
    assert!(kept.starts_with("hé") && kept.ends_with("éétail"));
    let (head, rest) = kept.split_once("\n[… ").expect("the cut is named");
    let (omitted, tail) = rest.split_once(" bytes omitted by the store …]\n").expect("the cut is named");
    assert_eq!(head.len() + omitted.parse::<usize>().unwrap() + tail.len(), long.len());
}

#[test]
fn an_item_output_is_bounded_when_stored() {
    let (_folder, store, _) = store_with_runs(0, recurring);
    let at = Utc::now();
    store.begin_run(&RunRecord::begun("big", CheckinKind::Daily, Trigger::Cli, at), 1).unwrap();
    let item =
        ItemRecord { output: "y".repeat(MAX_STORED_OUTPUT * 3), ..ItemRecord::ended("i", ItemStatus::Failed, at) };
    store.items_finished("big", &[(0, &item)]).unwrap();
    let stored = &store.run("big").unwrap().unwrap().items[0].output;
    assert!(stored.len() <= MAX_STORED_OUTPUT + 64, "{}", stored.len());
    assert!(stored.contains(&format!("[… {} bytes omitted", MAX_STORED_OUTPUT * 2)), "{}", &stored[..100]);
}

#[test]
fn a_run_of_many_results_is_pruned_and_deleted_whole_over_several_commits() {
    let (_folder, store, start) = store_with_runs(0, recurring);
    let count = RESULTS_PER_COMMIT as usize * 2 + 1;
    for (id, minutes) in [("big", 0), ("next", 1), ("newest", 2)] {
        let at = start + Duration::minutes(minutes);
        store.begin_run(&RunRecord::begun(id, CheckinKind::Recurring, Trigger::Cli, at), 1).unwrap();
        let item = ItemRecord { output: "z".repeat(200), ..ItemRecord::ended("i", ItemStatus::Succeeded, at) };
        let items: Vec<(usize, &ItemRecord)> = (0..count).map(|position| (position, &item)).collect();
        store.items_finished(id, &items).unwrap();
        store.finish_run(id, at, RunOutcome::Succeeded, &Drift::default()).unwrap();
    }
    store.prune_output("big").unwrap();
    let whole: i64 = store
        .connection
        .query_row("SELECT COUNT(*) FROM item_results WHERE run_id = 'big' AND output != ?1", [PRUNED_OUTPUT], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(whole, 0, "every result's output is pruned");
    assert_eq!(store.runs_with_output("newest").unwrap(), ["next"]);
    store.delete_run("big").unwrap();
    assert!(store.run("big").unwrap().is_none());
    let left: i64 = store
        .connection
        .query_row("SELECT COUNT(*) FROM item_results WHERE run_id = 'big'", [], |row| row.get(0))
        .unwrap();
    assert_eq!(left, 0);
    assert_eq!(store.run("next").unwrap().unwrap().items.len(), count);
}
