//! A damaged state store never bricks the agent: cut short, with a garbage header
//! or with a damaged page, the next `agent run` moves it aside, starts a fresh
//! store with the same device id, and says so in `agent status` and as drift.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::daemon::harness::{Daemon, setting};
use crate::end_to_end::harness::{TOKEN, Tenant, enroll};
use crate::otlp_receiver::{Behavior, OtlpReceiver, drift, resource};
use crate::support::{Device, PATIENCE, blueprint, code, logged, text};

/// An item run once per device, one run every check-in (each counting its runs
/// in a file under the root), and one with enough output to fill several pages
/// of the store.
fn counting_blueprint() -> Value {
    let counting = |id: &str, frequency: &str, extra: &str| {
        json!({
            "id": id, "name": id, "type": "custom_script", "frequency": frequency,
            "audit": format!("#!/bin/sh\necho ran >> \"$AGENT_ROOT/{id}.count\"\n{extra}"),
        })
    };
    let output =
        "i=0; while [ $i -lt 400 ]; do echo \"line $i of output to fill the store's pages\"; i=$((i+1)); done\n";
    blueprint(vec![
        counting("once", "once", ""),
        counting("every", "every_15_min", ""),
        counting("wordy", "every_15_min", output),
    ])
}

fn times_ran(device: &Device, id: &str) -> usize {
    std::fs::read_to_string(device.root().join(format!("{id}.count"))).map(|text| text.lines().count()).unwrap_or(0)
}

fn store_file(device: &Device) -> PathBuf {
    device.state_dir().join("agent.sqlite3")
}

/// The device id in the store, read as any SQLite client would.
fn stored_device_id(device: &Device) -> String {
    let connection = rusqlite::Connection::open(store_file(device)).unwrap();
    connection.query_row("SELECT value FROM device WHERE key = 'device_id'", [], |row| row.get(0)).unwrap()
}

/// `agent run --blueprint PATH --json` plus `extra`: exit 0 asserted; the run.
fn run(device: &Device, path: &Path, extra: &[&str]) -> Value {
    let mut arguments = vec!["--json"];
    arguments.extend_from_slice(extra);
    let output = device.check_in(path, &arguments);
    assert_eq!(code(&output), 0, "agent run: {}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The names of the damaged files kept in the state folder, sorted.
fn damaged_files(device: &Device) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(device.state_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("agent.sqlite3.damaged-"))
        .collect();
    names.sort();
    names
}

/// Two check-ins (the first daily, the second recurring), then `damage` to the
/// store; returns the device id and the blueprint's path.
fn damaged_device(device: &Device, damage: impl FnOnce(&Path)) -> (String, PathBuf) {
    let path = device.write_blueprint(&counting_blueprint());
    assert_eq!(run(device, &path, &[])["kind"], "daily");
    assert_eq!(run(device, &path, &[])["kind"], "recurring");
    let device_id = stored_device_id(device);
    damage(&store_file(device));
    (device_id, path)
}

/// What every damage must lead to: the next run works from a fresh store with
/// the same device id, as a daily check-in running the `once` item again, and
/// the rebuild is logged, shown and counted as drift; the run after it is
/// recurring and keeps the drift until a later daily check-in ends.
fn assert_rebuilt(device: &Device, device_id: &str, path: &Path) {
    let status = device.status();
    assert!(status["store"]["damaged"].is_string(), "damage seen before the run: {status:#}");
    let rebuilt_run = run(device, path, &[]);
    assert_eq!(rebuilt_run["outcome"], "succeeded", "{rebuilt_run:#}");
    assert_eq!(rebuilt_run["kind"], "daily", "a fresh store owes a daily check-in");
    assert_eq!(rebuilt_run["drift"]["store_rebuilt"], true);
    assert_eq!(times_ran(device, "once"), 2, "the once item runs again");
    assert_eq!(stored_device_id(device), device_id, "the device id survives");
    let kept = device.state_dir().join("device-id");
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), format!("{device_id}\n"));
    assert_eq!(std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777, 0o600);

    let status = device.status();
    assert_eq!(status["drift"]["store_rebuilt"], true, "{status:#}");
    assert_eq!(status["store"]["damaged"], Value::Null);
    let moved_to = PathBuf::from(status["store"]["rebuilt"]["moved_to"].as_str().unwrap());
    assert!(moved_to.exists(), "the damaged file is kept at {}", moved_to.display());
    assert_eq!(damaged_files(device).first().map(String::as_str), moved_to.file_name().and_then(|name| name.to_str()));
    let human = text(&device.run(&["status"]).stdout);
    assert!(human.contains("State store:             rebuilt at"), "{human}");
    assert!(human.contains("store rebuilt"), "{human}");
    let log = logged(device);
    assert!(log.contains("moved it aside") && log.contains(moved_to.to_str().unwrap()), "{log}");

    assert_eq!(run(device, path, &[])["drift"]["store_rebuilt"], true, "holds until a later daily check-in");
    let daily = run(device, path, &["--reset-daily"]);
    assert_eq!((&daily["kind"], &daily["drift"]["store_rebuilt"]), (&json!("daily"), &json!(true)));
    assert_eq!(device.status()["drift"]["store_rebuilt"], false, "a later daily check-in ends the drift");
    assert_eq!(
        damaged_files(device).len(),
        1,
        "one set, the write-ahead log folded in on close: {:?}",
        damaged_files(device)
    );
}

