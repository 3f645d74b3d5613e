//! Inventory against the test tenant: sent after the results of a daily check-in,
//! not after a recurring one unless the tenant sent `updateinventory`, partial
//! (with the failing collector named) when a tool fails or hangs, and the cheap
//! facts in every `checkin`. The macOS tools are stand-in scripts that print the
//! fixtures in each tool's exact format and record how they were called.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::server::TestTenant;
use super::{configure, counting_blueprint};
use crate::support::{Device, check_in, code, is_alive, read_pid, text};

const INVENTORY: &str = "/api/v1/agent/inventory";

/// A fixture of `tests/fixtures`, by absolute path.
pub(crate) fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The stand-in macOS tools of a device, each recording `name args` in `calls`.
pub(crate) struct StandIns {
    folder: PathBuf,
}

impl StandIns {
    /// Tools that behave like a healthy, enrolled Apple silicon Mac.
    pub(crate) fn mac(device: &Device) -> Self {
        let folder = device.root().join("stand-ins");
        std::fs::create_dir_all(&folder).unwrap();
        let stand_ins = Self { folder };
        let cat = |name: &str| format!("cat '{}'", fixture(name));
        stand_ins.tool("system_profiler", &cat("inventory/system_profiler-apple-silicon.xml"));
        stand_ins.tool("ioreg", &cat("inventory/ioreg-apple-silicon.txt"));
        stand_ins.tool(
            "sw_vers",
            "printf 'ProductName:\\t\\tmacOS\\nProductVersion:\\t\\t14.6.1\\nBuildVersion:\\t\\t23G93\\n'",
        );
        stand_ins.tool("fdesetup", &cat("inventory/fdesetup/encrypting.txt"));
        let profiles = format!(
            "case \"$1\" in status) {} ;; -C) {} ;; *) exit 64 ;; esac",
            cat("inventory/profiles-status/dep-user-approved.txt"),
            cat("inventory/profiles-computer.xml")
        );
        stand_ins.tool("profiles", &profiles);
        let security = format!(
            "case \"$1\" in find-certificate) {} ;; find-identity) {} ;; *) exit 64 ;; esac",
            cat("inventory/security-find-certificate.txt"),
            cat("inventory/security-find-identity.txt")
        );
        stand_ins.tool("security", &security);
        // softwareupdate says "No new software available." on stderr, as the real one does.
        stand_ins.tool("softwareupdate", &format!("{} >&2", cat("softwareupdate/no-updates.txt")));
        stand_ins
    }

