//! The agent's OpenTelemetry against a real OTLP/HTTP receiver on 127.0.0.1: the
//! resource, the check-in metrics, the drift gauge as a console reads it, the log
//! records, and a collector that is down or hangs.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::otlp_receiver::{
    Behavior, OtlpReceiver, drift, drift_changes, log_records, log_scopes, metric, metric_scopes, points, resource,
};
use crate::support::{Device, PATIENCE, code, logged, script, text};
use crate::tenant::server::TestTenant;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `--set otel.endpoint=…` for `receiver`.
fn endpoint(receiver: &OtlpReceiver) -> String {
    format!("otel.endpoint={}", receiver.endpoint())
}

/// A stand-in `sw_vers` printing what macOS 14.7.1 prints; `--set commands.sw_vers=…`.
fn sw_vers(device: &Device) -> String {
    let output = "ProductName:\t\tmacOS\nProductVersion:\t\t14.7.1\nBuildVersion:\t\t23H222\n";
    let path = device.write_file("bin/sw_vers", &format!("#!/bin/sh\nprintf '{}'\n", output.replace('\n', "\\n")));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("commands.sw_vers={}", path.display())
}

/// A blueprint of one passing script, with `extra` top-level keys.
fn policy(device: &Device, extra: Value) -> PathBuf {
    let mut blueprint = json!({ "id": "bp-eng", "name": "Engineering", "library_items": [
        script("li-ok", "Passes", "#!/bin/sh\nexit 0\n")
    ]});
    blueprint.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    device.write_blueprint(&blueprint)
}

/// `agent run --json --blueprint PATH --set …`, waited for.
fn run(device: &Device, blueprint: &Path, settings: &[&str]) -> Output {
    let mut command = device.agent();
    command.args(["run", "--json", "--blueprint", blueprint.to_str().unwrap()]);
    for setting in settings {
        command.args(["--set", setting]);
    }
    command.output().expect("agent runs")
}

/// The run record `agent run --json` printed.
fn record(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("run JSON: {}", text(&output.stderr)))
}

/// The device id the agent keeps in its store.
fn device_id(device: &Device) -> String {
    let store = rusqlite::Connection::open(device.state_dir().join("agent.sqlite3")).unwrap();
    store.query_row("SELECT value FROM device WHERE key = 'device_id'", [], |row| row.get(0)).unwrap()
}

/// The host name as the kernel has it.
fn host_name() -> String {
    nix::unistd::gethostname().unwrap().to_string_lossy().into_owned()
}

#[test]
fn every_resource_attribute_is_exported_with_its_value_through_the_standard_variables() {
    let device = Device::new();
    let receiver = OtlpReceiver::start(Behavior::Answer);
    let blueprint = policy(&device, json!({ "team_id": "T-1234" }));
    let output = device
        .agent()
        .args(["run", "--blueprint", blueprint.to_str().unwrap(), "--set", &sw_vers(&device)])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_EXPORTER_OTLP_HEADERS", "x-fleet-key=k-42")
        .env("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test,device.id=spoofed,service.instance.id=spoofed")
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let metrics = receiver.metrics();
    assert_eq!(metrics.len(), 1, "one export per check-in");
    let attributes = resource(&metrics[0]);
    let expected = [
        ("service.name", "endpoint-agent"),
        ("service.version", VERSION),
        ("app.version", VERSION),
        ("team.id", "T-1234"),
        ("blueprint.id", "bp-eng"),
        ("device.id", &device_id(&device)),
        ("service.instance.id", &device_id(&device)),
        ("host.name", &host_name()),
        ("os.type", if cfg!(target_os = "macos") { "darwin" } else { std::env::consts::OS }),
        ("os.version", "14.7.1"),
        ("deployment.environment", "test"),
    ];
    for (key, value) in expected {
        assert_eq!(attributes.get(key).map(String::as_str), Some(value), "{key} in {attributes:#?}");
    }
    let export = &receiver.exports()[0];
    assert_eq!(export.path, "/v1/metrics");
    assert_eq!(export.headers.get("content-type").map(String::as_str), Some("application/x-protobuf"));
    assert_eq!(export.headers.get("x-fleet-key").map(String::as_str), Some("k-42"), "OTEL_EXPORTER_OTLP_HEADERS");
    let runs = points(&metrics[0], "agent.checkin.runs");
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].0["kind"].as_str(), runs[0].0["outcome"].as_str(), runs[0].1), ("daily", "succeeded", 1));
    let items = points(&metrics[0], "agent.checkin.items");
    assert_eq!(items.len(), 1);
    assert_eq!((items[0].0["item.type"].as_str(), items[0].0["item.status"].as_str()), ("custom_script", "succeeded"));
    let gauge = metric(&metrics[0], "agent.drift").expect("the drift gauge");
    assert_eq!(gauge.unit, "1", "a dimensionless 0/1 flag");
    let kinds: Vec<_> = points(&metrics[0], "agent.drift")
        .into_iter()
        .map(|(attributes, value)| (attributes["drift.kind"].clone(), value))
        .collect();
    let expected =
        ["outdated_client", "missing_policy", "stale_token", "store_rebuilt"].map(|kind| (kind.to_string(), 0));
    assert_eq!(sorted(kinds), sorted(expected.to_vec()), "the four kinds, no re-applied count among them");
    let reapplied = points(&metrics[0], "agent.checkin.reapplied");
    assert_eq!(reapplied.len(), 1, "the series exists from the first check-in: {reapplied:?}");
    assert_eq!((reapplied[0].0["kind"].as_str(), reapplied[0].1), ("daily", 0));
    assert_eq!(metric(&metrics[0], "agent.checkin.reapplied").unwrap().unit, "{item}");
    assert!(receiver.logs().is_empty(), "nothing failed and no drift changed: no log records");
}

