//! The log folder stays within `logs.max_size`, and `agent logs` reads any log in
//! bounded memory: a folder filled past its budget by earlier days and busy
//! check-ins, a log of tens of MB read whole and followed, an over-long line.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Device, blueprint, code, script, text};

/// The log folder under a device's root.
fn log_dir(device: &Device) -> PathBuf {
    device.root().join("Library/Logs/EndpointAgent")
}

/// Today's first log file name.
fn today_file() -> String {
    format!("agent.{}.log", chrono::Utc::now().format("%Y-%m-%d"))
}

/// One stored log line, as the agent writes it, of about 300 bytes.
fn stored_line(number: usize, message: &str) -> String {
    format!(
        "{{\"timestamp\":\"2026-11-25T10:00:00.000000Z\",\"level\":\"INFO\",\"message\":\"{message}\",\
         \"item_id\":\"li-{number}\",\"item_name\":\"Item {number}\",\"item_type\":\"custom_script\",\
         \"status\":\"succeeded\",\"duration_ms\":12,\"target\":\"endpoint_agent::checkin\",\
         \"spans\":[{{\"run_id\":\"0193aaaa-0000-7000-8000-000000000001\",\"kind\":\"recurring\",\"name\":\"checkin\"}}]}}\n"
    )
}

/// Writes `lines` numbered lines (`Old line <n>.`) into `path`, a buffer at a time.
fn write_big_log(path: &Path, lines: usize) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for number in 0..lines {
        file.write_all(stored_line(number, &format!("Old line {number}.")).as_bytes()).unwrap();
    }
    file.flush().unwrap();
}

/// The files in `folder` and their total size.
fn folder_contents(folder: &Path) -> (Vec<String>, u64) {
    let mut names = Vec::new();
    let mut total = 0;
    for entry in std::fs::read_dir(folder).unwrap() {
        let entry = entry.unwrap();
        total += entry.metadata().unwrap().len();
        names.push(entry.file_name().into_string().unwrap());
    }
    names.sort();
    (names, total)
}

/// The highest resident memory `child` reached, in bytes, sampled from
/// `/proc/<pid>/status` (VmHWM, itself a high-water mark) until it exits.
fn peak_resident_bytes(child: &mut Child) -> u64 {
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        let read = std::fs::read_to_string(&status).unwrap_or_default();
        let high_water = read
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .map(|value| value.trim().trim_end_matches("kB").trim().parse::<u64>().unwrap_or(0) * 1024);
        peak = peak.max(high_water.unwrap_or(0));
        std::thread::sleep(Duration::from_millis(2));
    }
    peak
}

/// Reads `child`'s stdout lines on a thread, handing each on.
fn stdout_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    receiver
}

/// The next `count` lines, each within a generous wait.
fn next_lines(lines: &mpsc::Receiver<String>, count: usize) -> Vec<String> {
    (0..count)
        .map(|_| lines.recv_timeout(Duration::from_secs(20)).expect("agent logs --follow printed a line in time"))
        .collect()
}