    /// Writes the stand-in `name` running `body` after recording its call.
    pub(crate) fn tool(&self, name: &str, body: &str) {
        let path = self.folder.join(name);
        let calls = self.folder.join("calls");
        let script = format!("#!/bin/sh\necho \"{name} $*\" >> '{}'\n{body}\n", calls.display());
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// The `--set` flags pointing the agent at every stand-in.
    pub(crate) fn flags(&self) -> Vec<String> {
        let tools = ["system_profiler", "ioreg", "sw_vers", "fdesetup", "profiles", "security", "softwareupdate"];
        tools
            .iter()
            .flat_map(|tool| ["--set".to_string(), format!("commands.{tool}={}", self.folder.join(tool).display())])
            .collect()
    }

    /// Every recorded call, sorted (the collectors run at once).
    fn calls(&self) -> Vec<String> {
        let mut calls: Vec<String> = std::fs::read_to_string(self.folder.join("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        calls.sort();
        calls
    }
}

/// An app bundle with a binary `Info.plist`, as Xcode writes it.
pub(crate) fn install_app(root: &Path) {
    let app = root.join("Applications/Foo.app/Contents");
    std::fs::create_dir_all(&app).unwrap();
    let mut info = plist::Dictionary::new();
    for (key, value) in [
        ("CFBundleIdentifier", "com.example.foo"),
        ("CFBundleName", "Foo"),
        ("CFBundleShortVersionString", "2.1"),
        ("CFBundleVersion", "210"),
    ] {
        info.insert(key.to_string(), plist::Value::String(value.to_string()));
    }
    plist::Value::Dictionary(info).to_file_binary(app.join("Info.plist")).unwrap();
}

/// `agent run --json` with the stand-ins (plus `extra`).
fn check_in_with(device: &Device, stand_ins: &StandIns, extra: &[&str]) -> Value {
    let mut arguments: Vec<String> = stand_ins.flags();
    arguments.extend(extra.iter().map(|argument| argument.to_string()));
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
    check_in(device, &arguments)
}

fn paths_seen(tenant: &TestTenant) -> Vec<String> {
    tenant.seen().into_iter().map(|seen| seen.path).collect()
}

#[test]
fn a_daily_check_in_sends_the_inventory_after_its_results_and_a_recurring_one_does_not() {
    let device = Device::new();
    let stand_ins = StandIns::mac(&device);
    install_app(device.root());
    let tenant = TestTenant::start("tok-1", counting_blueprint(&device));
    configure(&device, &tenant.url(), "tok-1");

    let daily = check_in_with(&device, &stand_ins, &[]);
    assert_eq!((daily["kind"].as_str(), daily["outcome"].as_str()), (Some("daily"), Some("succeeded")));
    let expected = ["/api/v1/agent/checkin", "/api/v1/agent/blueprint", "/api/v1/agent/results", INVENTORY];
    assert_eq!(paths_seen(&tenant), expected, "results first, inventory after");
    let checkin: Value = serde_json::from_str(&tenant.seen()[0].body).unwrap();
    assert_eq!(checkin["serial_number"], "C02FK3ZXQ6L4", "from ioreg before any inventory was saved");
    assert_eq!(checkin["os_version"], "14.6.1");
    let report = &tenant.accepted_inventories()[0];
    assert_eq!(report["device_id"], checkin["device_id"]);
    assert!(report["report_id"].as_str().is_some_and(|id| !id.is_empty()));
    let inventory = &report["inventory"];
    assert_eq!(inventory["errors"], json!([]), "{inventory:#}");
    assert_eq!(inventory["device"]["serial_number"], "C02FK3ZXQ6L4");
    assert_eq!(inventory["device"]["udid"], "00006000-001A2B3C4D5E801E");
    assert_eq!(inventory["device"]["model_identifier"], "MacBookPro18,3");
    assert_eq!(inventory["operating_system"]["build"], "23G93");
    assert_eq!(inventory["security"]["filevault"]["state"], "encrypting");
    assert_eq!(inventory["mdm_profile_installed"], true);
    assert_eq!(inventory["mdm_enrolled_at"], "2024-05-01T09:30:12Z");
    assert_eq!(inventory["certificates"][1]["is_identity"], true);
    assert_eq!(inventory["available_updates"], json!([]));
    let app = &inventory["applications"][0];
    assert_eq!(
        (&app["bundle_id"], &app["short_version"], &app["version"]),
        (&json!("com.example.foo"), &json!("2.1"), &json!("210"))
    );
    let keychain = device.root().join("Library/Keychains/System.keychain");
    let calls = stand_ins.calls();
    for call in [
        "system_profiler -xml SPHardwareDataType SPSoftwareDataType".to_string(),
        "ioreg -rd1 -c IOPlatformExpertDevice".to_string(),
        "fdesetup status".to_string(),
        "profiles status -type enrollment".to_string(),
        "profiles -C -o stdout-xml".to_string(),
        format!("security find-certificate -a -Z -p {}", keychain.display()),
        format!("security find-identity {}", keychain.display()),
        "softwareupdate --list".to_string(),
    ] {
        assert!(calls.contains(&call), "{call:?} not among {calls:#?}");
    }

    let saved = device.state_dir().join("inventory.json");
    let mode = std::fs::metadata(&saved).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the saved inventory is root-only");
    let saved: Value = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
    assert_eq!(&saved, inventory, "the saved inventory is the one sent");

    let recurring = check_in_with(&device, &stand_ins, &["--set", "commands.ioreg=/nonexistent/ioreg"]);
    assert_eq!(recurring["kind"], "recurring");
    assert_eq!(tenant.seen_at(INVENTORY).len(), 1, "a recurring check-in sends no inventory");
    let checkin: Value = serde_json::from_str(&tenant.seen_at("/api/v1/agent/checkin")[1].body).unwrap();
    assert_eq!(checkin["serial_number"], "C02FK3ZXQ6L4", "from the saved inventory");
}

#[test]
fn an_updateinventory_command_makes_a_recurring_check_in_send_inventory_once() {
    let device = Device::new();
    let stand_ins = StandIns::mac(&device);
    let tenant = TestTenant::start("tok-1", counting_blueprint(&device));
    configure(&device, &tenant.url(), "tok-1");
    check_in_with(&device, &stand_ins, &[]);
    assert_eq!(check_in_with(&device, &stand_ins, &[])["kind"], "recurring");
    assert_eq!(tenant.accepted_inventories().len(), 1);
    tenant.change(|state| state.commands = vec![json!({"id": "cmd-7", "type": "updateinventory"})]);
    let asked = check_in_with(&device, &stand_ins, &[]);
    assert_eq!(asked["kind"], "recurring");
    let seen = paths_seen(&tenant);
    assert_eq!(&seen[seen.len() - 2..], ["/api/v1/agent/results", INVENTORY], "sent after this check-in's items");
    assert_eq!(tenant.accepted_inventories().len(), 2);
    check_in_with(&device, &stand_ins, &[]);
    assert_eq!(tenant.accepted_inventories().len(), 2, "the request was answered once");
}

#[test]
fn a_failing_and_a_hanging_collector_leave_a_partial_inventory_and_the_check_in_succeeds() {
    let device = Device::new();
    let stand_ins = StandIns::mac(&device);
    stand_ins.tool(
        "profiles",
        &format!(
            "case \"$1\" in status) cat '{}' ;; *) echo 'profiles: this command requires root' >&2; exit 1 ;; esac",
            fixture("inventory/profiles-status/manual.txt")
        ),
    );
    let pid_file = device.root().join("fdesetup.pid");
    stand_ins.tool("fdesetup", &format!("echo $$ > '{}'\nexec sleep 30", pid_file.display()));
    let tenant = TestTenant::start("tok-1", counting_blueprint(&device));
    configure(&device, &tenant.url(), "tok-1");
    let clock = Instant::now();
    let run = check_in_with(
        &device,
        &stand_ins,
        &["--set", "inventory.collector_timeout=1s", "--set", "timeouts.termination_grace=1s"],
    );
    assert!(clock.elapsed() < Duration::from_secs(15), "the check-in took {:?}", clock.elapsed());
    assert_eq!(run["outcome"], "succeeded", "{run:#}");
    assert!(!is_alive(read_pid(&pid_file)), "the hanging fdesetup was stopped");
    let inventory = &tenant.accepted_inventories()[0]["inventory"];
    let errors: Vec<(String, String)> = inventory["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| (error["collector"].as_str().unwrap().into(), error["message"].as_str().unwrap().into()))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_eq!(errors[0].0, "filevault");
    assert!(errors[0].1.contains("did not finish in time"), "{errors:#?}");
    assert_eq!(errors[1].0, "profiles");
    assert!(errors[1].1.ends_with("exited 1: profiles: this command requires root"), "{errors:#?}");
    assert_eq!(inventory["security"]["filevault"], Value::Null);
    assert_eq!(inventory["mdm_profile_installed"], true, "the enrollment status stands in for the profile list");
    assert_eq!(inventory["device"]["serial_number"], "C02FK3ZXQ6L4", "the other collectors still report");
}

#[test]
fn agent_inventory_prints_the_model_or_a_readable_page_and_saves_it() {
    let device = Device::new();
    let stand_ins = StandIns::mac(&device);
    install_app(device.root());
    let mut arguments = stand_ins.flags();
    arguments.extend(["inventory".to_string(), "--json".to_string()]);
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
    let output = device.run(&arguments);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let inventory: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(inventory["device"]["device_name"], "Jane’s MacBook Pro");
    assert_eq!(inventory["applications"][0]["name"], "Foo");
    assert!(device.state_dir().join("inventory.json").exists());
    let human = device.run(&arguments[..arguments.len() - 1]);
    let page = text(&human.stdout);
    for line in ["Serial number   C02FK3ZXQ6L4", "FileVault       encrypting (37.41% done)", "Applications (1)"] {
        assert!(page.contains(line), "{line:?} not in:\n{page}");
    }
    let linux = device.run(&["inventory", "--json"]);
    let inventory: Value = serde_json::from_slice(&linux.stdout).unwrap();
    assert_eq!(inventory["errors"], json!([]), "missing macOS tools are absent collectors on Linux, not errors");
    assert_eq!(inventory["mdm_profile_installed"], Value::Null);
}
