//! `agent library --list|--state|--item` through the real binary: the list in
//! run order with each item's last run, one item's results newest first and its
//! last output, and one item run now as a run of kind `item` (trigger `cli`),
//! its frequency deciding unless `-F`, with and without a running daemon, its
//! results reported to the tenant and its telemetry exported like any run's; an
//! unknown item exits 2, and
//! a person without admin rights is refused the run.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::daemon::harness::{Daemon, finished, runs, setting, wait_for_runs};
use crate::otlp_receiver::{Behavior, OtlpReceiver, points};
use crate::support::{Device, PATIENCE, blueprint, code, running_as_root, script, text};
use crate::tenant::server::TestTenant;
use crate::tenant::{configure, counting_blueprint};

/// A script of `frequency` that appends a line to `$AGENT_ROOT/<id>.count` and
/// prints `ran <id>`.
fn counting(id: &str, name: &str, frequency: &str) -> Value {
    let audit = format!("#!/bin/sh\necho ran >> \"$AGENT_ROOT/{id}.count\"\necho \"ran {id}\"\n");
    let mut item = script(id, name, &audit);
    item["frequency"] = json!(frequency);
    item
}

/// How many times item `id` ran on `device`.
fn times_ran(device: &Device, id: &str) -> usize {
    std::fs::read_to_string(device.root().join(format!("{id}.count"))).map(|text| text.lines().count()).unwrap_or(0)
}

/// A blueprint with an ordinary script, a `once`, a `no_enforcement` and a
/// `daily` one, written in an order that is not the run order.
fn library_blueprint(device: &Device) -> PathBuf {
    device.write_blueprint(&blueprint(vec![
        counting("never", "Never", "no_enforcement"),
        counting("once", "Once", "once"),
        counting("daily", "Daily", "daily"),
        counting("plain", "Plain", "every_15_min"),
    ]))
}

/// `agent --set blueprint_file=<path> library <arguments>`.
fn library(device: &Device, path: &Path, arguments: &[&str]) -> std::process::Output {
    let blueprint_file = setting("blueprint_file", path);
    let mut all = vec!["--set", blueprint_file.as_str(), "library"];
    all.extend_from_slice(arguments);
    device.run(&all)
}