#[test]
fn check_in_metrics_and_item_failures_carry_the_run_and_item_ids() {
    let device = Device::new();
    let receiver = OtlpReceiver::start(Behavior::Answer);
    let blueprint = device.write_blueprint(&json!({ "id": "bp-eng", "team_id": "T-1", "library_items": [
        script("li-ok", "Passes", "#!/bin/sh\nexit 0\n"),
        script("li-bad", "Fails", "#!/bin/sh\necho broken\nexit 3\n"),
    ]}));
    let output = run(&device, &blueprint, &[&endpoint(&receiver)]);
    assert_eq!(code(&output), 1, "{}", text(&output.stderr));
    let run_id = record(&output)["id"].as_str().unwrap().to_string();
    let metrics = &receiver.metrics()[0];
    assert_eq!(points(metrics, "agent.checkin.runs")[0].0["outcome"], "failed");
    let mut items: Vec<_> = points(metrics, "agent.checkin.items")
        .into_iter()
        .map(|(attributes, count)| (attributes["item.type"].clone(), attributes["item.status"].clone(), count))
        .collect();
    items.sort();
    assert_eq!(items, [("custom_script".into(), "failed".into(), 1), ("custom_script".into(), "succeeded".into(), 1)]);
    // Counted by item type only for the items that waited on the person: none here.
    assert_eq!(points(metrics, "agent.checkin.deferred"), [], "no series without a deferred item");
    assert_eq!(points(metrics, "agent.checkin.waiting_for_user"), []);
    let duration = metric(metrics, "agent.checkin.duration").expect("the duration histogram");
    assert_eq!(duration.unit, "s");
    let Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Histogram(histogram)) = &duration.data else {
        panic!("not a histogram: {duration:?}")
    };
    assert_eq!(histogram.data_points.len(), 1);
    assert_eq!(histogram.data_points[0].count, 1);
    assert!(histogram.data_points[0].sum.unwrap() < 60.0);

    let records = log_records(&receiver.logs());
    let failed: Vec<_> = records.iter().filter(|(_, record)| record.event_name == "agent.item.failed").collect();
    assert_eq!(failed.len(), 1, "{records:#?}");
    let (log_resource, failure) = failed[0];
    let attributes = crate::otlp_receiver::attributes(&failure.attributes);
    assert_eq!(attributes["run.id"], run_id);
    assert_eq!(attributes["item.id"], "li-bad");
    assert_eq!((attributes["item.status"].as_str(), attributes["process.exit.code"].as_str()), ("failed", "3"));
    assert!(!attributes.contains_key("item.exit_code"), "named as the semantic conventions name it");
    assert_eq!(failure.severity_text, "WARN");
    assert_eq!(log_resource["device.id"], device_id(&device));
    assert_eq!(log_resource["team.id"], "T-1");
    assert_eq!(log_resource["service.instance.id"], device_id(&device));
    let scopes = log_scopes(&receiver.logs());
    assert_eq!(
        scopes,
        [("endpoint-agent".to_string(), VERSION.to_string())],
        "the logs' scope is the agent's, versioned"
    );
    let metric_scopes = metric_scopes(metrics);
    assert_eq!(metric_scopes, scopes, "one scope for both signals");
}