#[test]
fn the_log_folder_stays_within_its_budget_through_earlier_days_and_busy_check_ins() {
    const BUDGET: u64 = 256 << 10;
    let device = Device::new();
    let folder = log_dir(&device);
    // A week of old days, 2 MiB in all, from before the budget was set.
    for day in 1..=7 {
        write_big_log(&folder.join(format!("agent.2026-01-0{day}.log")), 1000);
    }
    let items: Vec<Value> = (0..150)
        .map(|number| script(&format!("li-{number}"), &format!("Busy item {number}"), "#!/bin/sh\nexit 0\n"))
        .collect();
    let path = device.write_blueprint(&blueprint(items));
    let mut last_run = String::new();
    for _ in 0..2 {
        let output = device
            .agent()
            .env("AGENT_LOGS_MAX_SIZE", "256 KiB")
            .args(["run", "--blueprint"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(code(&output), 0, "{}", text(&output.stderr));
        last_run = device.status()["last_run"]["id"].as_str().unwrap().to_string();
    }
    let (names, total) = folder_contents(&folder);
    assert!(total <= BUDGET, "{total} bytes in {names:?}");
    assert!(!names.iter().any(|name| name.starts_with("agent.2026-01-")), "the oldest days went first: {names:?}");
    let today = today_file();
    let today_stem = today.trim_end_matches(".log");
    assert!(
        names.iter().any(|name| name.starts_with(today_stem) && name != &today),
        "the day went on in parts: {names:?}"
    );
    // The newest lines are kept and read back in order across the parts.
    let output = device.run(&["logs", "--run", &last_run, "--json"]);
    let lines: Vec<Value> = text(&output.stdout).lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let finished: Vec<&str> = lines
        .iter()
        .filter(|line| line["message"] == "Item finished.")
        .map(|line| line["item_name"].as_str().unwrap())
        .collect();
    assert_eq!(finished.len(), 150, "every item of the last run is still in the log");
    let distinct: std::collections::BTreeSet<&str> = finished.iter().copied().collect();
    assert_eq!(distinct.len(), 150, "{finished:?}");
}

#[test]
fn agent_logs_reads_a_large_log_in_bounded_memory() {
    const LINES: usize = 120_000;
    let device = Device::new();
    write_big_log(&log_dir(&device).join(today_file()), LINES);
    let size = std::fs::metadata(log_dir(&device).join(today_file())).unwrap().len();
    assert!(size > 30 << 20, "a log of tens of MB: {size}");
    let mut child =
        device.agent().args(["logs", "--json"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let lines = stdout_lines(&mut child);
    let peak = peak_resident_bytes(&mut child);
    let printed: Vec<String> = lines.iter().collect();
    assert!(child.wait().unwrap().success());
    assert_eq!(printed.len(), LINES, "every line printed");
    assert!(printed.last().unwrap().contains(&format!("Old line {}.", LINES - 1)));
    assert!(peak < 64 << 20, "agent logs peaked at {} MiB on a {} MiB log", peak >> 20, size >> 20);
}

/// How many bytes `pid` has read so far (`rchar` in `/proc/<pid>/io`).
fn bytes_read_by(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    io.lines().find_map(|line| line.strip_prefix("rchar:")).unwrap().trim().parse().unwrap()
}

#[test]
fn follow_starts_at_the_end_and_prints_what_is_appended_across_the_days_parts() {
    const LINES: usize = 60_000;
    let device = Device::new();
    let today = log_dir(&device).join(today_file());
    write_big_log(&today, LINES);
    let mut child = device.spawn(&["logs", "--follow"]);
    let lines = stdout_lines(&mut child);
    let backlog = next_lines(&lines, 10);
    let expected: Vec<String> = (LINES - 10..LINES).map(|number| format!("Old line {number}.")).collect();
    for (line, expected) in backlog.iter().zip(&expected) {
        assert!(line.contains(expected.as_str()), "{line} is not {expected}");
    }
    let read = bytes_read_by(child.id());
    let size = std::fs::metadata(&today).unwrap().len();
    assert!(read < 4 << 20, "read {read} bytes of a {size}-byte log to start following");

    let mut file = std::fs::OpenOptions::new().append(true).open(&today).unwrap();
    file.write_all(stored_line(0, "Appended after the start.").as_bytes()).unwrap();
    assert!(next_lines(&lines, 1)[0].contains("Appended after the start."));
    let next_part = log_dir(&device).join(today_file().replace(".log", ".1.log"));
    std::fs::write(&next_part, stored_line(1, "In the day's next part.")).unwrap();
    assert!(next_lines(&lines, 1)[0].contains("In the day's next part."));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(lines.try_iter().all(|line| !line.contains("Old line")), "no old line printed twice");
}

#[test]
fn an_over_long_line_is_skipped_with_a_note_and_the_rest_read() {
    let device = Device::new();
    let huge = stored_line(1, &"x".repeat(3 << 20));
    let log = [stored_line(0, "Before."), huge, stored_line(2, "After.")].concat();
    device.write_file(&format!("Library/Logs/EndpointAgent/{}", today_file()), &log);
    let mut child = device.agent().args(["logs"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let lines = stdout_lines(&mut child);
    let peak = peak_resident_bytes(&mut child);
    let output = child.wait_with_output().unwrap();
    let printed: Vec<String> = lines.iter().collect();
    assert!(output.status.success());
    let lengths: Vec<usize> = printed.iter().map(String::len).collect();
    assert_eq!(printed.len(), 2, "line lengths printed: {lengths:?}");
    assert!(printed[0].contains("Before.") && printed[1].contains("After."), "line lengths printed: {lengths:?}");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("skipped 1 line(s) longer than 1 MiB"), "{stderr}");
    assert!(peak < 32 << 20, "peaked at {} MiB", peak >> 20);
}