#[test]
fn a_store_cut_short_is_moved_aside_and_rebuilt() {
    let device = Device::new();
    let (device_id, path) = damaged_device(&device, |store| {
        let length = std::fs::metadata(store).unwrap().len();
        assert!(length >= 4 * 4096, "a store of several pages: {length}");
        let file = std::fs::OpenOptions::new().write(true).open(store).unwrap();
        file.set_len(length / 2 + 100).unwrap();
    });
    assert_rebuilt(&device, &device_id, &path);
}

#[test]
fn a_store_with_a_garbage_header_is_moved_aside_and_rebuilt() {
    let device = Device::new();
    let (device_id, path) = damaged_device(&device, overwrite_header);
    assert_rebuilt(&device, &device_id, &path);
}

fn overwrite_header(store: &Path) {
    let mut bytes = std::fs::read(store).unwrap();
    bytes[..100].copy_from_slice(&[b'#'; 100]);
    std::fs::write(store, bytes).unwrap();
}

#[test]
fn a_store_with_a_damaged_page_is_moved_aside_and_rebuilt() {
    let device = Device::new();
    let (device_id, path) = damaged_device(&device, |store| {
        let mut bytes = std::fs::read(store).unwrap();
        let page_size = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
        let pages = bytes.len() / page_size;
        // A b-tree page past the middle (its first byte names its kind): garbage.
        let page = (pages / 2..pages)
            .find(|page| matches!(bytes[page * page_size], 0x02 | 0x05 | 0x0a | 0x0d))
            .expect("a b-tree page in the second half");
        bytes[page * page_size..(page + 1) * page_size].fill(0xA5);
        std::fs::write(store, bytes).unwrap();
    });
    // The header reads well: only the full check of the next check-in finds it.
    assert_rebuilt_after_full_check(&device, &device_id, &path);
}

/// A damaged page leaves the header sound: `agent status` (which reads only
/// what it shows) may not notice, the next check-in's full check does.
fn assert_rebuilt_after_full_check(device: &Device, device_id: &str, path: &Path) {
    let status = device.run(&["status", "--json"]);
    assert_eq!(code(&status), 0, "status answers: {}", text(&status.stderr));
    let rebuilt_run = run(device, path, &[]);
    assert_eq!((&rebuilt_run["kind"], &rebuilt_run["drift"]["store_rebuilt"]), (&json!("daily"), &json!(true)));
    assert_eq!(times_ran(device, "once"), 2, "the once item runs again");
    assert_eq!(stored_device_id(device), device_id, "the device id survives");
    assert_eq!(device.status()["drift"]["store_rebuilt"], true);
    assert_eq!(damaged_files(device).len(), 1, "{:?}", damaged_files(device));
}