#[test]
fn team_id_is_absent_until_a_blueprint_with_a_team_arrives() {
    let device = Device::new();
    let receiver = OtlpReceiver::start(Behavior::Answer);
    let tenant = TestTenant::start("tok-1", Value::Null);
    let fragment = json!({ "tenant": { "url": tenant.url(), "token": "tok-1" } });
    device.write_file("Library/Application Support/EndpointAgent/config.d/20-tenant.json", &fragment.to_string());
    let check_in = || device.agent().args(["run", "--json", "--set", &endpoint(&receiver)]).output().unwrap();

    let output = check_in();
    assert_eq!(code(&output), 2, "no blueprint yet: {}", text(&output.stderr));
    let before = &receiver.metrics()[0];
    let attributes = resource(before);
    assert!(!attributes.contains_key("team.id") && !attributes.contains_key("blueprint.id"), "{attributes:#?}");
    assert_eq!(attributes["device.id"], device_id(&device));
    assert_eq!(drift(before, "missing_policy"), Some(1));
    assert!(points(before, "agent.checkin.runs").is_empty(), "nothing ran");

    let team_policy = json!({ "id": "bp-eng", "team_id": "T-9", "library_items": [] });
    tenant.change(|state| state.blueprint = team_policy);
    let output = check_in();
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let run_id = record(&output)["id"].as_str().unwrap().to_string();
    let after = &receiver.metrics()[1];
    assert_eq!(resource(after)["team.id"], "T-9");
    assert_eq!(resource(after)["blueprint.id"], "bp-eng");
    assert_eq!(drift(after, "missing_policy"), Some(0));
    assert_eq!(device.status()["drift"]["missing_policy"], false);
    let changes = drift_changes(&receiver.logs());
    let missing = |previous: &str, value: &str, run: Option<String>| {
        ("missing_policy".into(), previous.into(), value.into(), run)
    };
    assert_eq!(changes, [missing("0", "1", None), missing("1", "0", Some(run_id))]);
}

#[test]
fn outdated_client_is_one_only_while_the_blueprint_requires_a_newer_agent() {
    let device = Device::new();
    let receiver = OtlpReceiver::start(Behavior::Answer);
    let cases = [(Some("999.0.0"), 1), (Some(VERSION), 0), (Some("0.0.1"), 0), (None, 0)];
    let mut run_ids = Vec::new();
    for (position, (minimum, expected)) in cases.into_iter().enumerate() {
        let extra = match minimum {
            Some(minimum) => json!({ "team_id": "T-1", "minimum_agent_version": minimum }),
            None => json!({ "team_id": "T-1" }),
        };
        let output = run(&device, &policy(&device, extra), &[&endpoint(&receiver)]);
        assert_eq!(code(&output), 0, "{}", text(&output.stderr));
        run_ids.push(record(&output)["id"].as_str().unwrap().to_string());
        let metrics = &receiver.metrics()[position];
        assert_eq!(drift(metrics, "outdated_client"), Some(expected), "minimum {minimum:?}");
        assert_eq!(drift(metrics, "missing_policy"), Some(0));
        assert_eq!(device.status()["drift"]["outdated_client"], expected == 1);
    }
    let outdated = |previous: &str, value: &str, run: &str| {
        ("outdated_client".to_string(), previous.to_string(), value.to_string(), Some(run.to_string()))
    };
    assert_eq!(drift_changes(&receiver.logs()), [outdated("0", "1", &run_ids[0]), outdated("1", "0", &run_ids[1])]);
}

