//! Work that waits on the person at the Mac, as everything downstream of the
//! items shows it: `agent status` (pending disruptive work, drift counts, the
//! items' statuses), `agent history`, and the results report the reference
//! tenant stores and shows. Some rows are written the way the managed OS and
//! app items write them, through the store's own API; the last test has a real
//! app held back by a real running process.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use endpoint_agent::plan::CheckinKind;
use endpoint_agent::state::{Deferral, Drift, ItemRecord, ItemStatus, PendingWork, RunOutcome, Trigger};
use serde_json::{Value, json};

use crate::app_fixtures::{BUNDLE_ID, app_zip, custom_app, installed_app, installed_version, sha256, write_app};
use crate::end_to_end::harness::{TOKEN, Tenant, enroll};
use crate::http_server::FileServer;
use crate::otlp_receiver::{Behavior, OtlpReceiver, points};
use crate::support::person::PersonStandIns;
use crate::support::{Device, PATIENCE, begun_run, blueprint, code, logged_records, script, store, text};

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, hour, minute, 0).unwrap()
}

/// The pending work of a managed OS item past its notices, as it saves it.
fn os_update() -> PendingWork {
    PendingWork {
        item_id: "li-os".into(),
        item_name: "macOS updates".into(),
        action: "install macOS Sequoia 15.2 and restart".into(),
        subject: "macOS Sequoia 15.2-24C101".into(),
        deadline: Some(at(17, 0)),
        state: "deferred by ada (1 of 3)".into(),
        notice_shown_at: Some(at(9, 5)),
        deferrals_used: 1,
        countdown_ends_at: None,
        updated_at: at(9, 5),
    }
}

/// An app item held back by its running app, as it saves it.
fn app_update() -> PendingWork {
    PendingWork {
        item_id: "li-zoom".into(),
        item_name: "Zoom".into(),
        action: "replace zoom.us.app (Zoom 6.3)".into(),
        subject: "6.3".into(),
        deadline: None,
        state: "waiting for zoom.us to quit".into(),
        notice_shown_at: Some(at(9, 6)),
        deferrals_used: 0,
        countdown_ends_at: None,
        updated_at: at(9, 6),
    }
}

fn result(id: &str, name: &str, item_type: &str, status: ItemStatus, message: &str) -> ItemRecord {
    ItemRecord {
        id: id.into(),
        name: name.into(),
        item_type: item_type.into(),
        status,
        started_at: at(9, 5),
        finished_at: at(9, 6),
        duration_ms: 1000,
        exit_code: None,
        message: message.into(),
        output: String::new(),
    }
}

/// Records, in the device's store, a finished run whose OS update waits for the
/// person and whose app was deferred, with the deferral and pending work the
/// items would have left; the run's id.
fn record_a_waiting_run(device: &Device) -> String {
    let store = store(device);
    let mut run = begun_run(CheckinKind::Recurring, Trigger::Schedule, at(9, 5));
    run.items = vec![
        result(
            "li-os",
            "macOS updates",
            "managed_os",
            ItemStatus::WaitingForUser,
            "waiting for the person to install it",
        ),
        result(
            "li-zoom",
            "Zoom",
            "custom_app",
            ItemStatus::Deferred,
            "zoom.us is running; the person was asked to quit it",
        ),
        result("li-ok", "Passes", "custom_script", ItemStatus::Succeeded, "compliant"),
    ];
    store.begin_run(&run, std::process::id()).unwrap();
    let positioned: Vec<(usize, &ItemRecord)> = run.items.iter().enumerate().collect();
    store.items_finished(&run.header.id, &positioned).unwrap();
    let mut drift = Drift::default();
    drift.count_waiting(&run.items);
    store.finish_run(&run.header.id, at(9, 7), RunOutcome::Succeeded, &drift).unwrap();
    let deferral = Deferral {
        run_id: run.header.id.clone(),
        item_id: "li-os".into(),
        at: at(9, 5),
        user: "ada".into(),
        choice: "later".into(),
        reason: "the person chose Later".into(),
    };
    store.record_deferral(&deferral).unwrap();
    store.save_pending_work(&os_update()).unwrap();
    store.save_pending_work(&app_update()).unwrap();
    run.header.id
}