#[test]
fn status_and_history_answer_on_a_damaged_store_and_only_the_newest_sets_are_kept() {
    let device = Device::new();
    let (device_id, path) = damaged_device(&device, overwrite_header);
    let status = device.run(&["status"]);
    assert_eq!(code(&status), 0, "{}", text(&status.stderr));
    let human = text(&status.stdout);
    assert!(human.contains("State store:             damaged (") && human.contains("the next check-in"), "{human}");
    let json: Value = serde_json::from_slice(&device.run(&["status", "--json"]).stdout).unwrap();
    assert!(json["store"]["damaged"].as_str().unwrap().contains("not a database"), "{json:#}");
    let history = device.run(&["history", "--json"]);
    assert_eq!((code(&history), text(&history.stdout).trim()), (0, "[]"));
    assert!(text(&history.stderr).contains("next check-in"), "{}", text(&history.stderr));
    let doctor: Value = serde_json::from_slice(&device.run(&["doctor", "--json"]).stdout).unwrap();
    let checks = doctor["checks"].as_array().unwrap();
    let last_checkin = checks.iter().find(|check| check["name"] == "last_checkin").unwrap();
    assert!(last_checkin["value"].as_str().unwrap().starts_with("the state store is damaged"), "{last_checkin:#}");
    assert!(last_checkin["fix"].as_str().unwrap().contains("moves the damaged store aside"), "{last_checkin:#}");

    for _ in 0..4 {
        run(&device, &path, &[]);
        overwrite_header(&store_file(&device));
        // Each set gets its own time, to the millisecond.
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    run(&device, &path, &[]);
    assert_eq!(stored_device_id(&device), device_id);
    let sets = damaged_files(&device);
    assert_eq!(sets.len(), 3, "only the newest sets stay: {sets:?}");
}

#[test]
fn the_tenant_sees_the_same_device_and_the_rebuild_as_drift() {
    let device = Device::new();
    let tenant = Tenant::start(counting_blueprint());
    enroll(&device, &tenant.url(), TOKEN);
    let first = device.run(&["run"]);
    assert_eq!(code(&first), 0, "{}", text(&first.stderr));
    let device_id = tenant.device_id();
    overwrite_header(&store_file(&device));
    let rebuilt = device.run(&["run"]);
    assert_eq!(code(&rebuilt), 0, "{}", text(&rebuilt.stderr));
    assert_eq!(tenant.device_id(), device_id, "still one device, the same");
    let results = tenant.reports("results");
    let last = &results.last().expect("results")["body"];
    assert_eq!(last["device_id"], json!(device_id));
    assert_eq!(last["run"]["drift"]["store_rebuilt"], true, "{last:#}");
    assert_eq!(last["run"]["kind"], "daily");
}

#[test]
fn the_daemon_checks_in_at_once_to_rebuild_a_damaged_store() {
    let device = Device::new();
    let (device_id, path) = damaged_device(&device, overwrite_header);
    // The schedule owes nothing for a while; only the damage makes it check in.
    let settings = [setting("blueprint_file", &path), "schedule.recurring_interval=1h".to_string()];
    let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
    let mut daemon = Daemon::start(&device, &settings);
    let start = std::time::Instant::now();
    while device.status()["last_run"]["drift"]["store_rebuilt"] != true {
        assert!(start.elapsed() < PATIENCE, "never rebuilt: {:#}", device.status());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    daemon.stop();
    assert_eq!(device.status()["last_run"]["kind"], "daily");
    assert_eq!(stored_device_id(&device), device_id);
    assert_eq!(damaged_files(&device).len(), 1, "{:?}", damaged_files(&device));
}

#[test]
fn the_rebuild_is_exported_as_drift_under_the_same_device_id() {
    let device = Device::new();
    let (device_id, path) = damaged_device(&device, overwrite_header);
    let receiver = OtlpReceiver::start(Behavior::Answer);
    let endpoint = format!("otel.endpoint={}", receiver.endpoint());
    run(&device, &path, &["--set", &endpoint]);
    let metrics = receiver.wait_for_metrics(1, PATIENCE);
    assert_eq!(drift(&metrics[0], "store_rebuilt"), Some(1));
    assert_eq!(resource(&metrics[0]).get("device.id"), Some(&device_id));
}
