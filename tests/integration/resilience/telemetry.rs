//! Telemetry keeps its word: a check-in that finds no blueprint still exports
//! `missing_policy` before it exits 2, bounded by `otel.export_timeout`, from
//! `agent run` and from the daemon's scheduled check-in alike.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

use crate::daemon::harness::Daemon;
use crate::otlp_receiver::{Behavior, OtlpReceiver, drift, drift_changes, log_records, points, resource};
use crate::support::{Device, PATIENCE, code, text};

/// `otel.endpoint=…` for `receiver`.
fn endpoint(receiver: &OtlpReceiver) -> String {
    format!("otel.endpoint={}", receiver.endpoint())
}

/// `agent run --json --set …` on a device with no blueprint anywhere: no
/// `--blueprint`, no `blueprint_file`, none saved, no tenant.
fn run_without_blueprint(device: &Device, settings: &[&str]) -> std::process::Output {
    let mut command = device.agent();
    command.args(["run", "--json"]);
    for setting in settings {
        command.args(["--set", setting]);
    }
    command.output().expect("agent runs")
}

/// The device id the agent keeps in its store.
fn device_id(device: &Device) -> String {
    let store = rusqlite::Connection::open(device.state_dir().join("agent.sqlite3")).unwrap();
    store.query_row("SELECT value FROM device WHERE key = 'device_id'", [], |row| row.get(0)).unwrap()
}

/// The export says no policy: `missing_policy` is 1, no run was counted, and the
/// resource names the device but no blueprint and no team.
fn assert_missing_policy(device: &Device, metrics: &ExportMetricsServiceRequest) {
    assert_eq!(drift(metrics, "missing_policy"), Some(1));
    for kind in ["outdated_client", "stale_token", "store_rebuilt"] {
        assert_eq!(drift(metrics, kind), Some(0), "{kind}");
    }
    assert_eq!(drift(metrics, "reapplied"), None, "a count, not a drift kind");
    assert!(points(metrics, "agent.checkin.runs").is_empty(), "nothing ran");
    let attributes: BTreeMap<String, String> = resource(metrics);
    assert!(!attributes.contains_key("team.id") && !attributes.contains_key("blueprint.id"), "{attributes:#?}");
    assert_eq!(attributes["device.id"], device_id(device));
    assert_eq!(attributes["service.instance.id"], device_id(device));
    assert_eq!(attributes["service.name"], "endpoint-agent");
}

#[test]
fn agent_run_with_no_blueprint_anywhere_exports_missing_policy_before_exiting_2() {
    let device = Device::new();
    let receiver = OtlpReceiver::start(Behavior::Answer);
    let output = run_without_blueprint(&device, &[&endpoint(&receiver)]);
    assert_eq!(code(&output), 2, "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("no blueprint"), "{}", text(&output.stderr));
    let metrics = receiver.metrics();
    assert_eq!(metrics.len(), 1, "one export, before the exit");
    assert_missing_policy(&device, &metrics[0]);
    let appeared = ("missing_policy".to_string(), "0".to_string(), "1".to_string(), None);
    assert_eq!(drift_changes(&receiver.logs()), [appeared], "the drift appeared, with no run.id");
    let record = &log_records(&receiver.logs())[0];
    assert_eq!(record.0["device.id"], device_id(&device), "the log resource names the device");
    assert_eq!(record.1.severity_text, "WARN");

    // Again: the gauge still says 1; the change was told once.
    let output = run_without_blueprint(&device, &[&endpoint(&receiver)]);
    assert_eq!(code(&output), 2, "{}", text(&output.stderr));
    let metrics = receiver.metrics();
    assert_eq!(metrics.len(), 2);
    assert_missing_policy(&device, &metrics[1]);
    assert_eq!(drift_changes(&receiver.logs()).len(), 1, "no second change record");
}

#[test]
fn agent_run_with_no_blueprint_and_no_collector_touches_nothing() {
    let device = Device::new();
    let output = run_without_blueprint(&device, &[]);
    assert_eq!(code(&output), 2, "{}", text(&output.stderr));
    assert!(!device.state_dir().join("agent.sqlite3").exists(), "without telemetry, exit 2 records nothing");
}

#[test]
fn a_hung_collector_costs_a_check_in_with_no_blueprint_at_most_the_export_timeout() {
    let device = Device::new();
    let hung = OtlpReceiver::start(Behavior::Hang);
    let clock = Instant::now();
    let output = run_without_blueprint(&device, &[&endpoint(&hung), "otel.export_timeout=1s"]);
    let took = clock.elapsed();
    assert_eq!(code(&output), 2, "still exit 2: {}", text(&output.stderr));
    let paths: Vec<_> = hung.exports().iter().map(|export| export.path.clone()).collect();
    assert!(paths.contains(&"/v1/metrics".to_string()), "{paths:?}");
    assert!(took >= Duration::from_secs(1), "it waited for the collector: {took:?}");
    assert!(took < Duration::from_secs(4), "bounded by otel.export_timeout: {took:?}");
}

#[test]
fn the_daemon_s_scheduled_check_in_with_no_blueprint_exports_missing_policy() {
    let device = Device::new();
    let receiver = OtlpReceiver::start(Behavior::Answer);
    let mut daemon = Daemon::start(&device, &[&endpoint(&receiver), "schedule.daily_interval=1h"]);
    // Sent by the scheduled check-in itself, while the daemon runs on.
    let metrics = receiver.wait_for_metrics(1, PATIENCE);
    assert!(daemon.try_status().is_some(), "the daemon is still running");
    assert_missing_policy(&device, &metrics[0]);
    // The logs go side by side with the metrics: give them the same moment to land.
    let start = Instant::now();
    while receiver.logs().is_empty() && start.elapsed() < PATIENCE {
        std::thread::sleep(Duration::from_millis(20));
    }
    let appeared = ("missing_policy".to_string(), "0".to_string(), "1".to_string(), None);
    assert_eq!(drift_changes(&receiver.logs()), [appeared]);
    assert!(daemon.stop().success());
}
