//! The state store's size over a simulated week of 100,000-item check-ins.
//!
//! `cargo bench --bench retention` writes a week of check-ins into a scratch
//! store, through the calls a check-in makes: every day a daily check-in, then 96
//! recurring ones, 15 minutes apart (7 × 97 = 679 runs). Each run is begun with
//! its plan saved, its 100,000 results are written in commits of 1,000 on a
//! connection of their own (as the run's writer thread does), it is finished,
//! and the store is kept within `state.max_size` (256 MiB, the default) as the
//! check-in does after each run. The blueprint: 70 % of the items run at every
//! check-in, 25 % only in the daily one, 5 % never; of those that run, most
//! print nothing, 15 % a line, 4 % 1 KiB (remediated) and 1 % 4 KiB (failed).
//!
//! Figures, one line each with its target and PASS or FAIL, also written to
//! `target/bench/retention.json`: the store's folder (database, write-ahead log
//! and its index) after the week and at its largest during it (sampled after
//! every commit), the slowest pruning after a run, and a pruning with nothing to
//! do (1,000 small runs within the budget). `--runs N` and `--items N` (or
//! `RETENTION_RUNS`, `RETENTION_ITEMS`) shorten it. Exits 1 when a figure misses
//! its target.

#[path = "support/figures.rs"]
mod figures;

use std::fs;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as TimeSpan, Utc};
use endpoint_agent::blueprint::{Blueprint, CustomScript, Frequency, ItemDetails, LibraryItem};
use endpoint_agent::plan::{self, CheckinKind, Decision, Plan};
use endpoint_agent::state::{Drift, ItemRecord, ItemStatus, RunHeader, RunOutcome, RunRecord, Store, Trigger};
use figures::{Figure, MIB, millis};
use serde_json::json;

/// `state.max_size`'s default.
const MAX_SIZE: u64 = 256 << 20;
/// Results per commit, as a check-in's journal writes them.
const RESULTS_PER_WRITE: usize = 1000;

fn main() -> ExitCode {
    let runs = option("--runs", "RETENTION_RUNS").unwrap_or(7 * 97);
    let items = option("--items", "RETENTION_ITEMS").unwrap_or(100_000);
    let scratch = tempfile::Builder::new().prefix("endpoint-agent-retention.").tempdir().expect("a scratch folder");
    println!("Endpoint Agent retention: {runs} check-ins of {items} items, state.max_size {} MiB\n", MAX_SIZE >> 20);

    let week = simulate_week(&scratch.path().join("week"), runs, items);
    let mut figures = week_figures(&week);
    figures.push(within_budget(&scratch.path().join("within")));
    for figure in &figures {
        println!("{}", figure.line());
    }

    figures::finish("retention.json", &figures, json!({ "runs": runs, "items": items, "max_size": MAX_SIZE }))
}

/// The figures of a simulated week: the store's folder after it and at its
/// largest, and the slowest pruning.
fn week_figures(week: &Week) -> Vec<Figure> {
    let budget = MAX_SIZE as f64 / MIB;
    vec![
        Figure {
            name: "store folder after the week",
            value: week.final_bytes as f64 / MIB,
            unit: "MiB",
            target: budget,
            detail: format!(
                "{} runs kept ({} daily), {} s for the week",
                week.runs_kept,
                week.dailies_kept,
                week.elapsed.as_secs()
            ),
        },
        Figure {
            name: "store folder at its largest during the week",
            value: week.peak_bytes as f64 / MIB,
            unit: "MiB",
            target: budget,
            detail: format!("sampled after each of {} commits", week.samples),
        },
        Figure {
            name: "pruning after a run, slowest",
            value: millis(week.slowest_pruning),
            unit: "ms",
            target: 2000.0,
            detail: format!(
                "{} outputs pruned, {} runs deleted, {} compactions; {} s of pruning over the week",
                week.outputs_pruned,
                week.runs_deleted,
                week.compactions,
                week.pruning_time.as_secs()
            ),
        },
    ]
}

/// What a simulated week left behind.
#[derive(Default)]
struct Week {
    final_bytes: u64,
    peak_bytes: u64,
    samples: u64,
    slowest_pruning: Duration,
    pruning_time: Duration,
    outputs_pruned: u64,
    runs_deleted: u64,
    compactions: u64,
    runs_kept: usize,
    dailies_kept: usize,
    elapsed: Duration,
}

impl Week {
    /// Notes the store folder's size now.
    fn sample(&mut self, folder: &Path) {
        self.peak_bytes = self.peak_bytes.max(folder_bytes(folder));
        self.samples += 1;
    }
}

