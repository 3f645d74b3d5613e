//! A device the way the package installs it, for `agent doctor`: the real binary
//! at `usr/local/bin/agent` (a link), the repository's launchd job, stand-ins for
//! `launchctl` and `fdesetup` printing what the real tools print, and Apple push
//! pointed at a listener on 127.0.0.1. Past check-ins and inventories are written
//! through the library's own store and inventory API.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use endpoint_agent::inventory::Inventory;
use endpoint_agent::paths::AgentPaths;
use endpoint_agent::plan::CheckinKind;
use endpoint_agent::state::{Drift, RunOutcome, Trigger};
use serde_json::{Value, json};

use crate::support::{Device, begun_run, code, store, text};

/// A fixture of the repository, by its path under `tests/fixtures`.
pub fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(relative)
}

/// An installed device and the listener standing in for Apple's push service.
pub struct Installed {
    pub device: Device,
    /// Accepts push connections for as long as the test holds it.
    pub push: TcpListener,
}

impl Installed {
    /// The binary, the job, launchd saying the daemon runs, FileVault on, push
    /// reachable, and every check bounded by 3 seconds.
    pub fn new() -> Self {
        let device = Device::new();
        let binary = device.root().join("usr/local/bin/agent");
        std::fs::create_dir_all(binary.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_agent"), &binary).unwrap();
        let job =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("launchd/io.endpointagent.agent.plist"));
        device.write_file("Library/LaunchDaemons/io.endpointagent.agent.plist", &job.unwrap());
        let installed = Self { push: TcpListener::bind("127.0.0.1:0").unwrap(), device };
        installed.stand_in("launchctl", &fixture("launchctl/print-running.txt"), 0);
        installed.stand_in("fdesetup", &fixture("inventory/fdesetup/on.txt"), 0);
        let settings = json!({
            "commands": {
                "launchctl": installed.tool("launchctl"),
                "fdesetup": installed.tool("fdesetup"),
            },
            "doctor": {
                "push_host": "127.0.0.1",
                "push_ports": installed.push.local_addr().unwrap().port().to_string(),
                "timeout": "3s",
            },
        });
        installed
            .device
            .write_file("Library/Application Support/EndpointAgent/config.d/10-doctor.json", &settings.to_string());
        installed
    }

    /// Where the stand-in for `tool` lives.
    pub fn tool(&self, tool: &str) -> PathBuf {
        self.device.root().join("stand-ins").join(tool)
    }

    /// Makes the stand-in for `tool` print `output` (a fixture file) and exit `code`.
    pub fn stand_in(&self, tool: &str, output: &Path, code: i32) {
        let path = self.tool(tool);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("#!/bin/sh\ncat '{}'\nexit {code}\n", output.display())).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// `agent doctor --json` plus `extra`: the exit code and the report.
pub fn doctor(device: &Device, extra: &[&str]) -> (i32, Value) {
    let mut arguments = vec!["doctor", "--json"];
    arguments.extend_from_slice(extra);
    let output = device.run(&arguments);
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("doctor JSON: {}\n{}", text(&output.stdout), text(&output.stderr)));
    (code(&output), report)
}

/// The check called `name` in `report`.
pub fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|check| check["name"] == name))
        .unwrap_or_else(|| panic!("no check {name} in {report:#}"))
}

/// Asserts the check `name` came out `verdict` with a value containing `value`.
pub fn assert_check(report: &Value, name: &str, verdict: &str, value: &str) {
    let found = check(report, name);
    assert_eq!(found["verdict"], verdict, "{name}: {found:#}");
    let measured = found["value"].as_str().unwrap_or_default();
    assert!(measured.contains(value), "{name}: {measured:?} lacks {value:?}");
    assert_eq!(found["fix"].is_string(), verdict == "warn" || verdict == "fail", "{name}: {found:#}");
}

/// Records a finished recurring check-in that started at `started_at`, as the
/// agent's store does.
pub fn record_check_in(device: &Device, started_at: DateTime<Utc>) {
    let store = store(device);
    let run = begun_run(CheckinKind::Recurring, Trigger::Schedule, started_at);
    store.begin_run(&run, std::process::id()).unwrap();
    let finished = started_at + chrono::TimeDelta::seconds(3);
    store.finish_run(&run.header.id, finished, RunOutcome::Succeeded, &Drift::default()).unwrap();
}

/// Saves `inventory` as the device's last inventory, as the agent does.
pub fn save_inventory(device: &Device, inventory: &Inventory) {
    endpoint_agent::inventory::save(&AgentPaths::under(device.root()), inventory).unwrap();
}

/// A local blueprint, so the tenant checks are skipped rather than failed.
pub fn without_tenant(device: &Device) {
    let blueprint = device.write_blueprint(&crate::support::blueprint(Vec::new()));
    let fragment = json!({ "blueprint_file": blueprint });
    device.write_file("Library/Application Support/EndpointAgent/config.d/20-local.json", &fragment.to_string());
}

/// A DER certificate skeleton named `name`, valid from `not_before` to
/// `not_after`: unsigned, but laid out as RFC 5280 says, which is all the
/// doctor reads.
pub fn certificate_der(name: &str, not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> Vec<u8> {
    fn element(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut bytes = vec![tag];
        match content.len() {
            length @ 0..0x80 => bytes.push(length as u8),
            length => bytes.extend([0x82, (length >> 8) as u8, length as u8]),
        }
        bytes.extend_from_slice(content);
        bytes
    }
    let common_name = [0x55, 0x04, 0x03];
    let distinguished = |text: &str| {
        let pair = [element(0x06, &common_name), element(0x0C, text.as_bytes())].concat();
        element(0x30, &element(0x31, &element(0x30, &pair)))
    };
    let time = |time: DateTime<Utc>| element(0x18, time.format("%Y%m%d%H%M%SZ").to_string().as_bytes());
    let to_be_signed = [
        element(0xA0, &element(0x02, &[2])),
        element(0x02, &[0x01, 0x23]),
        element(0x30, &element(0x06, &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B])),
        distinguished("Example MDM CA"),
        element(0x30, &[time(not_before), time(not_after)].concat()),
        distinguished(name),
        element(0x30, &[0u8; 64]),
    ]
    .concat();
    element(0x30, &[element(0x30, &to_be_signed), element(0x03, &[0, 1, 2])].concat())
}