#[test]
fn status_lists_the_pending_work_and_counts_what_waits_on_the_person() {
    let device = Device::new();
    let nothing_pending = device.status();
    assert_eq!(nothing_pending["pending_work"], json!([]), "no store yet: {nothing_pending:#}");
    record_a_waiting_run(&device);

    let status = device.status();
    assert_eq!((&status["drift"]["deferred"], &status["drift"]["waiting_for_user"]), (&json!(1), &json!(1)));
    assert_eq!(status["last_run"]["outcome"], "succeeded");
    let statuses: Vec<&Value> = status["last_run"]["items"].as_array().unwrap().iter().map(|i| &i["status"]).collect();
    assert_eq!(statuses, [&json!("waiting_for_user"), &json!("deferred"), &json!("succeeded")]);
    assert_eq!(
        status["pending_work"],
        json!([
            { "item_id": "li-os", "item_name": "macOS updates", "action": "install macOS Sequoia 15.2 and restart",
              "deadline": "2026-12-07T17:00:00Z", "state": "deferred by ada (1 of 3)",
              "notice_shown_at": "2026-12-07T09:05:00Z", "deferrals_used": 1, "countdown_ends_at": null,
              "updated_at": "2026-12-07T09:05:00Z" },
            { "item_id": "li-zoom", "item_name": "Zoom", "action": "replace zoom.us.app (Zoom 6.3)",
              "deadline": null, "state": "waiting for zoom.us to quit",
              "notice_shown_at": "2026-12-07T09:06:00Z", "deferrals_used": 0, "countdown_ends_at": null,
              "updated_at": "2026-12-07T09:06:00Z" },
        ]),
        "nearest deadline first, none last"
    );

    let output = device.run(&["status"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let shown = text(&output.stdout);
    let section: Vec<&str> =
        shown.lines().skip_while(|line| *line != "Pending disruptive work:").skip(1).take(2).collect();
    assert_eq!(
        section,
        [
            "  macOS updates: install macOS Sequoia 15.2 and restart, deadline 2026-12-07T17:00:00Z; deferred by ada (1 of 3); 1 deferral(s) used",
            "  Zoom: replace zoom.us.app (Zoom 6.3), no deadline; waiting for zoom.us to quit; 0 deferral(s) used",
        ],
        "{shown}"
    );
    assert!(shown.contains("1 item(s) deferred in the last run, 1 item(s) waiting for the user"), "{shown}");
    assert!(shown.contains("⌛ waiting_for_user managed_os     macOS updates"), "{shown}");
}

#[test]
fn history_counts_deferred_and_waiting_items() {
    let device = Device::new();
    let run_id = record_a_waiting_run(&device);
    let output = device.run(&["history", "--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let runs: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(runs[0]["id"], run_id.as_str());
    let counts = &runs[0]["counts"];
    assert_eq!(
        (&counts["succeeded"], &counts["deferred"], &counts["waiting_for_user"]),
        (&json!(1), &json!(1), &json!(1))
    );
    let listed = text(&device.run(&["history"]).stdout);
    assert!(
        listed.contains("1 succeeded, 0 failed, 0 timed out, 0 skipped, 0 not run, 1 deferred, 1 waiting for the user"),
        "{listed}"
    );
    let shown = text(&device.run(&["history", "--run", &run_id]).stdout);
    assert!(shown.contains("⏸ deferred  custom_app     Zoom (1.0s): zoom.us is running"), "{shown}");
}

/// A script that says its run's id, then waits (bounded) for the test to let it end.
const HELD_SCRIPT: &str = "#!/bin/sh\necho \"$AGENT_RUN_ID\" > \"$AGENT_ROOT/run-id.txt\"\n\
    i=0\nwhile [ ! -f \"$AGENT_ROOT/go\" ]; do i=$((i+1)); [ $i -gt 1200 ] && exit 3; sleep 0.05; done\nexit 0\n";

#[test]
fn the_tenant_receives_and_shows_the_deferrals_a_run_recorded_and_the_pending_work() {
    let device = Device::new();
    let tenant = Tenant::start(blueprint(vec![script("li-held", "Held", HELD_SCRIPT)]));
    enroll(&device, &tenant.url(), TOKEN);
    let running = device.spawn(&["run", "--json"]);
    let run_id_file = device.wait_for_file("run-id.txt", PATIENCE);
    let run_id = crate::support::poll(
        "the run id",
        PATIENCE,
        Duration::from_millis(20),
        || std::fs::read_to_string(&run_id_file).unwrap_or_default().trim().to_string(),
        |id| !id.is_empty(),
    );
    // What an item of this run records when the person answers "Later".
    let store = store(&device);
    let later = Deferral {
        run_id: run_id.clone(),
        item_id: "li-held".into(),
        at: at(9, 5),
        user: "ada".into(),
        choice: "later".into(),
        reason: "the person chose Later".into(),
    };
    store.record_deferral(&later).unwrap();
    store
        .record_deferral(&Deferral { at: at(9, 6), choice: "no_answer".into(), reason: "no answer".into(), ..later })
        .unwrap();
    store.save_pending_work(&os_update()).unwrap();
    drop(store);
    device.write_file("go", "");
    let output = running.wait_with_output().unwrap();
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let run: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(run["id"], run_id.as_str());

    let reports = tenant.reports("results");
    let body =
        &reports.iter().find(|report| report["report_id"] == run_id.as_str()).expect("the run's results")["body"];
    let expected = json!([
        { "item_id": "li-held", "at": "2026-12-07T09:05:00Z", "user": "ada", "choice": "later", "reason": "the person chose Later" },
        { "item_id": "li-held", "at": "2026-12-07T09:06:00Z", "user": "ada", "choice": "no_answer", "reason": "no answer" },
    ]);
    assert_eq!(body["deferrals"], expected, "{body:#}");
    assert_eq!((&body["run_id"], &body["run"]["id"]), (&json!(run_id), &json!(run_id)), "the contract's keys stay");
    assert_eq!(body["pending_work"][0]["item_id"], "li-os");
    assert_eq!(body["pending_work"][0]["deadline"], "2026-12-07T17:00:00Z");

    let device_id = tenant.device_id();
    let stored = tenant.get(&format!("/api/v1/devices/{device_id}/deferrals"))["deferrals"].clone();
    assert_eq!(stored.as_array().map(Vec::len), Some(2), "{stored:#}");
    assert_eq!((&stored[0]["run_id"], &stored[0]["choice"]), (&json!(run_id), &json!("later")));
    let shown = tenant.device();
    assert_eq!(shown["pending_work"][0]["state"], "deferred by ada (1 of 3)", "{shown:#}");
    assert_eq!(shown["pending_work"].as_array().map(Vec::len), Some(1));
}

/// A process whose executable lies inside `Foo.app`: the app is running. Killed
/// and reaped when dropped.
struct RunningApp(std::process::Child);

impl Drop for RunningApp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `Foo.app` 1.0 installed and running (its executable a copy of `sleep`), and
/// 2.1 served as a zip: the running app and the zip's bytes.
fn running_foo(device: &Device, server: &FileServer) -> (RunningApp, Vec<u8>) {
    let applications = device.root().join("Applications");
    std::fs::create_dir_all(&applications).unwrap();
    write_app(&applications, BUNDLE_ID, "1.0");
    let executable = installed_app(device).join("Contents/MacOS/Foo");
    let sleep = ["/bin/sleep", "/usr/bin/sleep"].into_iter().find(|path| std::path::Path::new(path).exists());
    std::fs::copy(sleep.expect("a sleep program"), &executable).unwrap();
    let running = RunningApp(std::process::Command::new(&executable).arg("60").spawn().unwrap());
    let zip = app_zip("2.1", 0);
    server.serve("/Foo.zip", zip.clone());
    (running, zip)
}

#[test]
fn a_running_app_s_deferral_is_counted_exported_shown_and_reaches_the_tenant() {
    let (device, server) = (Device::new(), FileServer::start());
    let (_foo, zip) = running_foo(&device, &server);
    let person = PersonStandIns::install(&device, Some(65534), "intel");
    person.answer(&["Later"]);
    let foo = custom_app("zip", &server.url("/Foo.zip"), &sha256(&zip), "audit_and_enforce", Some("2.1"));
    let tenant = Tenant::start(blueprint(vec![foo]));
    enroll(&device, &tenant.url(), TOKEN);
    let receiver = OtlpReceiver::start(Behavior::Answer);

    let mut arguments = vec!["run".to_string()];
    arguments.extend(person.flags());
    arguments.extend(["--set".to_string(), format!("otel.endpoint={}", receiver.endpoint())]);
    let output = device.run(&arguments.iter().map(String::as_str).collect::<Vec<_>>());
    let printed = text(&output.stdout);
    assert_eq!(code(&output), 0, "a deferral does not fail the run: {printed}{}", text(&output.stderr));
    assert!(printed.contains("] ⏸ deferred  custom_app     Foo"), "{printed}");
    assert!(printed.lines().last().unwrap().ends_with(" (1 deferred)"), "{printed}");
    assert_eq!(installed_version(&device).as_deref(), Some("1.0"), "nothing was replaced");

    let status = device.status();
    assert_eq!(status["last_run"]["outcome"], "succeeded");
    assert_eq!((&status["drift"]["deferred"], &status["drift"]["waiting_for_user"]), (&json!(1), &json!(0)));
    assert_eq!(status["pending_work"][0]["state"], "waiting for Foo to quit", "{status:#}");
    let finished = logged_records(&device, "Item finished.");
    let deferred =
        finished.iter().find(|record| record["status"] == "deferred").unwrap_or_else(|| panic!("{finished:#?}"));
    assert_eq!(deferred["level"], "INFO", "waiting on the person is no warning: {deferred}");
    let ended = &logged_records(&device, "Check-in finished.")[0];
    assert_eq!((&ended["deferred"], &ended["waiting_for_user"]), (&json!(1), &json!(0)));

    let metrics = &receiver.metrics()[0];
    let deferred = points(metrics, "agent.checkin.deferred");
    assert_eq!(deferred.len(), 1, "{deferred:?}");
    assert_eq!((deferred[0].0["item.type"].as_str(), deferred[0].1), ("custom_app", 1));
    assert_eq!(points(metrics, "agent.checkin.waiting_for_user"), []);
    assert_eq!(points(metrics, "agent.checkin.runs")[0].0["outcome"], "succeeded");

    let run_id = status["last_run"]["id"].as_str().unwrap();
    let reports = tenant.reports("results");
    let body = &reports.iter().find(|report| report["report_id"] == run_id).expect("the run's results")["body"];
    let deferrals = body["deferrals"].as_array().unwrap();
    assert_eq!(deferrals.len(), 1, "{body:#}");
    assert_eq!((&deferrals[0]["item_id"], &deferrals[0]["choice"]), (&json!("li-foo"), &json!("later")));
    assert_eq!(body["run"]["items"][0]["status"], "deferred");
    let stored = tenant.get(&format!("/api/v1/devices/{}/deferrals", tenant.device_id()))["deferrals"].clone();
    assert_eq!((&stored[0]["run_id"], &stored[0]["choice"]), (&json!(run_id), &json!("later")), "{stored:#}");
    assert_eq!(tenant.device()["pending_work"][0]["action"], "replace Foo.app (Foo 2.1)");
}

/// A stand-in `softwareupdate` offering Sonoma 14.7.1 to `--list`, recording any
/// other call (an install would show there).
const SOFTWAREUPDATE: &str = "#!/bin/sh\nprintf '%s\\n' \"$*\" >> \"$AGENT_ROOT/softwareupdate-calls\"\n\
    [ \"$1\" = --list ] && cat \"$AGENT_ROOT/sonoma-update.txt\"\nexit 0\n";

/// Writes an executable stand-in at `relative` under the root; its `--set` flag for `key`.
fn stand_in(device: &Device, key: &str, relative: &str, source: &str) -> [String; 2] {
    use std::os::unix::fs::PermissionsExt;
    let path = device.write_file(relative, source);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    ["--set".to_string(), format!("commands.{key}={}", path.display())]
}

#[test]
fn an_apple_silicon_update_past_its_deadline_waits_for_the_user_and_the_tenant_sees_it() {
    let device = Device::new();
    let offered = include_str!("../fixtures/softwareupdate/sonoma-update.txt");
    device.write_file("sonoma-update.txt", offered);
    let person = PersonStandIns::install(&device, Some(65534), "apple_silicon");
    person.answer(&["Later"]);
    let os = json!({ "id": "li-os", "name": "macOS minimum", "type": "managed_os", "minimum_version": "14.7",
                     "deadline": "2000-01-01" });
    let tenant = Tenant::start(blueprint(vec![os]));
    enroll(&device, &tenant.url(), TOKEN);
    let receiver = OtlpReceiver::start(Behavior::Answer);
    let mut arguments = vec!["run".to_string(), "--set".to_string(), format!("otel.endpoint={}", receiver.endpoint())];
    arguments.extend(person.flags());
    arguments.extend(stand_in(&device, "sw_vers", "usr/bin/sw_vers", "#!/bin/sh\necho 14.6.1\n"));
    arguments.extend(stand_in(&device, "softwareupdate", "usr/sbin/softwareupdate", SOFTWAREUPDATE));
    let output = device.run(&arguments.iter().map(String::as_str).collect::<Vec<_>>());
    let printed = text(&output.stdout);
    assert_eq!(code(&output), 0, "waiting for the user does not fail the run: {printed}{}", text(&output.stderr));
    assert!(printed.lines().last().unwrap().ends_with(" (1 waiting for the user)"), "{printed}");
    let calls = std::fs::read_to_string(device.root().join("softwareupdate-calls")).unwrap();
    assert!(calls.lines().all(|call| call == "--list"), "never an unattended install: {calls}");

    let status = device.status();
    assert_eq!(status["last_run"]["items"][0]["status"], "waiting_for_user", "{status:#}");
    assert_eq!((&status["drift"]["waiting_for_user"], &status["drift"]["deferred"]), (&json!(1), &json!(0)));
    let pending = &status["pending_work"][0];
    assert_eq!(pending["state"], "waiting for the person to install it", "{status:#}");
    assert!(pending["deadline"].is_string(), "{pending}");
    let waiting = points(&receiver.metrics()[0], "agent.checkin.waiting_for_user");
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!((waiting[0].0["item.type"].as_str(), waiting[0].1), ("managed_os", 1));

    let run_id = status["last_run"]["id"].as_str().unwrap();
    let reports = tenant.reports("results");
    let body = &reports.iter().find(|report| report["report_id"] == run_id).expect("the run's results")["body"];
    assert_eq!(body["run"]["items"][0]["status"], "waiting_for_user");
    assert_eq!(body["pending_work"][0]["deadline"], pending["deadline"]);
    let seen = tenant.device();
    assert_eq!(seen["pending_work"][0]["state"], "waiting for the person to install it", "{seen:#}");
    assert_eq!(seen["pending_work"][0]["deadline"], pending["deadline"]);
}
