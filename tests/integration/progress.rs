//! What `agent run` prints as a check-in goes, through the real binary: its plain
//! lines (stdout is a pipe), pinned by a snapshot with ids, times and durations masked.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use serde_json::json;

use crate::support::{Device, blueprint, code, script, text};

/// A check-in that waits for another, enforces a parameter, and whose items
/// succeed, fail, are skipped and time out.
#[test]
fn a_check_in_s_plain_progress_reads_well() {
    let device = Device::new();
    // Holds the check-in lock until the test has seen the second check-in wait.
    let holding = "#!/bin/sh\ntouch \"$AGENT_ROOT/started\"\n\
                   for _ in $(seq 300); do [ -e \"$AGENT_ROOT/release\" ] && exit 0; sleep 0.1; done\nexit 1\n";
    let holding = blueprint(vec![script("holding", "Holding", holding)]);
    let holding = device.write_file("holding.json", &holding.to_string());
    let mut items = blueprint(vec![
        script("ok", "Login banner", "#!/bin/sh\nexit 0\n"),
        script("failing", "Disk space", "#!/bin/sh\necho full\nexit 1\n"),
        json!({ "id": "never", "name": "Diagnostics", "type": "custom_script", "frequency": "no_enforcement", "audit": "#!/bin/sh\n" }),
        script("slow", "Slow", "#!/bin/sh\nsleep 30\n"),
    ]);
    items["parameters"] = json!({ "managed_plists": [
        { "path": "/Library/Preferences/com.example.app.plist", "key": "AutoUpdate", "value": true }
    ] });
    let path = device.write_blueprint(&items);
    let first = device.spawn(&["run", "--blueprint", holding.to_str().unwrap()]);
    let first_pid = first.id();
    device.wait_for_file("started", Duration::from_secs(10));
    let scaled = ["--set", "timeouts.custom_script=1s", "--set", "timeouts.termination_grace=1s"];
    let mut second = device.spawn(&[&["run", "--blueprint", path.to_str().unwrap()][..], &scaled].concat());
    let mut lines = BufReader::new(second.stdout.take().unwrap()).lines();
    let waiting = lines.next().unwrap().unwrap();
    device.write_file("release", "");
    let shown: Vec<String> = std::iter::once(waiting).chain(lines.map(Result::unwrap)).collect();
    let output = second.wait_with_output().unwrap();
    assert!(first.wait_with_output().unwrap().status.success());
    assert_eq!(code(&output), 1, "{}", text(&output.stderr));
    let run_id = device.status()["last_run"]["id"].as_str().unwrap().to_string();
    let masked: Vec<String> = shown.iter().map(|line| masked(line, &run_id, first_pid)).collect();
    insta::assert_snapshot!(masked.join("\n"));
}

/// `line` with what differs from run to run masked: the run's id, the waited-for
/// check-in's pid and start, and durations.
fn masked(line: &str, run_id: &str, pid: u32) -> String {
    let mut line = line.replace(run_id, "<run id>").replace(&format!("(pid {pid})"), "(pid <pid>)");
    if let Some(at) = line.find("started at ") {
        let start = at + "started at ".len();
        line.replace_range(start..start + "2026-11-25T09:00:00Z".len(), "<time>");
    }
    // An item's duration in brackets, and the run's after `in`.
    let mut words: Vec<String> = line.split(' ').map(str::to_string).collect();
    for at in 0..words.len() {
        let bare = words[at].trim_start_matches('(').trim_end_matches([')', ':']).to_string();
        let duration = bare.starts_with(|first: char| first.is_ascii_digit())
            && bare.chars().all(|character| character.is_ascii_digit() || ".hms".contains(character));
        if duration && (words[at].starts_with('(') || at > 0 && words[at - 1] == "in") {
            words[at] = words[at].replace(&bare, "<duration>");
        }
    }
    words.join(" ")
}
