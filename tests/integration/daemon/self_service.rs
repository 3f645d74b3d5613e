//! Self Service through a real daemon: `agent self-service install` runs the one
//! offered item as a run of kind `self_service`, an item without an offer is
//! refused, `agent self-service list` shows what is offered, and `agent sync`
//! runs the daily check-in, each recorded with trigger `self_service` and the user
//! who asked.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::harness::{Daemon, finished, runs, setting, wait_for_logged, wait_for_runs};
use crate::support::{Device, PATIENCE, blueprint, code, running_as_root, script, text};

/// A blueprint with an ordinary script (`quick`), an on-request one that creates
/// `$AGENT_ROOT/installed` (`tool`), and an ordinary one also offered (`offered`).
pub(super) fn offering_blueprint(device: &Device) -> PathBuf {
    let mut tool = script("tool", "Install tool", "#!/bin/sh\ntest -f \"$AGENT_ROOT/installed\"\n");
    tool["remediation"] = json!("#!/bin/sh\ntouch \"$AGENT_ROOT/installed\"\n");
    tool["frequency"] = json!("self_service");
    tool["self_service"] = json!({ "category": "Tools", "description": "A tool.", "recommended": true });
    let mut offered = script("offered", "Offered", "#!/bin/sh\nexit 0\n");
    offered["self_service"] = json!({ "category": "Basics" });
    device.write_blueprint(&blueprint(vec![script("quick", "Quick", "#!/bin/sh\nexit 0\n"), tool, offered]))
}

/// The daemon on `device` enforcing `path`, after its first (daily) check-in.
pub(super) fn daemon_after_first_run(device: &Device, path: &Path) -> Daemon {
    let blueprint_file = setting("blueprint_file", path);
    let daemon =
        Daemon::start(device, &["schedule.recurring_interval=1h", "schedule.daily_interval=1h", &blueprint_file]);
    wait_for_runs(device, PATIENCE, |runs| runs.first().is_some_and(finished));
    daemon
}

/// The name of the user these tests run as (the daemon records it as who asked).
pub(super) fn own_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid()).unwrap().unwrap().name
}

fn header(run: &Value) -> (&str, &str, &str) {
    (run["kind"].as_str().unwrap(), run["trigger"].as_str().unwrap(), run["requested_by"].as_str().unwrap_or("-"))
}

#[test]
fn an_offered_item_installs_through_the_daemon_as_a_self_service_run() {
    let device = Device::new();
    let path = offering_blueprint(&device);
    let _daemon = daemon_after_first_run(&device, &path);
    assert!(!device.root().join("installed").exists(), "the schedule never runs an on-request item");

    let output = device.run(&["self-service", "install", "Install tool", "--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert!(device.root().join("installed").exists(), "the item ran");
    let record: Value = serde_json::from_slice(&output.stdout).unwrap();
    let user = own_user();
    assert_eq!(header(&record), ("self_service", "self_service", user.as_str()));
    let items: Vec<(&str, &str)> = record["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| (item["id"].as_str().unwrap(), item["status"].as_str().unwrap()))
        .collect();
    assert_eq!(items, [("tool", "succeeded")], "the run holds the one item asked for");

    let history = runs(&device);
    let headers: Vec<_> = history.iter().map(header).collect();
    assert_eq!(headers, [("daily", "schedule", "-"), ("self_service", "self_service", user.as_str())]);
    let logged = wait_for_logged(&device, "Self Service install requested over the control socket.", 1, PATIENCE);
    assert_eq!((logged[0]["user"].as_str(), logged[0]["item"].as_str()), (Some(user.as_str()), Some("Install tool")));

    let status = device.status();
    assert_eq!(header(&status["last_run"]), ("self_service", "self_service", user.as_str()), "{status:#}");
    let shown = text(&device.run(&["status"]).stdout);
    assert!(shown.contains(&format!("(self_service, self_service, asked by {user})")), "{shown}");
}

#[test]
fn an_item_without_an_offer_is_refused_naming_it() {
    let device = Device::new();
    let path = offering_blueprint(&device);
    let _daemon = daemon_after_first_run(&device, &path);

    for (asked, says) in [
        ("quick", "library item \"Quick\" (quick) is not offered in Self Service"),
        ("nope", "no library item \"nope\""),
    ] {
        let output = device.run(&["self-service", "install", asked]);
        assert_eq!(code(&output), 2, "{asked}: {}", text(&output.stderr));
        assert!(text(&output.stderr).contains(says), "{asked}: {}", text(&output.stderr));
    }
    assert_eq!(runs(&device).len(), 1, "nothing ran");
}

#[test]
fn the_list_shows_each_offered_item_with_its_state() {
    let device = Device::new();
    let path = offering_blueprint(&device);
    let _daemon = daemon_after_first_run(&device, &path);
    let blueprint_file = setting("blueprint_file", &path);
    assert_eq!(code(&device.run(&["self-service", "install", "tool"])), 0);

    let output = device.run(&["--set", &blueprint_file, "self-service", "list", "--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let mut listed: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    for item in &mut listed {
        assert!(item["last_run"].is_string(), "{item}");
        item["last_run"] = json!("…");
    }
    assert_eq!(
        listed,
        [
            json!({ "id": "tool", "name": "Install tool", "type": "custom_script", "category": "Tools",
                    "description": "A tool.", "recommended": true, "state": "installed", "last_run": "…" }),
            json!({ "id": "offered", "name": "Offered", "type": "custom_script", "category": "Basics",
                    "description": "", "recommended": false, "state": "installed", "last_run": "…" }),
        ]
    );
}

#[test]
fn sync_runs_the_daily_check_in_with_trigger_self_service() {
    let device = Device::new();
    let path = offering_blueprint(&device);
    let _daemon = daemon_after_first_run(&device, &path);

    let output = device.run(&["sync", "--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let record: Value = serde_json::from_slice(&output.stdout).unwrap();
    let user = own_user();
    assert_eq!(header(&record), ("daily", "self_service", user.as_str()));
    let skipped = record["items"].as_array().unwrap().iter().find(|item| item["id"] == "tool").unwrap();
    assert_eq!(skipped["status"], "skipped", "a sync is a scheduled kind of check-in: {skipped}");
    assert!(!device.root().join("installed").exists());
}

#[test]
fn without_a_daemon_root_runs_the_request_itself() {
    if !running_as_root("running a Self Service request without the daemon") {
        return;
    }
    let device = Device::new();
    let path = offering_blueprint(&device);
    let blueprint_file = setting("blueprint_file", &path);

    let output = device.run(&["--set", &blueprint_file, "self-service", "install", "tool", "--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let record: Value = serde_json::from_slice(&output.stdout).unwrap();
    let user = own_user();
    assert_eq!(header(&record), ("self_service", "self_service", user.as_str()));
    assert!(device.root().join("installed").exists());
    let output = device.run(&["--set", &blueprint_file, "sync", "--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let record: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(header(&record), ("daily", "self_service", user.as_str()));
}
