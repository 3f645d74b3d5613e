//! Self Service's Updates through the real binary: the pending disruptive work a
//! managed item saved in the store is listed to a person without admin rights
//! (`agent self-service updates`), and "Update Now" (`agent self-service update`)
//! runs that one item at once as a run of kind `self_service` recorded as asked
//! by them, whatever its offer; an item with nothing waiting is refused, and the
//! refusal logged. Root without a daemon does the same in its own process.

use serde_json::{Value, json};

use super::{daemon_for_nobody, header, own_user};
use crate::daemon::harness::{runs, setting, wait_for_logged};
use crate::support::pending_work::{OS_UPDATE_ACTION, in_three_days, pending_os_update, save_pending_work};
use crate::support::{Device, NOBODY, PATIENCE, blueprint, code, running_as_root, script, text};

/// `os`, no check-in's own (no enforcement), which records each run in
/// `$AGENT_ROOT/os-ran`; `tool`, an ordinary script with nothing pending.
fn updating_items() -> Vec<Value> {
    let mut os = script("os", "macOS Sequoia", "#!/bin/sh\necho ran >> \"$AGENT_ROOT/os-ran\"\n");
    os["frequency"] = json!("no_enforcement");
    vec![os, script("tool", "Tool", "#!/bin/sh\nexit 0\n")]
}

/// The `(id, status)` of each item of a run record.
fn statuses(record: &Value) -> Vec<(&str, &str)> {
    let items = record["items"].as_array().unwrap();
    items.iter().map(|item| (item["id"].as_str().unwrap(), item["status"].as_str().unwrap())).collect()
}

/// How many times `os` ran.
fn os_runs(device: &Device) -> usize {
    std::fs::read_to_string(device.root().join("os-ran")).map_or(0, |ran| ran.lines().count())
}

#[test]
fn nobody_lists_the_updates_and_update_now_runs_the_item_asked_by_nobody() {
    let Some((device, _daemon)) = daemon_for_nobody(updating_items()) else { return };
    assert_eq!(os_runs(&device), 0, "no check-in runs it by itself");
    let output = device.run_as_nobody(&["self-service", "updates"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "Nothing is waiting to be updated on this Mac.\n");

    let deadline = in_three_days();
    save_pending_work(&device, &pending_os_update("os", "macOS Sequoia", Some(deadline)));
    let output = device.run_as_nobody(&["self-service", "updates", "--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        listed,
        json!([{ "id": "os", "name": "macOS Sequoia", "action": OS_UPDATE_ACTION, "deadline": deadline,
                 "state": "deferred by ada (1 of 3)" }])
    );
    let shown = text(&device.run_as_nobody(&["self-service", "updates"]).stdout);
    let by = deadline.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(shown, format!("os  macOS Sequoia  {OS_UPDATE_ACTION}  by {by}  [deferred by ada (1 of 3)]\n"));

    let output = device.run_as_nobody(&["self-service", "update", "macOS Sequoia", "--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let record: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(header(&record), ("self_service", "self_service", "nobody"));
    assert_eq!(statuses(&record), [("os", "succeeded")], "the run holds the one item whose work waits");
    assert_eq!(os_runs(&device), 1, "the item ran, though it is not offered in Self Service");
    let history = runs(&device);
    let headers: Vec<_> = history.iter().map(header).collect();
    assert_eq!(headers, [("daily", "schedule", "-"), ("self_service", "self_service", "nobody")]);
    let logged = wait_for_logged(&device, "Self Service update requested over the control socket.", 1, PATIENCE);
    let asked = (logged[0]["user"].as_str(), logged[0]["peer_uid"].as_u64(), logged[0]["item_id"].as_str());
    assert_eq!(asked, (Some("nobody"), Some(NOBODY.into()), Some("os")));
}

#[test]
fn update_now_on_an_item_with_nothing_waiting_is_refused_and_logged() {
    let Some((device, _daemon)) = daemon_for_nobody(updating_items()) else { return };
    save_pending_work(&device, &pending_os_update("os", "macOS Sequoia", Some(in_three_days())));
    for (asked, says) in [
        ("tool", "nothing is waiting for \"Tool\": it has no pending update on this Mac"),
        ("nope", "no library item \"nope\" in blueprint"),
    ] {
        let output = device.run_as_nobody(&["self-service", "update", asked]);
        assert_eq!(code(&output), 2, "{asked}: {}", text(&output.stderr));
        assert!(text(&output.stderr).contains(says), "{asked}: {}", text(&output.stderr));
    }
    let refused = json!({ "request": "update_now", "item": "Tool" });
    let replies = device.request_as_nobody(&refused);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!((replies[0]["reply"].as_str(), replies[0]["exit_code"].as_u64()), (Some("failed"), Some(2)));
    let logged = wait_for_logged(&device, "Refused a Self Service update: nothing of that item waits.", 3, PATIENCE);
    let who: Vec<(&str, &str)> =
        logged.iter().map(|record| (record["user"].as_str().unwrap(), record["item"].as_str().unwrap())).collect();
    assert_eq!(who, [("nobody", "tool"), ("nobody", "nope"), ("nobody", "Tool")]);
    assert_eq!(runs(&device).len(), 1, "nothing ran");
    assert_eq!(os_runs(&device), 0);
}

#[test]
fn root_updates_through_the_daemon_and_without_one_in_its_own_process() {
    let device = Device::new();
    let path = device.write_blueprint(&blueprint(updating_items()));
    let blueprint_file = setting("blueprint_file", &path);
    let user = own_user();
    {
        let _daemon = super::daemon_after_first_run(&device, &path);
        save_pending_work(&device, &pending_os_update("os", "macOS Sequoia", Some(in_three_days())));
        let output = device.run(&["self-service", "update", "os", "--json"]);
        assert_eq!(code(&output), 0, "{}", text(&output.stderr));
        let record: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(header(&record), ("self_service", "self_service", user.as_str()));
        assert_eq!(os_runs(&device), 1);
    }
    if !running_as_root("running a Self Service update without the daemon") {
        return;
    }
    let output = device.run(&["--set", &blueprint_file, "self-service", "updates", "--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(listed[0]["id"], "os", "read from the store itself: {listed}");
    let output = device.run(&["--set", &blueprint_file, "self-service", "update", "macOS Sequoia"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert_eq!(os_runs(&device), 2);
    let output = device.run(&["--set", &blueprint_file, "self-service", "update", "Tool"]);
    assert_eq!(code(&output), 2, "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("nothing is waiting for \"Tool\""), "{}", text(&output.stderr));
    let last = runs(&device).pop().unwrap();
    assert_eq!(header(&last), ("self_service", "self_service", user.as_str()), "{last:#}");
}