/// Runs `agent library --item <arguments> --json` and returns its run record.
fn run_item(device: &Device, path: &Path, arguments: &[&str]) -> Value {
    let mut all = vec!["--item"];
    all.extend_from_slice(arguments);
    all.push("--json");
    let output = library(device, path, &all);
    assert_eq!(code(&output), 0, "stdout: {}\nstderr: {}", text(&output.stdout), text(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("a run record")
}

/// The run's (kind, trigger) and its items' (id, status).
fn summary(run: &Value) -> ((String, String), Vec<(String, String)>) {
    let header = (run["kind"].as_str().unwrap().to_string(), run["trigger"].as_str().unwrap().to_string());
    let items = run["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| (item["id"].as_str().unwrap().to_string(), item["status"].as_str().unwrap().to_string()))
        .collect();
    (header, items)
}

fn item_run(id: &str, status: &str) -> ((String, String), Vec<(String, String)>) {
    (("item".into(), "cli".into()), vec![(id.into(), status.into())])
}

#[test]
fn the_list_shows_every_item_in_run_order_with_its_last_run() {
    let device = Device::new();
    let path = library_blueprint(&device);
    device.check_in_ok(&path, &[]);

    let output = library(&device, &path, &["--list", "--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let listed: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    let shown: Vec<(&str, &str, &str, Option<&str>)> = listed
        .iter()
        .map(|item| {
            let frequency = item["frequency"].as_str().unwrap();
            (item["id"].as_str().unwrap(), item["type"].as_str().unwrap(), frequency, item["last_status"].as_str())
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("daily", "custom_script", "daily", Some("succeeded")),
            ("never", "custom_script", "no_enforcement", None),
            ("once", "custom_script", "once", Some("succeeded")),
            ("plain", "custom_script", "every_15_min", Some("succeeded")),
        ],
        "run order is by name; a no_enforcement item never ran"
    );
    assert!(listed[0]["last_at"].is_string() && listed[1]["last_at"].is_null(), "{listed:?}");

    let output = library(&device, &path, &["--list"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let lines: Vec<String> = text(&output.stdout).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines[0].starts_with("daily  Daily  [custom_script, daily]  succeeded "), "{}", lines[0]);
    assert_eq!(lines[1], "never  Never  [custom_script, no_enforcement]  never ran");
}

#[test]
fn the_state_shows_the_items_last_results_newest_first_and_its_last_output() {
    let device = Device::new();
    let path = library_blueprint(&device);
    device.check_in_ok(&path, &[]);
    let second = run_item(&device, &path, &["Plain"]);

    let output = library(&device, &path, &["--state", "plain", "--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let state: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((state["id"].as_str(), state["last_status"].as_str()), (Some("plain"), Some("succeeded")));
    let results = state["results"].as_array().unwrap();
    let kinds: Vec<(&str, &str, i64)> = results
        .iter()
        .map(|result| {
            (
                result["kind"].as_str().unwrap(),
                result["status"].as_str().unwrap(),
                result["exit_code"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(kinds, [("item", "succeeded", 0), ("daily", "succeeded", 0)], "newest first");
    assert_eq!(results[0]["run_id"], second["id"]);
    assert_eq!(state["output"].as_str().map(str::trim_end), Some("--- audit (exit 0) ---\nran plain"));

    let output = library(&device, &path, &["--state", "Plain"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let shown = text(&output.stdout);
    assert!(shown.contains(second["id"].as_str().unwrap()) && shown.contains("item (cli"), "{shown}");
    assert!(shown.contains("Last output:\n--- audit (exit 0) ---\nran plain"), "{shown}");
}

#[test]
fn an_item_runs_alone_as_a_run_of_kind_item_recorded_in_the_history() {
    let device = Device::new();
    let path = library_blueprint(&device);
    let output = library(&device, &path, &["--item", "plain"]);
    assert_eq!(code(&output), 0, "stdout: {}\nstderr: {}", text(&output.stdout), text(&output.stderr));
    assert!(text(&output.stdout).contains("Plain"), "progress as agent run shows it: {}", text(&output.stdout));
    assert_eq!(times_ran(&device, "plain"), 1);
    assert_eq!(times_ran(&device, "once"), 0, "only the item asked for runs");

    let history = runs(&device);
    assert_eq!(history.len(), 1);
    assert_eq!((history[0]["kind"].as_str(), history[0]["trigger"].as_str()), (Some("item"), Some("cli")));
    let status = device.status();
    assert_eq!(summary(&status["last_run"]), item_run("plain", "succeeded"));
    assert!(status["last_recurring_at"].is_null() && status["last_daily_at"].is_null(), "no schedule mark moved");

    let failing = device.write_blueprint(&blueprint(vec![script("bad", "Bad", "#!/bin/sh\nexit 3\n")]));
    let output = library(&device, &failing, &["--item", "Bad"]);
    assert_eq!(code(&output), 1, "a failed item exits 1, as agent run does");
}

#[test]
fn force_runs_a_done_once_item_again_and_without_it_the_item_is_skipped() {
    let device = Device::new();
    let path = library_blueprint(&device);
    assert_eq!(summary(&run_item(&device, &path, &["once"])), item_run("once", "succeeded"));
    assert_eq!(times_ran(&device, "once"), 1);

    let skipped = run_item(&device, &path, &["Once"]);
    assert_eq!(summary(&skipped), item_run("once", "skipped"));
    assert!(skipped["items"][0]["message"].as_str().unwrap().contains("already succeeded"), "{skipped:#}");
    assert_eq!(times_ran(&device, "once"), 1, "skipped without -F");

    assert_eq!(summary(&run_item(&device, &path, &["once", "-F"])), item_run("once", "succeeded"));
    assert_eq!(times_ran(&device, "once"), 2, "-F runs it again");
}

#[test]
fn a_no_enforcement_or_daily_item_is_skipped_unless_forced() {
    let device = Device::new();
    let path = library_blueprint(&device);
    for id in ["never", "daily"] {
        let skipped = run_item(&device, &path, &[id]);
        assert_eq!(summary(&skipped), item_run(id, "skipped"));
        assert_eq!(times_ran(&device, id), 0);
        assert_eq!(summary(&run_item(&device, &path, &[id, "-F"])), item_run(id, "succeeded"));
        assert_eq!(times_ran(&device, id), 1);
    }
}

#[test]
fn an_unknown_item_exits_2_naming_it_and_nothing_runs() {
    let device = Device::new();
    let path = library_blueprint(&device);
    for arguments in [["--item", "Nope"], ["--state", "Nope"]] {
        let output = library(&device, &path, &arguments);
        assert_eq!(code(&output), 2, "{arguments:?}: {}", text(&output.stderr));
        assert!(text(&output.stderr).contains("no library item \"Nope\""), "{}", text(&output.stderr));
    }
    assert!(!device.state_dir().join("agent.sqlite3").exists(), "nothing ran, nothing was recorded");
    let output = device.run(&["library", "--list", "--item", "plain"]);
    assert_eq!(code(&output), 2, "one action at a time: {}", text(&output.stderr));
}

#[test]
fn through_a_running_daemon_the_item_runs_as_its_next_run() {
    let device = Device::new();
    let path = library_blueprint(&device);
    let blueprint_file = setting("blueprint_file", &path);
    let daemon =
        Daemon::start(&device, &["schedule.recurring_interval=1h", "schedule.daily_interval=1h", &blueprint_file]);
    wait_for_runs(&device, PATIENCE, |runs| runs.first().is_some_and(finished));
    assert_eq!(times_ran(&device, "once"), 1);

    assert_eq!(summary(&run_item(&device, &path, &["Once", "-F"])), item_run("once", "succeeded"));
    assert_eq!(times_ran(&device, "once"), 2);
    let headers: Vec<(String, String)> = runs(&device)
        .iter()
        .map(|run| (run["kind"].as_str().unwrap().to_string(), run["trigger"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(headers, [("daily".into(), "schedule".into()), ("item".into(), "cli".into())]);
    let output = library(&device, &path, &["--item", "Nope"]);
    assert_eq!(code(&output), 2, "{}", text(&output.stderr));

    if running_as_root("asking the daemon as nobody") {
        let replies = device.request_as_nobody(&json!({ "request": "run_item", "item": "plain", "force": true }));
        assert_eq!(replies.len(), 1, "{replies:?}");
        assert_eq!(replies[0]["reply"], "refused", "{replies:?}");
        assert_eq!(times_ran(&device, "plain"), 1, "a person without admin rights runs nothing");
    }
    drop(daemon);
}

#[test]
fn the_items_results_are_reported_to_the_tenant_as_a_run_of_kind_item() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-1", counting_blueprint(&device));
    configure(&device, &tenant.url(), "tok-1");
    assert_eq!(code(&device.run(&["run"])), 0, "the first check-in saves the blueprint");

    let output = device.run(&["library", "--item", "Count runs", "--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let record: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary(&record), item_run("li-count", "succeeded"));
    let checkins = tenant.seen_at("/api/v1/agent/checkin");
    let asked: Value = serde_json::from_str(&checkins.last().unwrap().body).unwrap();
    assert_eq!(asked["kind"], "item");
    assert!(tenant.accepted_run_ids().contains(&record["id"].as_str().unwrap().to_string()), "reported");
    let inventories = tenant.seen_at("/api/v1/agent/inventory").len();
    assert_eq!(inventories, 1, "an item run sends no inventory");
}

#[test]
fn an_item_run_exports_the_same_check_in_telemetry_with_kind_item() {
    let device = Device::new();
    let receiver = OtlpReceiver::start(Behavior::Answer);
    let path = library_blueprint(&device);
    let endpoint = format!("otel.endpoint={}", receiver.endpoint());
    let blueprint_file = setting("blueprint_file", &path);
    let output = device.run(&["--set", &endpoint, "--set", &blueprint_file, "library", "--item", "plain"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));

    let metrics = receiver.metrics();
    assert_eq!(metrics.len(), 1, "one export for the one run");
    let runs = points(&metrics[0], "agent.checkin.runs");
    let shown: Vec<(&str, &str, i64)> = runs
        .iter()
        .map(|(attributes, count)| (attributes["kind"].as_str(), attributes["outcome"].as_str(), *count))
        .collect();
    assert_eq!(shown, [("item", "succeeded", 1)]);
    let items = points(&metrics[0], "agent.checkin.items");
    assert_eq!(items.len(), 1, "the one item: {items:?}");
    assert_eq!(items[0].0["item.status"], "succeeded");
}
