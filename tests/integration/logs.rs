//! `agent logs` reads back one line per item start and finish, filtered.

use serde_json::Value;

use crate::support::{Device, blueprint, code, script, text};

fn json_lines(output: &std::process::Output) -> Vec<Value> {
    text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect()
}

fn messages(lines: &[Value]) -> Vec<String> {
    lines.iter().map(|line| line["message"].as_str().unwrap_or_default().to_string()).collect()
}

#[test]
fn each_item_start_and_finish_is_logged_with_run_item_outcome_and_duration() {
    let device = Device::new();
    let items =
        vec![script("good", "Good item", "#!/bin/sh\nexit 0\n"), script("bad", "Bad item", "#!/bin/sh\nexit 3\n")];
    let path = device.write_blueprint(&blueprint(items));
    assert_eq!(code(&device.check_in(&path, &[])), 1);
    let first_run = device.status()["last_run"]["id"].as_str().unwrap().to_string();
    assert_eq!(code(&device.check_in(&path, &[])), 1);

    let lines = json_lines(&device.run(&["logs", "--run", &first_run, "--json"]));
    let finished: Vec<&Value> = lines.iter().filter(|line| line["message"] == "Item finished.").collect();
    assert_eq!(finished.len(), 2, "{lines:#?}");
    for line in &finished {
        let text = line.to_string();
        for field in ["item_id", "item_name", "item_type", "status", "duration_ms"] {
            assert!(text.contains(&format!("\"{field}\"")), "{field} missing: {text}");
        }
        assert!(text.contains(&first_run), "the run id is on every line: {text}");
    }
    assert_eq!(messages(&lines).iter().filter(|m| *m == "Item started.").count(), 2);

    let only_bad = json_lines(&device.run(&["logs", "--run", &first_run, "--item", "Bad item", "--json"]));
    assert!(!only_bad.is_empty());
    assert!(only_bad.iter().all(|line| line.to_string().contains("Bad item")), "{only_bad:#?}");

    let warnings = json_lines(&device.run(&["logs", "--level", "warn", "--json"]));
    let failures = warnings.iter().filter(|line| line["message"] == "Item finished.").count();
    assert_eq!(failures, 2, "one failed item in each run: {warnings:#?}");

    let recent = device.run(&["logs", "--since", "1h"]);
    assert_eq!(code(&recent), 0);
    let human = text(&recent.stdout);
    assert!(human.contains("Item finished.") && human.contains("Good item"), "{human}");
}

#[test]
fn a_bad_level_or_since_is_bad_input() {
    let device = Device::new();
    let output = device.run(&["logs", "--level", "loud"]);
    assert_eq!(code(&output), 2, "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("loud"));
    let output = device.run(&["logs", "--since", "yesterday-ish"]);
    assert_eq!(code(&output), 2);
}
