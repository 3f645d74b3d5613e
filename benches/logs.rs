//! The agent's log folder and `agent logs`, measured on this machine.
//!
//! `cargo bench --bench logs` builds the release agent and measures:
//! - the log folder's size through a simulated week of 100,000-item check-ins
//!   (672 recurring and 7 daily ones: an "Item started." and an "Item finished."
//!   line per item, inside the check-in's span, as the check-in writes them),
//!   written by this process through the agent's own log writer
//!   (`endpoint_agent::logging::init`) with the default `logs.max_size`: the
//!   largest size seen while writing (sampled) and the size at the end, against
//!   the budget. The week is written within today, so the size budget alone
//!   prunes it. `BENCH_LOGS_CHECKINS` shortens it (the full week writes some
//!   40 GB through the page cache); `BENCH_LOGS_ITEMS` changes the items per check-in;
//! - `agent logs` (the release binary) on a 100 MB log: its peak resident memory
//!   (VmHWM, sampled from `/proc` on Linux) and wall time.
//!
//! One line per figure, with its target and PASS or FAIL, and the same figures in
//! `target/bench/logs.json`. Exits 1 when a figure misses its target. Everything
//! it writes goes in a scratch folder, removed at the end. Names after `--`
//! (`week`, `read`) measure only those.

#[path = "support/figures.rs"]
mod figures;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use endpoint_agent::config::AgentConfig;
use endpoint_agent::logging::{self, LogLevel, LogSettings};
use figures::{Figure, MIB, cores, setting};
use serde_json::json;

/// The agent the benchmarks measure: the release build `cargo bench` made.
const AGENT: &str = env!("CARGO_BIN_EXE_agent");

/// A week of check-ins: every 15 minutes, and one daily.
const WEEK_OF_CHECKINS: u64 = 7 * 24 * 4 + 7;

/// The size of the log `agent logs` reads.
const READ_LOG_BYTES: u64 = 100 << 20;

fn main() -> ExitCode {
    let scratch = tempfile::Builder::new().prefix("endpoint-agent-bench.").tempdir().expect("a scratch folder");
    println!("Endpoint Agent logs: {AGENT}");
    println!("machine: {} cores, {}\n", cores(), std::env::consts::OS);
    let chosen: Vec<String> = std::env::args().skip(1).filter(|argument| !argument.starts_with('-')).collect();
    let wanted = |group: &str| chosen.is_empty() || chosen.iter().any(|name| name == group);
    let mut figures = Vec::new();
    if wanted("week") {
        let checkins = setting("BENCH_LOGS_CHECKINS").unwrap_or(WEEK_OF_CHECKINS).max(1);
        let items = setting("BENCH_LOGS_ITEMS").unwrap_or(100_000).max(1);
        for figure in week_of_checkins(&scratch.path().join("week"), checkins, items) {
            println!("{}", figure.line());
            figures.push(figure);
        }
    }
    if wanted("read") {
        for figure in read_large_log(&scratch.path().join("read")) {
            println!("{}", figure.line());
            figures.push(figure);
        }
    }
    let status = figures::finish("logs.json", &figures, json!({ "agent": AGENT }));
    drop(scratch);
    status
}

