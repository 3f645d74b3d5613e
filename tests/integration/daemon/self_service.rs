//! Self Service through a real daemon: `agent self-service install` runs the one
//! offered item as a run of kind `self_service`, an item without an offer is
//! refused, `agent self-service list` shows what is offered, and `agent sync`
//! runs the daily check-in, each recorded with trigger `self_service` and the user
//! who asked. A process dropped to `nobody` (a person without admin rights) may
//! list, install, sync (a sync under way is joined; another within
//! `self_service.sync_interval` is refused) and read Device Info, and is refused
//! everything else; without a daemon it is told the service is not running.
//! The updates waiting on the Mac and "Update Now" are tested in [`updates`].

mod updates;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use endpoint_agent::paths::AgentPaths;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

use super::harness::{Daemon, finished, runs, setting, wait_for_logged, wait_for_runs};
use crate::support::{Device, NOBODY, PATIENCE, blueprint, code, logged_records, running_as_root, script, text};

/// A blueprint with an ordinary script (`quick`), an on-request one that creates
/// `$AGENT_ROOT/installed` (`tool`), and an ordinary one also offered (`offered`).
pub(super) fn offering_blueprint(device: &Device) -> PathBuf {
    device.write_blueprint(&blueprint(offering_items()))
}

/// The items of [`offering_blueprint`].
fn offering_items() -> Vec<Value> {
    let mut tool = script("tool", "Install tool", "#!/bin/sh\ntest -f \"$AGENT_ROOT/installed\"\n");
    tool["remediation"] = json!("#!/bin/sh\ntouch \"$AGENT_ROOT/installed\"\n");
    tool["frequency"] = json!("self_service");
    tool["self_service"] = json!({ "category": "Tools", "description": "A tool.", "recommended": true });
    let mut offered = script("offered", "Offered", "#!/bin/sh\nexit 0\n");
    offered["self_service"] = json!({ "category": "Basics" });
    vec![script("quick", "Quick", "#!/bin/sh\nexit 0\n"), tool, offered]
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

/// An ordinary script that, while `$AGENT_ROOT/hold` exists, says it started
/// (`held`) and waits for the test to write `go`.
const HOLD: &str = "#!/bin/sh\nif [ -f \"$AGENT_ROOT/hold\" ]; then\n  touch \"$AGENT_ROOT/held\"\n  \
                    while [ ! -f \"$AGENT_ROOT/go\" ]; do sleep 0.05; done\nfi\n";

/// A device whose daemon enforces `items`, after its first check-in, for a test
/// that drops to `nobody`; `None` (the test skipped) when the tests do not run as root.
fn daemon_for_nobody(items: Vec<Value>) -> Option<(Device, Daemon)> {
    if !running_as_root("dropping to nobody") {
        return None;
    }
    let device = Device::new();
    let path = device.write_blueprint(&blueprint(items));
    let daemon = daemon_after_first_run(&device, &path);
    Some((device, daemon))
}

#[test]
fn nobody_lists_installs_and_reads_device_info_recorded_as_asked_by_nobody() {
    let Some((device, _daemon)) = daemon_for_nobody(offering_items()) else { return };

    let output = device.run_as_nobody(&["self-service", "list", "--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let listed: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    let states: Vec<(&str, &str)> =
        listed.iter().map(|item| (item["id"].as_str().unwrap(), item["state"].as_str().unwrap())).collect();
    assert_eq!(states, [("tool", "not_installed"), ("offered", "installed")]);

    let output = device.run_as_nobody(&["self-service", "device", "--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["blueprint_name"], "Test", "{summary:#}");
    assert_eq!(summary["last_checkin"], runs(&device)[0]["finished_at"], "the daemon's first check-in: {summary:#}");

    let output = device.run_as_nobody(&["self-service", "install", "tool", "--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert!(device.root().join("installed").exists(), "the item ran");
    let record: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(header(&record), ("self_service", "self_service", "nobody"));
    let history = runs(&device);
    let headers: Vec<_> = history.iter().map(header).collect();
    assert_eq!(headers, [("daily", "schedule", "-"), ("self_service", "self_service", "nobody")]);
    let logged = wait_for_logged(&device, "Self Service install requested over the control socket.", 1, PATIENCE);
    assert_eq!((logged[0]["user"].as_str(), logged[0]["peer_uid"].as_u64()), (Some("nobody"), Some(NOBODY.into())));
}

/// The offered items and a script that holds the daily check-in (see [`HOLD`]).
fn holding_items() -> Vec<Value> {
    let mut items = offering_items();
    items.push(script("hold", "Hold", HOLD));
    items
}

/// A sync by nobody (`first`, its arguments) held while it runs, and a second one
/// (`agent sync`) that joined it; the test writes `go` to let them end.
fn two_syncs_by_nobody(device: &Device, first: &[&str]) -> (Child, Child) {
    device.write_file("hold", "");
    let first = device.agent_as_nobody().args(first).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    device.wait_for_file("held", PATIENCE);
    let second = device.agent_as_nobody().arg("sync").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_logged(device, "Joined the Self Service sync already under way.", 1, PATIENCE);
    (first, second)
}

#[test]
fn a_sync_by_nobody_is_joined_while_under_way_and_refused_within_the_interval() {
    let Some((device, _daemon)) = daemon_for_nobody(holding_items()) else { return };
    let (first, second) = two_syncs_by_nobody(&device, &["sync", "--json"]);
    let joined = logged_records(&device, "Joined the Self Service sync already under way.");
    assert_eq!((joined[0]["user"].as_str(), joined[0]["first_asked_by"].as_str()), (Some("nobody"), Some("nobody")));
    device.write_file("go", "");
    let (first, second) = (first.wait_with_output().unwrap(), second.wait_with_output().unwrap());
    assert_eq!(code(&first), 0, "{}", text(&first.stderr));
    assert_eq!(code(&second), 0, "{}{}", text(&second.stdout), text(&second.stderr));
    let record: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(header(&record), ("daily", "self_service", "nobody"));
    let followed = text(&second.stdout);
    assert!(followed.contains("A sync is already under way (asked for by nobody at "), "{followed}");
    assert!(followed.contains("Check-in succeeded"), "the joiner ends with the run it followed: {followed}");
    let history = runs(&device);
    let headers: Vec<_> = history.iter().map(header).collect();
    assert_eq!(headers, [("daily", "schedule", "-"), ("daily", "self_service", "nobody")], "one sync ran, not two");

    let refused = device.run_as_nobody(&["sync"]);
    assert_eq!(code(&refused), 3, "{}", text(&refused.stderr));
    let said = text(&refused.stderr);
    assert!(
        said.contains("this Mac last synced at ") && said.contains("the next sync may be asked for from "),
        "{said}"
    );
    let message = "Refused a Self Service sync: the last one ended less than self_service.sync_interval ago.";
    let logged = wait_for_logged(&device, message, 1, PATIENCE);
    assert_eq!(logged[0]["user"], "nobody");
    assert_eq!(runs(&device).len(), 2, "nothing ran");
    assert_eq!(code(&device.run(&["sync"])), 0, "root is never held to the interval");
}

#[test]
fn a_sync_whose_first_requester_leaves_carries_on_for_the_one_who_joined() {
    let Some((device, _daemon)) = daemon_for_nobody(holding_items()) else { return };
    let (first, second) = two_syncs_by_nobody(&device, &["sync"]);
    kill(Pid::from_raw(first.id() as i32), Signal::SIGINT).unwrap();
    let first = first.wait_with_output().unwrap();
    assert_eq!(code(&first), 1, "{}", text(&first.stderr));
    assert!(text(&first.stderr).contains("stopped following the sync; it carries on"), "{}", text(&first.stderr));
    device.write_file("go", "");
    let second = second.wait_with_output().unwrap();
    assert_eq!(code(&second), 0, "{}{}", text(&second.stdout), text(&second.stderr));
    let history = runs(&device);
    assert_eq!(history.len(), 2, "{history:#?}");
    assert_eq!(
        (header(&history[1]), history[1]["outcome"].as_str()),
        (("daily", "self_service", "nobody"), Some("succeeded"))
    );
}

#[test]
fn nobody_is_refused_every_request_but_self_service_and_each_refusal_is_logged() {
    let Some((device, _daemon)) = daemon_for_nobody(Vec::new()) else { return };
    for arguments in [&["run"][..], &["run", "--reset-daily"]] {
        let output = device.run_as_nobody(arguments);
        assert_eq!(code(&output), 1, "{arguments:?}: {}", text(&output.stderr));
        let stderr = text(&output.stderr);
        assert!(stderr.contains("only an administrator may ask the agent to run a check-in"), "{stderr}");
    }
    for (request, asks) in [(json!({ "request": "status" }), "show its status"), (json!({ "request": "run" }), "run")] {
        let replies = device.request_as_nobody(&request);
        assert_eq!(replies.len(), 1, "{replies:?}");
        assert_eq!(replies[0]["reply"], "refused", "{replies:?}");
        assert!(replies[0]["reason"].as_str().unwrap().contains(asks), "{replies:?}");
    }
    let refusals = wait_for_logged(&device, "Refused a control request: only root may make it.", 4, PATIENCE);
    let logged: Vec<(&str, &str)> =
        refusals.iter().map(|record| (record["user"].as_str().unwrap(), record["request"].as_str().unwrap())).collect();
    assert_eq!(logged, [("nobody", "run"), ("nobody", "run"), ("nobody", "status"), ("nobody", "run")]);
    assert!(logged_records(&device, "Check-in requested over the control socket.").is_empty());
}

#[test]
fn without_a_daemon_nobody_is_told_the_service_is_not_running_and_whom_to_ask() {
    if !running_as_root("dropping to nobody") {
        return;
    }
    let device = Device::new();
    // The agent's folders as a check-in by root leaves them, and the configuration
    // readable by root alone.
    device.check_in_ok(&offering_blueprint(&device), &[]);
    let config = AgentPaths::under(device.root()).config_file;
    std::fs::write(&config, PLIST).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();

    for arguments in
        [&["sync"][..], &["self-service", "install", "tool"], &["self-service", "list"], &["self-service", "device"]]
    {
        let output = device.run_as_nobody(arguments);
        assert_eq!(code(&output), 1, "{arguments:?}: {}", text(&output.stderr));
        let stderr = text(&output.stderr);
        assert_eq!(
            stderr,
            "error: the agent's service is not running on this Mac, so Self Service is unavailable; ask your IT admin to start it\n",
            "{arguments:?}"
        );
    }
    assert_eq!(runs(&device).len(), 1, "nothing ran");
}

/// A configuration file setting one key.
const PLIST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>logs</key><dict><key>level</key><string>debug</string></dict></dict></plist>
"#;