#[test]
fn stale_token_follows_the_tenant_s_401s() {
    let device = Device::new();
    let receiver = OtlpReceiver::start(Behavior::Answer);
    let blueprint = json!({ "id": "bp-eng", "team_id": "T-1", "library_items": [] });
    let tenant = TestTenant::start("tok-1", blueprint);
    let fragment = json!({ "tenant": { "url": tenant.url(), "token": "tok-1" } });
    device.write_file("Library/Application Support/EndpointAgent/config.d/20-tenant.json", &fragment.to_string());
    let check_in = || {
        let output = device.agent().args(["run", "--json", "--set", &endpoint(&receiver)]).output().unwrap();
        assert_eq!(code(&output), 0, "{}", text(&output.stderr));
        record(&output)["id"].as_str().unwrap().to_string()
    };
    check_in();
    tenant.change(|state| state.token = "tok-rotated".to_string());
    let mut refused = Vec::new();
    for _ in 0..3 {
        refused.push(check_in());
    }
    // A check-in from a local blueprint asks the tenant nothing: the token stays stale.
    let local = policy(&device, json!({ "team_id": "T-1" }));
    assert_eq!(code(&run(&device, &local, &[&endpoint(&receiver)])), 0);
    let plist = r#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>tenant.token</key><string>tok-rotated</string></dict></plist>"#;
    device.write_file("Library/Managed Preferences/io.endpointagent.agent.plist", plist);
    let accepted = check_in();
    let stale: Vec<_> = receiver.metrics().iter().map(|export| drift(export, "stale_token")).collect();
    let expected = [Some(0), Some(0), Some(0), Some(1), Some(1), Some(0)];
    assert_eq!(stale, expected, "the third 401 in a row sets it, only a success clears it");
    let stale_token = |previous: &str, value: &str, run: &str| {
        ("stale_token".to_string(), previous.to_string(), value.to_string(), Some(run.to_string()))
    };
    assert_eq!(drift_changes(&receiver.logs()), [stale_token("0", "1", &refused[2]), stale_token("1", "0", &accepted)]);
}

#[test]
fn reapplied_counts_a_restored_plist_key() {
    let device = Device::new();
    let receiver = OtlpReceiver::start(Behavior::Answer);
    let preferences = "/Library/Preferences/com.example.telemetry.plist";
    let parameters = json!({ "managed_plists": [{ "path": preferences, "key": "AutoUpdate", "value": true }] });
    let blueprint = policy(&device, json!({ "team_id": "T-1", "parameters": parameters }));
    // Each `agent run` is a process of its own: its counter starts from 0, so each
    // export holds that one run's count.
    let check_in = || {
        let output = run(&device, &blueprint, &[&endpoint(&receiver)]);
        assert_eq!(code(&output), 0, "{}", text(&output.stderr));
        let export = receiver.metrics().pop().unwrap();
        assert_eq!(drift(&export, "reapplied"), None, "not a kind of the drift gauge");
        let counted = points(&export, "agent.checkin.reapplied");
        assert_eq!(counted.len(), 1, "{counted:?}");
        assert_eq!(metric(&export, "agent.checkin.reapplied").unwrap().data.as_ref().map(is_monotonic_sum), Some(true));
        counted[0].1
    };
    assert_eq!(check_in(), 1, "the key is set the first time");
    assert_eq!(check_in(), 0, "compliant");
    let file = device.root().join(preferences.trim_start_matches('/'));
    let mut edited = plist::Value::from_file(&file).unwrap().into_dictionary().unwrap();
    edited.insert("AutoUpdate".into(), false.into());
    plist::Value::Dictionary(edited).to_file_xml(&file).unwrap();
    assert_eq!(check_in(), 1, "the changed key is put back");
    assert_eq!(device.status()["drift"]["reapplied"], 1, "agent status keeps the last run's count");
    assert_eq!(plist::Value::from_file(&file).unwrap().as_dictionary().unwrap()["AutoUpdate"], true.into());
    assert!(drift_changes(&receiver.logs()).is_empty(), "a count that moves is no drift change");
}

/// Whether a metric's data is a monotonic sum (a counter).
fn is_monotonic_sum(data: &opentelemetry_proto::tonic::metrics::v1::metric::Data) -> bool {
    matches!(data, opentelemetry_proto::tonic::metrics::v1::metric::Data::Sum(sum) if sum.is_monotonic)
}

/// `pairs`, sorted.
fn sorted<T: Ord>(mut pairs: Vec<T>) -> Vec<T> {
    pairs.sort();
    pairs
}

/// `run`, timed.
fn timed_check_in(device: &Device, blueprint: &Path, settings: &[&str]) -> (Output, Duration) {
    let clock = Instant::now();
    let output = run(device, blueprint, settings);
    (output, clock.elapsed())
}

