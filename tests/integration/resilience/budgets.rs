//! The state store stays within `state.max_size`: check-ins of scripts that print
//! a lot, with a small budget, prune the oldest runs' output first, then the
//! oldest runs, and never the newest.

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use crate::support::{Device, blueprint, code, text};

/// The budget the device is given: small, so a few check-ins pass it.
const BUDGET: u64 = 2 << 20;

/// What the store's files may take past the budget once a check-in has ended:
/// SQLite's shared-memory index of the write-ahead log, when the agent left one
/// (it deletes the log and the index when it closes the store).
const SLACK: u64 = 64 << 10;

/// Bytes each loud script prints.
const PRINTED: usize = 64 << 10;

/// A check-in under `budget` (in MiB), which must succeed.
fn check_in(device: &Device, blueprint: &Path, budget: u64) -> Output {
    let output = device
        .agent()
        .env("AGENT_STATE_MAX_SIZE", format!("{} MiB", budget >> 20))
        .args(["run", "--blueprint", blueprint.to_str().unwrap()])
        .output()
        .expect("agent runs");
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    output
}

/// The bytes of the store's files: the database, its write-ahead log and index.
fn store_files(device: &Device) -> u64 {
    ["agent.sqlite3", "agent.sqlite3-wal", "agent.sqlite3-shm"]
        .iter()
        .filter_map(|name| std::fs::metadata(device.state_dir().join(name)).ok())
        .map(|metadata| metadata.len())
        .sum()
}

/// `agent history` (`--json`) with `extra`, parsed.
fn history(device: &Device, extra: &[&str]) -> Value {
    let mut arguments = vec!["history", "--json"];
    arguments.extend_from_slice(extra);
    let output = device.run(&arguments);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("history is JSON")
}

/// `count` scripts named `Loud`, each printing [`PRINTED`] bytes.
fn loud_scripts(count: usize) -> Vec<Value> {
    (0..count)
        .map(|number| {
            json!({ "id": format!("loud-{number}"), "name": "Loud", "type": "custom_script",
                    "audit": format!("#!/bin/sh\nhead -c {PRINTED} /dev/zero | tr '\\0' x\n") })
        })
        .collect()
}

/// Whether every loud item of run `id` kept its output (all or none did).
fn output_kept(device: &Device, id: &str) -> bool {
    let run = history(device, &["--run", id]);
    let loud: Vec<&Value> = run["items"].as_array().unwrap().iter().filter(|item| item["name"] == "Loud").collect();
    assert!(!loud.is_empty(), "every row is kept: {id}");
    let kept = |item: &&Value| item["output"].as_str().unwrap_or_default().len() >= PRINTED;
    assert!(loud.iter().all(kept) || !loud.iter().any(kept), "a run's output goes whole: {id}");
    loud.iter().all(kept)
}

#[test]
fn the_store_stays_within_state_max_size_pruning_the_oldest_output_then_the_oldest_runs() {
    let device = Device::new();
    // Three scripts print 64 KiB each; 500 items the schedule never runs add
    // a row each to every run.
    let mut items = loud_scripts(3);
    items.extend((0..500).map(|number| {
        json!({ "id": format!("never-{number:04}"), "name": format!("Never {number:04}"),
                "type": "custom_script", "frequency": "no_enforcement", "audit": "exit 0" })
    }));
    let blueprint = device.write_blueprint(&blueprint(items));

    const CHECK_INS: usize = 20;
    let mut largest = 0;
    let mut recorded = Vec::new();
    for _ in 0..CHECK_INS {
        check_in(&device, &blueprint, BUDGET);
        largest = largest.max(store_files(&device));
        recorded.push(history(&device, &["--limit", "1"])[0]["id"].clone());
    }
    assert!(largest <= BUDGET + SLACK, "the store's files took {largest} bytes, over {BUDGET} + {SLACK}");

    // Newest first: the daily check-in (the first one) is kept for the schedule,
    // and the recurring runs kept are the newest ones, none missing between.
    let runs = history(&device, &["--limit", "100"]);
    let runs: Vec<&Value> = runs.as_array().unwrap().iter().collect();
    assert!(runs.len() < CHECK_INS, "the oldest runs were deleted: {} kept", runs.len());
    assert_eq!(runs.last().unwrap()["kind"], "daily", "the newest completed daily check-in stays");
    assert_eq!(runs.last().unwrap()["id"], recorded[0]);
    let recurring = &runs[..runs.len() - 1];
    assert!(recurring.len() >= 2, "more than the newest recurring run is kept: {}", recurring.len());
    let newest: Vec<&Value> = recorded.iter().rev().take(recurring.len()).collect();
    assert_eq!(recurring.iter().map(|run| &run["id"]).collect::<Vec<_>>(), newest, "the oldest went first");

    // The newest run keeps its output; older ones lose theirs, oldest first.
    let kept: Vec<bool> = recurring.iter().map(|run| output_kept(&device, run["id"].as_str().unwrap())).collect();
    assert!(kept[0], "the newest run is whole");
    let whole = kept.iter().take_while(|kept| **kept).count();
    assert!(kept[whole..].iter().all(|kept| !kept), "output goes oldest first: {kept:?} (newest first)");
    assert!(whole < kept.len(), "the oldest kept runs lost their output before they went: {kept:?}");
    assert!(!output_kept(&device, runs.last().unwrap()["id"].as_str().unwrap()));

    // Status still reads the newest run whole.
    let status = device.status();
    assert_eq!(status["last_run"]["id"], recurring[0]["id"]);
}

#[test]
fn a_run_whose_output_alone_passes_the_budget_keeps_its_rows_not_its_output() {
    let device = Device::new();
    // 24 scripts of 64 KiB: 1.5 MiB of output against a 1 MiB budget.
    let blueprint = device.write_blueprint(&blueprint(loud_scripts(24)));
    check_in(&device, &blueprint, 1 << 20);
    let files = store_files(&device);
    assert!(files <= (1 << 20) + SLACK, "the store's files took {files} bytes");
    let runs = history(&device, &[]);
    let id = runs[0]["id"].as_str().unwrap();
    assert_eq!(runs[0]["counts"]["succeeded"], 24, "{runs}");
    assert!(!output_kept(&device, id), "the run's output was pruned");
    let run = history(&device, &["--run", id]);
    let pruned = run["items"][0]["output"].as_str().unwrap();
    assert!(pruned.contains("state.max_size"), "the pruned output says why: {pruned:?}");
}
