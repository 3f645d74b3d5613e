//! What every benchmark prints and keeps: one line per figure with its target and
//! PASS or FAIL, the same figures in `target/bench/<name>.json`, and an exit
//! status that fails when a figure misses its target.

// Each benchmark is its own crate and uses part of this module.
#![allow(dead_code)]

use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Map, Value, json};

/// Bytes in a mebibyte, for figures in MiB.
pub const MIB: f64 = 1024.0 * 1024.0;

/// One measured figure and its target (`value <= target` passes).
pub struct Figure {
    pub name: &'static str,
    pub value: f64,
    pub unit: &'static str,
    pub target: f64,
    pub detail: String,
}

impl Figure {
    pub fn pass(&self) -> bool {
        self.value <= self.target
    }

    /// `PASS  name  value unit (target <= target unit)  detail`.
    pub fn line(&self) -> String {
        let verdict = if self.pass() { "PASS" } else { "FAIL" };
        let detail = if self.detail.is_empty() { String::new() } else { format!("  {}", self.detail) };
        format!(
            "{verdict}  {:<46} {:>9.3} {:<8} (target <= {} {}){detail}",
            self.name, self.value, self.unit, self.target, self.unit
        )
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name, "value": self.value, "unit": self.unit, "target": self.target,
            "pass": self.pass(), "detail": self.detail,
        })
    }
}

/// Writes `figures` to `target/bench/<file_name>` with when and where they were
/// measured and the `context` fields, prints how many met their targets, and
/// gives the exit status: failure when any missed.
pub fn finish(file_name: &str, figures: &[Figure], context: Value) -> ExitCode {
    let failed = figures.iter().filter(|figure| !figure.pass()).count();
    let mut document = Map::new();
    document.insert("measured_at".into(), json!(Utc::now().to_rfc3339()));
    if let Value::Object(context) = context {
        document.extend(context);
    }
    let machine = json!({ "os": std::env::consts::OS, "arch": std::env::consts::ARCH, "cores": cores() });
    document.insert("machine".into(), machine);
    document.insert("figures".into(), figures.iter().map(Figure::to_json).collect());
    let results = results_folder().join(file_name);
    fs::create_dir_all(results.parent().expect("a folder")).expect("the results folder");
    let text = serde_json::to_string_pretty(&Value::Object(document)).expect("json") + "\n";
    fs::write(&results, text).expect("the results file");
    println!(
        "\n{} of {} figures meet their targets; written to {}",
        figures.len() - failed,
        figures.len(),
        results.display()
    );
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// `target/bench` of the target folder this benchmark was built in (it runs as
/// `target/release/deps/<name>-…`).
fn results_folder() -> PathBuf {
    let target = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("target"));
    target.join("bench")
}

/// The cores this machine offers.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// A duration in milliseconds.
pub fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The whole number in the environment variable `name`, if set.
pub fn setting(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}