/// `runs` check-ins of an `items`-item blueprint, a daily one then 96 recurring
/// ones each day, written and pruned as a check-in does.
fn simulate_week(folder: &Path, runs: usize, items: usize) -> Week {
    fs::create_dir_all(folder).expect("the state folder");
    let blueprint = blueprint(items);
    let timeouts = endpoint_agent::config::AgentConfig::default().timeouts;
    let plans = [CheckinKind::Daily, CheckinKind::Recurring]
        .map(|kind| plan::plan(&blueprint, kind, &Default::default(), &timeouts));
    let clock = Instant::now();
    let start = Utc::now() - TimeSpan::days(7);
    let mut week = Week::default();
    let mut newest = String::new();
    for number in 0..runs {
        let (day, slot) = (number / 97, number % 97);
        let started_at = start + TimeSpan::days(day as i64) + TimeSpan::minutes(15 * slot as i64);
        let plan = if slot == 0 { &plans[0] } else { &plans[1] };
        newest = check_in(folder, plan, number, started_at, &mut week);
        if slot == 96 || number + 1 == runs {
            println!(
                "  day {}: {} runs, store folder {:.1} MiB now, {:.1} MiB at most ({} s)",
                day + 1,
                number + 1,
                folder_bytes(folder) as f64 / MIB,
                week.peak_bytes as f64 / MIB,
                clock.elapsed().as_secs()
            );
        }
    }
    week.elapsed = clock.elapsed();
    week.final_bytes = folder_bytes(folder);
    let store = Store::open(&folder.join("agent.sqlite3")).expect("the store");
    let history = store.history(10_000).expect("the history reads");
    week.runs_kept = history.len();
    week.dailies_kept = history.iter().filter(|run| run.header.kind == CheckinKind::Daily).count();
    let last = store.run(&newest).expect("the newest run reads").expect("the newest run is kept");
    assert_eq!(last.items.len(), items, "the newest run keeps every result");
    week
}

/// Check-in `number` of the week, of `plan`, on its own connections (closed at
/// its end, as the agent's are): begun with its plan saved, its results written
/// a thousand a commit on a second connection, finished, the store kept within
/// the budget and checkpointed. Returns the run's id.
fn check_in(folder: &Path, plan: &Plan, number: usize, started_at: DateTime<Utc>, week: &mut Week) -> String {
    let store_file = folder.join("agent.sqlite3");
    let store = Store::open(&store_file).expect("the store");
    let run = RunRecord {
        header: RunHeader::begun(uuid::Uuid::now_v7().to_string(), plan.kind, Trigger::Schedule, started_at),
        blueprint_id: Some("bp-week".into()),
        message: None,
        drift: Drift::default(),
        parameters: Vec::new(),
        items: Vec::new(),
    };
    store.begin_run(&run, std::process::id()).expect("the run's start");
    store.save_run_plan(&run.header.id, plan, true).expect("the run's plan");
    let writer = Store::open(&store_file).expect("the writer's connection");
    for (batch, planned) in plan.items.chunks(RESULTS_PER_WRITE).enumerate() {
        let first = batch * RESULTS_PER_WRITE;
        let records: Vec<ItemRecord> =
            planned.iter().enumerate().map(|(offset, item)| result(item, first + offset, number, started_at)).collect();
        let positioned: Vec<(usize, &ItemRecord)> =
            records.iter().enumerate().map(|(offset, record)| (first + offset, record)).collect();
        writer.items_finished(&run.header.id, &positioned).expect("the results");
        week.sample(folder);
    }
    drop(writer);
    let finished_at = started_at + TimeSpan::minutes(3);
    store.finish_run(&run.header.id, finished_at, RunOutcome::Failed, &Drift::default()).expect("the run's end");
    let clock = Instant::now();
    let pruning = store.keep_within(MAX_SIZE, &run.header.id).expect("pruning");
    week.slowest_pruning = week.slowest_pruning.max(clock.elapsed());
    week.pruning_time += clock.elapsed();
    week.outputs_pruned += u64::from(pruning.outputs_pruned);
    week.runs_deleted += u64::from(pruning.runs_deleted);
    week.compactions += u64::from(pruning.compacted);
    store.make_durable().expect("the checkpoint");
    week.sample(folder);
    run.header.id
}

