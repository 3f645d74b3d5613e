//! Managed OS: compliant, pending, enforced, failing and malformed items, with
//! stand-in `sw_vers` and `softwareupdate` programs that behave like the real
//! ones and record how they were called.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Device, blueprint, code, item, script, text};

mod notices;

const SONOMA_UPDATE: &str = include_str!("../fixtures/softwareupdate/sonoma-update.txt");
const NO_UPDATES: &str = include_str!("../fixtures/softwareupdate/no-updates.txt");
const SONOMA_LABEL: &str = "macOS Sonoma 14.7.1-23H222";
const ITEM_NAME: &str = "macOS minimum";

/// Prints what `sw_vers` prints, in its exact layout (tabs included).
const SW_VERS: &str = r#"#!/bin/sh
if [ "$1" = -productVersion ]; then echo VERSION; exit 0; fi
printf 'ProductName:\t\tmacOS\nProductVersion:\t\tVERSION\nBuildVersion:\t\t23G93\n'
"#;

/// Records every call; `--list` prints the prepared output (the "no updates"
/// line goes to stderr, as the real tool does), `--install` records its
/// arguments and pid, then runs the test's body.
const SOFTWAREUPDATE: &str = r#"#!/bin/sh
records='RECORDS'
printf '%s\n' "$*" >> "$records/calls"
case "$1" in
  --list)
    cat "$records/list.out"
    cat "$records/list.err" >&2
    exit 0 ;;
  --install)
    printf '%s\n' "$@" > "$records/install-args"
    echo $$ > "$records/install-pid"
    INSTALL_BODY
    ;;
esac
echo "usage: softwareupdate" >&2
exit 64
"#;

/// The stand-in tools of one device, under its root where macOS keeps them.
struct StandIns {
    sw_vers: PathBuf,
    softwareupdate: PathBuf,
    records: PathBuf,
}

impl StandIns {
    /// A Mac running macOS `version` whose `softwareupdate --list` prints
    /// `list_stdout` and `list_stderr`, and whose `--install` runs `install_body`.
    fn mac(device: &Device, version: &str, list_stdout: &str, list_stderr: &str, install_body: &str) -> Self {
        let records = device.root().join("records");
        std::fs::create_dir_all(&records).unwrap();
        std::fs::write(records.join("list.out"), list_stdout).unwrap();
        std::fs::write(records.join("list.err"), list_stderr).unwrap();
        let sw_vers = executable(device, "usr/bin/sw_vers", &SW_VERS.replace("VERSION", version));
        let softwareupdate = executable(
            device,
            "usr/sbin/softwareupdate",
            &SOFTWAREUPDATE.replace("RECORDS", &records.display().to_string()).replace("INSTALL_BODY", install_body),
        );
        Self { sw_vers, softwareupdate, records }
    }

    /// The `--set` flags that point the agent at the stand-ins.
    fn flags(&self) -> Vec<String> {
        vec![
            "--set".into(),
            format!("commands.sw_vers={}", self.sw_vers.display()),
            "--set".into(),
            format!("commands.softwareupdate={}", self.softwareupdate.display()),
        ]
    }

    /// Every `softwareupdate` call, one line of arguments each.
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.records.join("calls")).unwrap_or_default().lines().map(String::from).collect()
    }

    /// The arguments of the `--install` call, one each, if there was one.
    fn install_args(&self) -> Option<Vec<String>> {
        let text = std::fs::read_to_string(self.records.join("install-args")).ok()?;
        Some(text.lines().map(String::from).collect())
    }
}

