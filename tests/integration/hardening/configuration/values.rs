//! Any value of any key, however large or odd, through every layer that can carry
//! it, gives either a working agent or exit 2 naming the key: never a panic, never
//! a run left `running`.

use std::process::{Child, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Device, blueprint, code, script, text};

use super::SUPPORT;

/// A `u64`'s worth of seconds: once, an overflow in the run's deadline.
const HUGE: &str = "18446744073709551615s";

/// The longest duration any key accepts.
const LONGEST: &str = "3650d";

/// A blueprint of one script that succeeds.
fn passing_blueprint(device: &Device) -> std::path::PathBuf {
    device.write_blueprint(&blueprint(vec![script("li-1", "Pass", "#!/bin/sh\nexit 0\n")]))
}

/// Asserts `output` is exit 2 with an error naming `key`, and no panic.
fn assert_refused(output: &Output, key: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(code(output), 2, "{stderr}");
    assert!(stderr.contains(&format!("key \"{key}\"")), "the error names {key}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `child`'s output once it exits, killing it (and failing) past `limit`.
fn exited_within(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().expect("child waited for").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output read")
}

/// Asserts no check-in was recorded as still running.
fn assert_nothing_left_running(device: &Device) {
    let status = device.status();
    assert!(status["running"].is_null(), "{status:#}");
    if !status["last_run"].is_null() {
        assert_ne!(status["last_run"]["outcome"], "running", "{status:#}");
        assert!(!status["last_run"]["finished_at"].is_null(), "{status:#}");
    }
}

#[test]
fn a_run_timeout_past_the_bound_from_a_flag_exits_2_and_leaves_nothing_running() {
    let device = Device::new();
    let blueprint_file = passing_blueprint(&device);
    let output = device.check_in(&blueprint_file, &["--set", &format!("timeouts.run={HUGE}")]);
    assert_refused(&output, "timeouts.run");
    assert!(text(&output.stderr).contains("at most 3650d"), "{}", text(&output.stderr));
    assert_nothing_left_running(&device);
}

#[test]
fn a_run_timeout_past_the_bound_from_a_fragment_exits_2_naming_file_and_key() {
    for value in [json!(HUGE), json!(u64::MAX), json!(i64::MAX), json!(315_360_001)] {
        let device = Device::new();
        let blueprint_file = passing_blueprint(&device);
        let fragment = device
            .write_file(&format!("{SUPPORT}/config.d/20-x.json"), &json!({ "timeouts": { "run": value } }).to_string());
        let output = device.check_in(&blueprint_file, &[]);
        assert_refused(&output, "timeouts.run");
        assert!(text(&output.stderr).contains(&fragment.display().to_string()), "{}", text(&output.stderr));
        std::fs::remove_file(&fragment).unwrap();
        assert_nothing_left_running(&device);
    }
}

#[test]
fn a_run_timeout_past_the_bound_from_the_environment_exits_2_naming_the_variable() {
    let device = Device::new();
    let blueprint_file = passing_blueprint(&device);
    let output = device
        .agent()
        .env("AGENT_TIMEOUTS_RUN", HUGE)
        .args(["run", "--blueprint", blueprint_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_refused(&output, "timeouts.run");
    assert!(text(&output.stderr).contains("AGENT_TIMEOUTS_RUN"), "{}", text(&output.stderr));
    assert_nothing_left_running(&device);
}

#[test]
fn a_nanosecond_check_in_interval_exits_2_naming_the_key() {
    let device = Device::new();
    for key in ["schedule.recurring_interval", "schedule.daily_interval"] {
        for value in ["1ns", "999ms"] {
            let output = device.run(&["config", "--set", &format!("{key}={value}")]);
            assert_refused(&output, key);
            assert!(text(&output.stderr).contains("at least 1s"), "{}", text(&output.stderr));
        }
        let output = exited_within(device.spawn(&["daemon", "--set", &format!("{key}=1ns")]), Duration::from_secs(10));
        assert_refused(&output, key);
    }
}

/// Every key the agent knows, from `agent config --json`, and which of them are
/// durations (their defaults read as one: `"15m"`, `"21d"`).
fn known_keys(device: &Device) -> (Vec<String>, Vec<String>) {
    let output = device.run(&["config", "--json", "--show-origin"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let config: Value = serde_json::from_slice(&output.stdout).unwrap();
    let keys: Vec<String> = config.as_object().unwrap().keys().cloned().collect();
    let is_duration = |value: &str| {
        value.starts_with(|first: char| first.is_ascii_digit())
            && value.ends_with(['d', 'h', 'm', 's'])
            && value.chars().all(|character| character.is_ascii_alphanumeric() || character == ' ')
    };
    let durations = keys.iter().filter(|key| is_duration(config[key.as_str()]["value"].as_str().unwrap())).cloned();
    let durations: Vec<String> = durations.collect();
    assert!(durations.len() >= 15 && durations.iter().any(|key| key == "timeouts.run"), "{durations:?}");
    (keys, durations)
}

#[test]
fn the_longest_duration_of_every_key_gives_a_working_check_in() {
    let device = Device::new();
    let (_, durations) = known_keys(&device);
    let blueprint_file = passing_blueprint(&device);
    let settings: Vec<String> = durations.iter().map(|key| format!("{key}={LONGEST}")).collect();
    let mut arguments = vec!["--reset-daily"];
    for setting in &settings {
        arguments.extend(["--set", setting]);
    }
    device.check_in_ok(&blueprint_file, &arguments);
    let status = device.status();
    assert_eq!(status["last_run"]["outcome"], "succeeded", "{status:#}");
    assert_eq!(status["last_run"]["items"][0]["status"], "succeeded");
    let output = device.run(&["config", "--set", &format!("timeouts.run={LONGEST} 1s")]);
    assert_refused(&output, "timeouts.run");
}

/// Text values no key should choke on, as flags and variables carry them.
fn hostile_text() -> Vec<String> {
    let fixed = [
        HUGE,
        "18446744073709551616",
        "99999999999999999999999999999999999999999h",
        "0s",
        "0",
        "-1s",
        "-1",
        "1ns",
        "NaN",
        "inf",
        "1e400",
        "",
        "   ",
        "0x10",
        "65536",
        "70000",
        "0, 0",
        "4294967295",
        "-4294967296",
        "\u{1b}[31mred\u{7}",
        "日本語",
        "../../../../etc/passwd",
        "http://",
        "https://[::1",
        "http://127.0.0.1:0/",
    ];
    let mut values: Vec<String> = fixed.iter().map(|value| value.to_string()).collect();
    values.extend(["x".repeat(100_000), "443,".repeat(5_000), "1s ".repeat(10_000)]);
    values
}

/// Typed values no key should choke on, as JSON fragments carry them.
fn hostile_json() -> Vec<Value> {
    let mut values = vec![
        json!(1e308),
        json!(-1),
        json!(0),
        json!(u64::MAX),
        json!(i64::MIN),
        serde_json::from_str("18446744073709551616").unwrap(),
        json!(true),
        Value::Null,
        json!([]),
        json!({ "a": { "b": 1 } }),
        json!("a\u{0}b"),
    ];
    values.push(json!("y".repeat(100_000)));
    values
}

/// Runs `agent config` with `key` set to one hostile value, by a flag (`Ok`) or a
/// fragment (`Err`), and checks the outcome: 0, or 2 naming the key; no panic.
fn check_one(device: &Device, key: &str, value: Result<&str, &Value>) -> i32 {
    let output = match value {
        Ok(text) => device.run(&["config", "--set", &format!("{key}={text}")]),
        Err(typed) => {
            device.write_file(&format!("{SUPPORT}/config.d/50-hostile.json"), &json!({ key: typed }).to_string());
            device.run(&["config"])
        }
    };
    let stderr = text(&output.stderr);
    let shown = format!("{value:?}").chars().take(80).collect::<String>();
    assert!(!stderr.contains("panicked"), "{key} = {shown}: {stderr}");
    match code(&output) {
        0 => 0,
        2 => {
            assert!(stderr.contains(&format!("key \"{key}\"")), "{key} = {shown}: the error names the key: {stderr}");
            2
        }
        other => panic!("{key} = {shown}: exit {other}: {stderr}"),
    }
}

#[test]
fn every_key_takes_any_value_with_a_working_agent_or_exit_2_naming_it() {
    let device = Device::new();
    let (keys, durations) = known_keys(&device);
    let (texts, typed) = (hostile_text(), hostile_json());
    let blueprint_file = passing_blueprint(&device);
    let accepted_durations: Vec<(String, String)> = std::thread::scope(|scope| {
        let workers: Vec<_> = keys
            .chunks(keys.len().div_ceil(3))
            .map(|chunk| {
                let (texts, typed, durations) = (&texts, &typed, &durations);
                scope.spawn(move || {
                    let device = Device::new();
                    let mut accepted = Vec::new();
                    for key in chunk {
                        for value in texts {
                            if check_one(&device, key, Ok(value)) == 0 && durations.contains(key) {
                                accepted.push((key.clone(), value.clone()));
                            }
                        }
                        for value in typed {
                            check_one(&device, key, Err(value));
                        }
                        let _ = std::fs::remove_file(device.root().join(format!("{SUPPORT}/config.d/50-hostile.json")));
                    }
                    accepted
                })
            })
            .collect();
        workers.into_iter().flat_map(|worker| worker.join().expect("no worker panicked")).collect()
    });
    // A duration a key accepted must also give a working check-in.
    assert!(!accepted_durations.is_empty());
    for (key, value) in accepted_durations {
        let output = device.check_in(&blueprint_file, &["--set", &format!("{key}={value}")]);
        let stderr = text(&output.stderr);
        assert!(matches!(code(&output), 0 | 1), "{key}={value}: exit {}: {stderr}", code(&output));
        assert!(!stderr.contains("panicked"), "{key}={value}: {stderr}");
    }
    assert_nothing_left_running(&device);
}