/// Pruning with nothing to prune: a store of 1,000 runs of 10 items (as the
/// footprint's status figure has), median of 101.
fn within_budget(folder: &Path) -> Figure {
    fs::create_dir_all(folder).expect("the state folder");
    let store = Store::open(&folder.join("agent.sqlite3")).expect("the store");
    let start = Utc::now() - TimeSpan::days(11);
    let mut newest = String::new();
    for number in 0..1000 {
        let started_at = start + TimeSpan::minutes(15 * number);
        let run = RunRecord {
            header: RunHeader::begun(format!("run-{number:04}"), CheckinKind::Recurring, Trigger::Schedule, started_at),
            blueprint_id: None,
            message: None,
            drift: Drift::default(),
            parameters: Vec::new(),
            items: Vec::new(),
        };
        store.begin_run(&run, 1).expect("a run");
        let records: Vec<ItemRecord> = (0..10)
            .map(|position| ItemRecord {
                id: format!("item-{position}"),
                name: format!("Item {position}"),
                item_type: "custom_script".into(),
                status: ItemStatus::Succeeded,
                started_at,
                finished_at: started_at,
                duration_ms: 12,
                exit_code: Some(0),
                message: "compliant: the audit passed".into(),
                output: "checked\n".into(),
            })
            .collect();
        let positioned: Vec<(usize, &ItemRecord)> = records.iter().enumerate().collect();
        store.items_finished(&run.header.id, &positioned).expect("its items");
        store.finish_run(&run.header.id, started_at, RunOutcome::Succeeded, &Drift::default()).expect("its end");
        newest = run.header.id;
    }
    let mut times: Vec<Duration> = (0..101)
        .map(|_| {
            let clock = Instant::now();
            let pruning = store.keep_within(MAX_SIZE, &newest).expect("pruning");
            assert_eq!(pruning.runs_deleted + pruning.outputs_pruned, 0, "nothing to prune");
            clock.elapsed()
        })
        .collect();
    times.sort();
    Figure {
        name: "pruning with nothing to prune",
        value: millis(times[times.len() / 2]) * 1000.0,
        unit: "us",
        target: 1000.0,
        detail: "1,000 runs of 10 items, median of 101".into(),
    }
}

/// A blueprint of `count` custom scripts: 70 % at every check-in, 25 % daily, 5 % never.
fn blueprint(count: usize) -> Blueprint {
    let library_items = (0..count)
        .map(|number| LibraryItem {
            id: format!("{:08x}-7e57-4c1d-9a11-{:012x}", mix(number as u64) as u32, number),
            name: format!("Ensure setting {number:06} is configured"),
            frequency: match mix(number as u64 ^ 0x5eed) % 100 {
                0..70 => Frequency::Every15Minutes,
                70..95 => Frequency::Daily,
                _ => Frequency::NoEnforcement,
            },
            details: ItemDetails::CustomScript(CustomScript { audit: "#!/bin/sh\nexit 0\n".into(), remediation: None }),
            self_service: None,
        })
        .collect();
    Blueprint {
        id: "bp-week".into(),
        name: "A week of 100,000 items".into(),
        team_id: None,
        minimum_agent_version: None,
        parameters: Default::default(),
        library_items,
    }
}

/// The result of `item` at `position` in run `run_number`, as the check-in records it.
fn result(item: &plan::PlannedItem, position: usize, run_number: usize, at: DateTime<Utc>) -> ItemRecord {
    let mut record = ItemRecord {
        id: item.item.id.clone(),
        name: item.item.name.clone(),
        item_type: item.item.item_type().as_str().to_string(),
        status: ItemStatus::Succeeded,
        started_at: at,
        finished_at: at + TimeSpan::milliseconds(14),
        duration_ms: 14,
        exit_code: Some(0),
        message: "compliant: the audit passed".into(),
        output: String::new(),
    };
    if let Decision::Skip { reason } = &item.decision {
        return ItemRecord {
            status: ItemStatus::Skipped,
            finished_at: at,
            duration_ms: 0,
            exit_code: None,
            message: reason.clone(),
            ..record
        };
    }
    match mix((run_number as u64) << 32 | position as u64) % 100 {
        0..80 => {}
        80..95 => record.output = format!("--- audit (exit 0) ---\nsetting {position} is configured as expected\n"),
        95..99 => {
            record.message = "remediated: the audit passed after the remediation".into();
            record.output = format!("--- audit (exit 1) ---\n{}", "drifted value found; ".repeat(48));
        }
        _ => {
            record.status = ItemStatus::Failed;
            record.exit_code = Some(1);
            record.message = "not compliant: the remediation exited 1".into();
            record.output =
                format!("--- remediation (exit 1) ---\n{}", "error: cannot write the setting\n".repeat(128));
        }
    }
    record
}

/// A fixed scramble of `value` (splitmix64), for repeatable variety.
fn mix(value: u64) -> u64 {
    let mut mixed = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    mixed ^ (mixed >> 31)
}

/// The bytes of the store's files in `folder`: the database, its write-ahead log
/// and the log's index.
fn folder_bytes(folder: &Path) -> u64 {
    ["agent.sqlite3", "agent.sqlite3-wal", "agent.sqlite3-shm"]
        .iter()
        .filter_map(|name| fs::metadata(folder.join(name)).ok())
        .map(|metadata| metadata.len())
        .sum()
}

/// `--name N` on the command line, else the variable `variable`.
fn option(name: &str, variable: &str) -> Option<usize> {
    let arguments: Vec<String> = std::env::args().collect();
    let given = arguments.iter().position(|argument| argument == name).and_then(|at| arguments.get(at + 1));
    given.cloned().or_else(|| std::env::var(variable).ok())?.parse().ok()
}