fn executable(device: &Device, relative: &str, source: &str) -> PathBuf {
    let path = device.write_file(relative, source);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn managed_os(keys: Value) -> Value {
    let mut item = json!({ "id": "li-os", "name": ITEM_NAME, "type": "managed_os" });
    item.as_object_mut().unwrap().extend(keys.as_object().unwrap().clone());
    item
}

/// One check-in of `item` with the stand-ins (plus `extra` flags); the exit code and `agent status --json`.
fn check_in(device: &Device, stand_ins: &StandIns, item: Value, extra: &[&str]) -> (i32, Value) {
    let path = device.write_blueprint(&blueprint(vec![item]));
    let mut flags = stand_ins.flags();
    flags.extend(extra.iter().map(|flag| flag.to_string()));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let output = device.check_in(&path, &flags);
    (code(&output), device.status())
}

fn message(status: &Value) -> String {
    item(status, ITEM_NAME)["message"].as_str().unwrap_or_default().to_string()
}

#[test]
fn a_device_at_the_minimum_is_compliant_without_asking_for_updates() {
    let device = Device::new();
    let mac = StandIns::mac(&device, "14.7.1", SONOMA_UPDATE, "", "exit 0");
    let keys = json!({ "minimum_version": "14.7", "deadline": "2000-01-01" });
    let (exit, status) = check_in(&device, &mac, managed_os(keys), &[]);
    assert_eq!(exit, 0, "{status:#}");
    assert_eq!(item(&status, ITEM_NAME)["status"], "succeeded");
    assert_eq!(message(&status), "compliant: macOS 14.7.1 meets the minimum 14.7");
    assert!(mac.calls().is_empty(), "softwareupdate is not run for a compliant device: {:?}", mac.calls());
    assert_eq!(status["drift"]["reapplied"], 0);

    let shown = text(&device.run(&["status"]).stdout);
    assert!(shown.contains("compliant: macOS 14.7.1 meets the minimum 14.7"), "{shown}");
    let logs = text(&device.run(&["logs", "--item", ITEM_NAME, "--json"]).stdout);
    assert!(logs.contains("compliant: macOS 14.7.1 meets the minimum 14.7"), "{logs}");
}

#[test]
fn before_the_deadline_an_update_is_reported_pending_and_not_installed() {
    let device = Device::new();
    let mac = StandIns::mac(&device, "14.6.1", SONOMA_UPDATE, "", "exit 0");
    let keys = json!({ "minimum_version": "14.7", "deadline": "2999-12-31" });
    let (exit, status) = check_in(&device, &mac, managed_os(keys), &[]);
    assert_eq!(exit, 0, "pending is not a failure: {status:#}");
    assert_eq!(item(&status, ITEM_NAME)["status"], "succeeded");
    assert_eq!(
        message(&status),
        "update available: macOS Sonoma 14.7.1, deadline 3000-01-01T00:00:00Z; macOS 14.6.1 is below the minimum 14.7"
    );
    assert_eq!(mac.calls(), ["--list"], "only the list was asked for");
    assert_eq!(mac.install_args(), None, "nothing installed before the deadline");
    let output = item(&status, ITEM_NAME)["output"].as_str().unwrap().to_string();
    assert!(output.contains("--- softwareupdate --list (exit 0) ---") && output.contains(SONOMA_LABEL), "{output}");
}

#[test]
fn after_the_deadline_the_update_is_installed_with_restart() {
    let device = Device::new();
    let mac = StandIns::mac(&device, "14.6.1", SONOMA_UPDATE, "", "echo 'Downloading macOS Sonoma 14.7.1'\nexit 0");
    let keys = json!({ "minimum_version": "14.7", "deadline": "2000-01-01T00:00:00Z" });
    let (exit, status) = check_in(&device, &mac, managed_os(keys), &[]);
    assert_eq!(exit, 0, "{status:#}");
    let args = mac.install_args().expect("softwareupdate --install was run");
    assert_eq!(args, ["--install", SONOMA_LABEL, "--agree-to-license", "--restart"]);
    assert_eq!(mac.calls(), ["--list", &format!("--install {SONOMA_LABEL} --agree-to-license --restart")]);
    let recorded = item(&status, ITEM_NAME);
    assert_eq!(recorded["status"], "succeeded");
    assert_eq!(recorded["exit_code"], 0);
    assert_eq!(
        message(&status),
        "update started: macOS Sonoma 14.7.1; the deadline 2000-01-01T00:00:00Z has passed and macOS 14.6.1 is below the minimum 14.7"
    );
    assert!(recorded["output"].as_str().unwrap().contains("Downloading macOS Sonoma 14.7.1"), "{recorded}");

    let logs = text(&device.run(&["logs", "--item", ITEM_NAME]).stdout);
    assert!(logs.contains("update started: macOS Sonoma 14.7.1"), "{logs}");
    let all_logs = text(&device.run(&["logs", "--json"]).stdout);
    assert!(all_logs.contains("Installing an OS update: the deadline has passed.") && all_logs.contains(SONOMA_LABEL));
}

#[test]
fn install_only_leaves_the_restart_to_the_user() {
    let device = Device::new();
    let mac = StandIns::mac(&device, "14.6.1", SONOMA_UPDATE, "", "exit 0");
    let keys = json!({ "minimum_version": "14.7.1", "deadline": "2000-01-01", "install_action": "install" });
    let (exit, status) = check_in(&device, &mac, managed_os(keys), &[]);
    assert_eq!(exit, 0, "{status:#}");
    assert_eq!(mac.install_args().unwrap(), ["--install", SONOMA_LABEL, "--agree-to-license"]);
    assert!(message(&status).starts_with("update started: macOS Sonoma 14.7.1, completing at the next restart;"));
}

#[test]
fn a_failing_install_fails_the_item_with_its_exit_code() {
    let device = Device::new();
    let body = "echo 'Error downloading macOS Sonoma 14.7.1: not enough free disk space' >&2\nexit 3";
    let mac = StandIns::mac(&device, "14.6.1", SONOMA_UPDATE, "", body);
    let keys = json!({ "minimum_version": "14.7", "deadline": "2000-01-01" });
    let (exit, status) = check_in(&device, &mac, managed_os(keys), &[]);
    assert_eq!(exit, 1);
    let recorded = item(&status, ITEM_NAME);
    assert_eq!(recorded["status"], "failed");
    assert_eq!(recorded["exit_code"], 3);
    assert!(message(&status).starts_with("update failed: softwareupdate --install exited 3 for macOS Sonoma 14.7.1;"));
    let output = recorded["output"].as_str().unwrap();
    assert!(output.contains("--- softwareupdate --install (exit 3) ---\nError downloading"), "{output}");
    let warnings = text(&device.run(&["logs", "--level", "warn", "--json"]).stdout);
    assert!(warnings.contains("update failed: softwareupdate --install exited 3"), "{warnings}");
}

#[test]
fn no_update_for_the_minimum_is_pending_before_the_deadline_and_a_failure_after() {
    let device = Device::new();
    let (list_stdout, list_stderr) = NO_UPDATES.split_at(NO_UPDATES.find("No new software").unwrap());
    let mac = StandIns::mac(&device, "14.6.1", list_stdout, list_stderr, "exit 0");
    let keys = json!({ "minimum_version": "15.2", "deadline": "2999-12-31T00:00:00Z" });
    let (exit, status) = check_in(&device, &mac, managed_os(keys), &[]);
    assert_eq!(exit, 0, "{status:#}");
    assert_eq!(
        message(&status),
        "no update available yet for the minimum 15.2: macOS 14.6.1 installed, no macOS update offered, deadline 2999-12-31T00:00:00Z"
    );
    let output = item(&status, ITEM_NAME)["output"].as_str().unwrap().to_string();
    assert!(output.contains("No new software available."), "stderr is kept too: {output}");

    let keys = json!({ "minimum_version": "15.2", "deadline": "2000-01-01" });
    let (exit, status) = check_in(&device, &mac, managed_os(keys), &[]);
    assert_eq!(exit, 1);
    assert_eq!(item(&status, ITEM_NAME)["status"], "failed");
    assert!(message(&status).starts_with("not compliant: no update available for the minimum 15.2 and the deadline"));
    assert_eq!(mac.install_args(), None, "nothing to install");
}

#[test]
fn an_install_is_bounded_by_the_run_budget_only() {
    let device = Device::new();
    let mac = StandIns::mac(&device, "14.6.1", SONOMA_UPDATE, "", "sleep 60\nexit 0");
    let keys = json!({ "minimum_version": "14.7", "deadline": "2000-01-01" });
    let limits = ["--set", "timeouts.run=2s", "--set", "timeouts.termination_grace=1s"];
    let started = Instant::now();
    let (exit, status) = check_in(&device, &mac, managed_os(keys), &limits);
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    assert_eq!(exit, 1);
    assert_eq!(item(&status, ITEM_NAME)["status"], "timed_out", "{status:#}");
    assert!(message(&status).starts_with("the run's 2s budget ran out"), "{}", message(&status));
    let pid = crate::support::read_pid(&mac.records.join("install-pid"));
    assert!(!crate::support::is_alive(pid), "the stand-in installer was stopped");
}

#[test]
fn without_sw_vers_the_version_comes_from_os_release_under_the_root() {
    let device = Device::new();
    device.write_file(
        "etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n",
    );
    let missing = device.root().join("no/such/sw_vers");
    let missing_softwareupdate = device.root().join("no/such/softwareupdate");
    let flags = [
        format!("commands.sw_vers={}", missing.display()),
        format!("commands.softwareupdate={}", missing_softwareupdate.display()),
    ];
    let items = vec![
        json!({ "id": "a", "name": "Linux 11", "type": "managed_os", "minimum_version": "11" }),
        json!({ "id": "b", "name": "Linux 13", "type": "managed_os", "minimum_version": "13", "deadline": "2000-01-01" }),
    ];
    let path = device.write_blueprint(&blueprint(items));
    let output = device.check_in(&path, &["--set", &flags[0], "--set", &flags[1]]);
    assert_eq!(code(&output), 1, "{}", text(&output.stderr));
    let status = device.status();
    let compliant = item(&status, "Linux 11");
    assert_eq!(compliant["message"], "compliant: Debian GNU/Linux 12 meets the minimum 11");
    assert!(compliant["output"].as_str().unwrap().contains("Debian GNU/Linux 12 (bookworm)"), "{compliant}");
    let behind = item(&status, "Linux 13");
    assert_eq!(behind["status"], "failed");
    let message = behind["message"].as_str().unwrap();
    assert!(message.starts_with("cannot list the available updates: program not found"), "{message}");
}

#[test]
fn a_bad_minimum_version_is_bad_input_naming_the_key() {
    let device = Device::new();
    let items = vec![
        script("ok", "Ok", "#!/bin/sh\nexit 0\n"),
        json!({ "id": "os", "name": "macOS", "type": "managed_os", "minimum_version": "fifteen", "deadline": "soon" }),
    ];
    let path = device.write_blueprint(&blueprint(items));
    let output = device.check_in(&path, &[]);
    assert_eq!(code(&output), 2);
    let message = text(&output.stderr);
    for expected in ["library_items[1].minimum_version", "\"fifteen\" is not a version", "library_items[1].deadline"] {
        assert!(message.contains(expected), "{expected:?} missing from: {message}");
    }
    assert!(!device.state_dir().exists(), "nothing ran, nothing was recorded");
}