#[test]
fn a_hung_collector_costs_a_check_in_at_most_the_export_timeout() {
    let device = Device::new();
    let hung = OtlpReceiver::start(Behavior::Hang);
    // No team: the missing-policy change makes a log record, so both signals hang.
    let blueprint = policy(&device, json!({}));
    let (_, baseline) = timed_check_in(&device, &blueprint, &[]);
    let settings = [endpoint(&hung), "otel.export_timeout=2s".to_string()];
    let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
    let fresh = Device::new();
    let blueprint = policy(&fresh, json!({}));
    let (output, took) = timed_check_in(&fresh, &blueprint, &settings);
    assert_eq!(code(&output), 0, "telemetry never fails a check-in: {}", text(&output.stderr));
    assert_eq!(record(&output)["outcome"], "succeeded");
    let paths: Vec<_> = hung.exports().iter().map(|export| export.path.clone()).collect();
    assert!(paths.contains(&"/v1/metrics".to_string()) && paths.contains(&"/v1/logs".to_string()), "{paths:?}");
    assert!(took >= Duration::from_secs(2), "it waited for the collector: {took:?}");
    let bound = baseline + Duration::from_secs(2) + Duration::from_millis(1500);
    assert!(took < bound, "took {took:?}; without telemetry {baseline:?}; the two signals wait side by side");
    let logged = logged(&fresh);
    assert!(logged.contains("Cannot export telemetry") && logged.contains("did not answer within 2s"), "{logged}");
}

#[test]
fn a_dead_collector_is_a_warning_not_a_wait() {
    let device = Device::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("otel.endpoint=http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    drop(listener);
    let blueprint = policy(&device, json!({}));
    let (output, took) = timed_check_in(&device, &blueprint, &[&dead, "otel.export_timeout=10s"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert!(took < Duration::from_secs(8), "a refused connection is not waited out: {took:?}");
    assert!(logged(&device).contains("Cannot export telemetry"));
}

/// `agent daemon` with `settings`, output discarded.
fn start_daemon(device: &Device, settings: &[String]) -> std::process::Child {
    let mut command = device.agent();
    command.arg("daemon");
    for setting in settings {
        command.args(["--set", setting]);
    }
    command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap()
}

/// Stops `daemon` with SIGTERM and waits (bounded) for it to exit.
fn stop_daemon(mut daemon: std::process::Child) {
    let pid = nix::unistd::Pid::from_raw(daemon.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let start = Instant::now();
    while daemon.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < PATIENCE, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_daemon_stopped_mid_check_in_exports_the_interrupted_run_before_it_exits() {
    let device = Device::new();
    let receiver = OtlpReceiver::start(Behavior::Answer);
    let hang = "#!/bin/sh\necho $$ > \"$AGENT_ROOT/child.pid\"\nexec sleep 1000\n";
    let blueprint = device.write_blueprint(&json!({ "id": "bp-eng", "team_id": "T-1", "library_items": [
        script("li-hang", "Hangs", hang)
    ]}));
    let settings = [
        endpoint(&receiver),
        format!("blueprint_file={}", blueprint.display()),
        "timeouts.termination_grace=1s".to_string(),
        "schedule.daily_interval=1h".to_string(),
    ];
    let daemon = start_daemon(&device, &settings);
    device.wait_for_file("child.pid", PATIENCE);
    stop_daemon(daemon);
    let metrics = receiver.wait_for_metrics(1, PATIENCE);
    let runs = points(&metrics[0], "agent.checkin.runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!((runs[0].0["outcome"].as_str(), runs[0].1), ("interrupted", 1));
    assert_eq!(drift(&metrics[0], "missing_policy"), Some(0));
}

#[test]
fn the_daemon_and_agent_run_export_as_one_instance_the_device() {
    let device = Device::new();
    let receiver = OtlpReceiver::start(Behavior::Answer);
    let blueprint = policy(&device, json!({ "team_id": "T-1" }));
    let settings = [endpoint(&receiver), format!("blueprint_file={}", blueprint.display())];
    // A device that never completed a daily check-in runs one as soon as the daemon starts.
    let daemon = start_daemon(&device, &settings);
    receiver.wait_for_metrics(1, PATIENCE);
    stop_daemon(daemon);
    // With no daemon running, `agent run` checks in and exports from its own process.
    let output = run(&device, &blueprint, &[&endpoint(&receiver)]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let metrics = receiver.metrics();
    let device_id = device_id(&device);
    let instances: Vec<_> = metrics.iter().map(|export| resource(export).get("service.instance.id").cloned()).collect();
    assert_eq!(instances, vec![Some(device_id); metrics.len()], "one instance, the device, in every export");
    let runs: Vec<_> = metrics.iter().map(|export| points(export, "agent.checkin.runs").len()).collect();
    assert_eq!((runs.len(), runs[0], runs[runs.len() - 1]), (2, 1, 1), "the daemon's check-in, then agent run's");
}