/// Writes `checkins` check-ins of `items` items through the agent's log writer
/// with the default budget into `root`'s log folder; the folder's largest and
/// final sizes.
fn week_of_checkins(root: &Path, checkins: u64, items: u64) -> [Figure; 2] {
    let budget = AgentConfig::default().logs.max_size;
    let log_dir = root.join("logs");
    let settings = LogSettings {
        root: root.to_path_buf(),
        log_dir: Some(log_dir.clone()),
        retention_days: AgentConfig::default().logs.retention_days,
        max_size: budget,
        level: LogLevel::Info,
        console_level: tracing::Level::WARN,
    };
    fs::create_dir_all(root).expect("the bench's root");
    let guard = logging::init(&settings).expect("logging set up once in this process");
    assert!(guard.writes_files(), "the log folder is usable");
    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done, log_dir) = (Arc::clone(&peak), Arc::clone(&done), log_dir.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(folder_bytes(&log_dir), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let start = Instant::now();
    for number in 0..checkins {
        let kind = if number % 97 == 0 { "daily" } else { "recurring" };
        log_checkin(number, kind, items);
    }
    drop(guard);
    done.store(true, Ordering::Relaxed);
    sampler.join().expect("the sampler");
    let final_bytes = folder_bytes(&log_dir);
    let peak_bytes = peak.load(Ordering::Relaxed).max(final_bytes);
    let files = fs::read_dir(&log_dir).map_or(0, Iterator::count);
    let detail = format!(
        "{checkins} check-ins of {items} items in {:.0} s; budget logs.max_size {} MiB; {files} files at the end",
        start.elapsed().as_secs_f64(),
        budget >> 20
    );
    let budget_mib = budget as f64 / MIB;
    [
        Figure {
            name: "log folder, largest during the week",
            value: peak_bytes as f64 / MIB,
            unit: "MiB",
            target: budget_mib,
            detail: detail.clone(),
        },
        Figure {
            name: "log folder after the week",
            value: final_bytes as f64 / MIB,
            unit: "MiB",
            target: budget_mib,
            detail,
        },
    ]
}

/// The lines one check-in writes for its items: a start and an end each, inside
/// the `checkin` span, with the fields the check-in gives them.
fn log_checkin(number: u64, kind: &str, items: u64) {
    let run_id = format!("0193aaaa-0000-7000-8000-{number:012}");
    let span = tracing::info_span!("checkin", run_id = %run_id, kind = %kind);
    let _inside = span.enter();
    for item in 0..items {
        let (item_id, item_name) = (format!("li-{item:06}"), format!("Managed setting {item}"));
        tracing::info!(item_id = %item_id, item_name = %item_name, item_type = "custom_script", "Item started.");
        tracing::info!(item_id = %item_id, item_name = %item_name, item_type = "custom_script", status = "succeeded",
            duration_ms = 12u64, exit_code = 0, detail = "", "Item finished.");
    }
}

/// `agent logs` on a log of [`READ_LOG_BYTES`]: peak resident memory and wall time.
fn read_large_log(root: &Path) -> [Figure; 2] {
    let log = root.join("Library/Logs/EndpointAgent").join(format!("agent.{}.log", Utc::now().format("%Y-%m-%d")));
    let lines = write_log(&log, READ_LOG_BYTES);
    let start = Instant::now();
    let mut child = Command::new(AGENT)
        .args(["logs"])
        .env("AGENT_ROOT", root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("agent logs starts");
    let peak = peak_resident_bytes(&mut child);
    let elapsed = start.elapsed().as_secs_f64();
    assert!(child.wait().expect("agent logs ends").success(), "agent logs succeeds");
    let detail = format!("{} MiB log, {lines} lines", READ_LOG_BYTES >> 20);
    [
        Figure {
            name: "agent logs, peak resident memory",
            value: peak.map_or(f64::NAN, |bytes| bytes as f64 / MIB),
            unit: "MiB",
            target: 64.0,
            detail: if peak.is_some() { detail.clone() } else { "not measured on this system".to_string() },
        },
        Figure { name: "agent logs, wall time", value: elapsed, unit: "s", target: 30.0, detail },
    ]
}

/// Writes item lines as the agent stores them into `path` until it holds
/// `bytes`; how many lines.
fn write_log(path: &Path, bytes: u64) -> u64 {
    fs::create_dir_all(path.parent().expect("a folder")).expect("the log folder");
    let mut file = std::io::BufWriter::new(fs::File::create(path).expect("the log file"));
    let (mut written, mut lines) = (0, 0);
    while written < bytes {
        let line = format!(
            "{{\"timestamp\":\"2026-11-25T10:00:00.{lines:06}Z\",\"level\":\"INFO\",\"message\":\"Item finished.\",\
             \"item_id\":\"li-{lines}\",\"item_name\":\"Managed setting {lines}\",\"item_type\":\"custom_script\",\
             \"status\":\"succeeded\",\"duration_ms\":12,\"exit_code\":0,\"detail\":\"\",\
             \"target\":\"endpoint_agent::telemetry::events::item_finished\",\
             \"spans\":[{{\"run_id\":\"0193aaaa-0000-7000-8000-000000000001\",\"kind\":\"recurring\",\"name\":\"checkin\"}}]}}\n"
        );
        file.write_all(line.as_bytes()).expect("a log line");
        written += line.len() as u64;
        lines += 1;
    }
    file.flush().expect("the log file");
    lines
}

/// The highest resident memory `child` reached, from `/proc/<pid>/status`
/// (VmHWM, itself a high-water mark) sampled until it exits; `None` without `/proc`.
fn peak_resident_bytes(child: &mut Child) -> Option<u64> {
    let status = format!("/proc/{}/status", child.id());
    let mut peak = None;
    while child.try_wait().expect("the child").is_none() {
        let read = fs::read_to_string(&status).unwrap_or_default();
        let high_water = read
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<u64>().ok().map(|kib| kib * 1024));
        if let Some(bytes) = high_water {
            peak = Some(peak.unwrap_or(0).max(bytes));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    peak
}

/// The bytes in the files directly in `folder`.
fn folder_bytes(folder: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(folder) else {
        return 0;
    };
    entries.filter_map(Result::ok).filter_map(|entry| entry.metadata().ok()).map(|metadata| metadata.len()).sum()
}
