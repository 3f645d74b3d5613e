//! The reference tenant over real HTTP on 127.0.0.1: every endpoint, the 304 path,
//! de-duplication, refused tokens, queued actions, the command channel and the
//! verdicts at chosen times.

mod command_channel;
mod credentials;
mod support;

use reqwest::Method;
use serde_json::json;
use support::{DEVICE_TOKEN, Tenant, seed};

fn checkin_body(device_id: &str) -> serde_json::Value {
    json!({ "device_id": device_id, "kind": "recurring", "agent_version": "0.1.0",
            "serial_number": "C02XYZ", "hostname": "mac-1", "os_version": "15.1" })
}

#[test]
fn checkin_records_the_device_and_offers_versions() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let tenant = Tenant::start(directory.path(), seed(), &[]);
    tenant.set_now("2026-03-01T10:00:00Z");
    let reply = tenant.json(tenant.post("/api/v1/agent/checkin", checkin_body("DEVICE-1")), 200);
    assert_eq!(reply["commands"], json!([]));
    assert_eq!(reply["minimum_agent_version"], "0.2.0");
    assert_eq!(reply["latest_agent"]["version"], "0.3.0");

    let device = tenant.json(tenant.admin_get("/api/v1/devices/DEVICE-1"), 200);
    assert_eq!(device["last_checkin"], "2026-03-01T10:00:00Z");
    assert_eq!(device["agent_version"], "0.1.0");
    assert_eq!(device["hostname"], "mac-1");
    assert_eq!(device["serial_number"], "C02XYZ");
    tenant.json(tenant.admin_get("/api/v1/devices/NOPE"), 404);

    let mut unknowing = checkin_body("DEVICE-1");
    unknowing["serial_number"] = json!("");
    unknowing["os_version"] = json!("");
    tenant.json(tenant.post("/api/v1/agent/checkin", unknowing.clone()), 200);
    let device = tenant.json(tenant.admin_get("/api/v1/devices/DEVICE-1"), 200);
    assert_eq!((&device["serial_number"], &device["os_version"]), (&json!("C02XYZ"), &json!("15.1")), "kept");
    tenant.json(tenant.post("/api/v1/agent/checkin", json!({ "device_id": "DEVICE-3", "serial_number": "" })), 200);
    assert_eq!(tenant.json(tenant.admin_get("/api/v1/devices/DEVICE-3"), 200)["serial_number"], json!(null));
}

#[test]
fn queued_actions_are_delivered_once_in_order() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let tenant = Tenant::start(directory.path(), seed(), &[]);
    for action in ["dailycheckin", "updateinventory", "blankpush"] {
        let queued =
            tenant.json(tenant.admin_post(&format!("/api/v1/devices/DEVICE-1/action/{action}"), json!({})), 202);
        assert_eq!(queued["type"], action);
    }
    tenant.json(tenant.admin_post("/api/v1/devices/DEVICE-1/action/wipe", json!({})), 404);
    let other = tenant.json(tenant.post("/api/v1/agent/checkin", checkin_body("DEVICE-2")), 200);
    assert_eq!(other["commands"], json!([]), "another device's commands are not handed out");

    let first = tenant.json(tenant.post("/api/v1/agent/checkin", checkin_body("DEVICE-1")), 200);
    let types: Vec<&str> = first["commands"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["dailycheckin", "updateinventory", "blankpush"]);
    assert!(first["commands"][0]["id"].as_str().is_some_and(|id| !id.is_empty()));
    let second = tenant.json(tenant.post("/api/v1/agent/checkin", checkin_body("DEVICE-1")), 200);
    assert_eq!(second["commands"], json!([]));
}

#[test]
fn the_devices_api_lists_check_ins_and_commands_with_their_delivery() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let tenant = Tenant::start(directory.path(), seed(), &[]);
    tenant.set_now("2026-03-01T10:00:00Z");
    tenant.json(tenant.post("/api/v1/agent/checkin", checkin_body("DEVICE-1")), 200);
    let queued = tenant.json(tenant.admin_post("/api/v1/devices/DEVICE-1/action/dailycheckin", json!({})), 202);
    let waiting = tenant.json(tenant.admin_get("/api/v1/devices/DEVICE-1/commands"), 200);
    assert_eq!(waiting["commands"][0]["id"], queued["id"]);
    assert_eq!(waiting["commands"][0]["queued_at"], "2026-03-01T10:00:00Z");
    assert_eq!(waiting["commands"][0]["delivered_at"], json!(null));

    tenant.set_now("2026-03-01T10:15:00Z");
    let mut daily = checkin_body("DEVICE-1");
    daily["kind"] = json!("daily");
    tenant.json(tenant.post("/api/v1/agent/checkin", daily.clone()), 200);
    let delivered = tenant.json(tenant.admin_get("/api/v1/devices/DEVICE-1/commands"), 200);
    assert_eq!(delivered["commands"][0]["delivered_at"], "2026-03-01T10:15:00Z");
    assert_eq!(delivered["commands"][0]["type"], "dailycheckin");

    let history = tenant.json(tenant.admin_get("/api/v1/devices/DEVICE-1/checkins"), 200);
    let checkins = history["checkins"].as_array().expect("a list");
    let listed: Vec<(&str, &str)> =
        checkins.iter().map(|c| (c["received_at"].as_str().unwrap(), c["kind"].as_str().unwrap())).collect();
    assert_eq!(listed, [("2026-03-01T10:00:00Z", "recurring"), ("2026-03-01T10:15:00Z", "daily")], "arrival order");
    assert_eq!(checkins[1]["body"], daily);
    assert_eq!(tenant.json(tenant.admin_get("/api/v1/devices/NOPE/checkins"), 200)["checkins"], json!([]));
    tenant.json(tenant.raw(Method::GET, "/api/v1/devices/DEVICE-1/commands").bearer_auth(DEVICE_TOKEN), 403);
}

#[test]
fn blueprint_has_an_etag_and_answers_304_when_unchanged() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let tenant = Tenant::start(directory.path(), seed(), &[]);
    tenant.set_now("2026-03-01T10:00:00Z");
    let response = tenant.get("/api/v1/agent/blueprint?device_id=DEVICE-9").send().expect("an answer");
    assert_eq!(response.status(), 200);
    let etag = response.headers()["etag"].to_str().expect("an ASCII ETag").to_owned();
    assert!(etag.starts_with('"') && etag.len() == 66, "quoted sha256: {etag}");
    let body: serde_json::Value = response.json().expect("a JSON blueprint");
    assert_eq!(body["id"], "bp-default");

    let held = tenant.json(tenant.admin_get("/api/v1/devices/DEVICE-9"), 200);
    assert_eq!((&held["blueprint_etag"], &held["blueprint_sent_at"]), (&json!(etag), &json!("2026-03-01T10:00:00Z")));

    tenant.set_now("2026-03-01T10:15:00Z");
    let unchanged = tenant.get("/api/v1/agent/blueprint?device_id=DEVICE-9").header("If-None-Match", &etag).send();
    let unchanged = unchanged.expect("an answer");
    assert_eq!(unchanged.status(), 304);
    assert_eq!(unchanged.headers()["etag"], etag.as_str());
    let held = tenant.json(tenant.admin_get("/api/v1/devices/DEVICE-9"), 200);
    assert_eq!(held["blueprint_etag"], etag.as_str(), "a 304 confirms the device holds it");
    assert_eq!(held["blueprint_sent_at"], "2026-03-01T10:00:00Z", "a 304 sends nothing");
    let stale = tenant.get("/api/v1/agent/blueprint?device_id=DEVICE-9").header("If-None-Match", "\"old\"").send();
    assert_eq!(stale.expect("an answer").status(), 200);

    let own = tenant.json(tenant.get("/api/v1/agent/blueprint").header("X-Device-Id", "DEVICE-2"), 200);
    assert_eq!(own["id"], "bp-two");
    let by_token = tenant.raw(Method::GET, "/api/v1/agent/blueprint").bearer_auth(DEVICE_TOKEN);
    assert_eq!(tenant.json(by_token, 200)["id"], "bp-default");
    assert_eq!(tenant.json(tenant.admin_get("/api/v1/devices/DEVICE-2"), 200)["blueprint_id"], "bp-two");
    let unnamed = tenant.json(tenant.get("/api/v1/agent/blueprint"), 400);
    assert!(unnamed["error"].as_str().unwrap().contains("device_id"));
}

#[test]
fn reports_are_stored_once_per_id() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let tenant = Tenant::start(directory.path(), seed(), &[]);
    let cases = [
        ("results", json!({ "device_id": "DEVICE-1", "run_id": "run-1", "run": { "outcome": "succeeded" } })),
        ("inventory", json!({ "device_id": "DEVICE-1", "report_id": "inv-1", "inventory": { "hostname": "mac-1" } })),
        (
            "mdm",
            json!({ "device_id": "DEVICE-1", "report_id": "mdm-1", "responses": [{ "RequestType": "ProfileList", "Status": "Acknowledged" }] }),
        ),
    ];
    for (kind, body) in cases {
        let path = format!("/api/v1/agent/{kind}");
        assert_eq!(tenant.json(tenant.post(&path, body.clone()), 201)["stored"], true);
        assert_eq!(tenant.json(tenant.post(&path, body.clone()), 200)["duplicate"], true);
        let listed = tenant.json(tenant.admin_get(&format!("/api/v1/devices/DEVICE-1/reports/{kind}")), 200);
        assert_eq!(listed["reports"].as_array().unwrap().len(), 1, "{kind} stored once");
        assert_eq!(listed["reports"][0]["body"], body);
    }
    let second = json!({ "device_id": "DEVICE-1", "run_id": "run-2", "run": {} });
    tenant.json(tenant.post("/api/v1/agent/results", second), 201);
    let listed = tenant.json(tenant.admin_get("/api/v1/devices/DEVICE-1/reports/results"), 200);
    let ids: Vec<&str> =
        listed["reports"].as_array().unwrap().iter().map(|r| r["report_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["run-1", "run-2"], "arrival order");
    let missing_id = tenant.json(tenant.post("/api/v1/agent/results", json!({ "device_id": "DEVICE-1" })), 400);
    assert!(missing_id["error"].as_str().unwrap().contains("run_id"));
}

#[test]
fn results_keep_their_deferrals_once_and_the_newest_run_s_pending_work() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let tenant = Tenant::start(directory.path(), seed(), &[]);
    let deferral = json!({ "item_id": "li-os", "at": "2026-03-01T10:00:05Z", "user": "ada", "choice": "later",
                           "reason": "the person chose Later" });
    let work = json!([{ "item_id": "li-os", "item_name": "macOS updates", "deadline": "2026-03-06T17:00:00Z",
                        "state": "deferred by ada (1 of 3)", "deferrals_used": 1 }]);
    let report = |run_id: &str, started_at: &str, deferrals: serde_json::Value, pending: serde_json::Value| {
        json!({ "device_id": "DEVICE-1", "run_id": run_id, "run": { "started_at": started_at },
                "deferrals": deferrals, "pending_work": pending })
    };
    assert_eq!(tenant.json(tenant.admin_get("/api/v1/devices/DEVICE-1/deferrals"), 200)["deferrals"], json!([]));
    let second = report("run-2", "2026-03-01T10:00:00Z", json!([deferral]), work.clone());
    tenant.json(tenant.post("/api/v1/agent/results", second.clone()), 201);
    tenant.json(tenant.post("/api/v1/agent/results", second), 200);
    let late = report("run-1", "2026-03-01T09:45:00Z", json!([]), json!([]));
    tenant.json(tenant.post("/api/v1/agent/results", late), 201);

    let listed = tenant.json(tenant.admin_get("/api/v1/devices/DEVICE-1/deferrals"), 200);
    let mut expected = deferral.clone();
    expected["run_id"] = json!("run-2");
    assert_eq!(listed["deferrals"], json!([expected]), "stored once, with its run");
    let device = tenant.json(tenant.admin_get("/api/v1/devices/DEVICE-1"), 200);
    assert_eq!(device["pending_work"], work, "a late report of an older run does not replace it");
    let listed = tenant.json(tenant.admin_get("/api/v1/devices"), 200);
    assert_eq!(listed["devices"][0]["pending_work"], work);

    let done = report("run-3", "2026-03-01T10:15:00Z", json!([]), json!([]));
    tenant.json(tenant.post("/api/v1/agent/results", done), 201);
    assert_eq!(tenant.json(tenant.admin_get("/api/v1/devices/DEVICE-1"), 200)["pending_work"], json!([]));
    let before = tenant.json(tenant.post("/api/v1/agent/checkin", checkin_body("DEVICE-5")), 200);
    assert_eq!(before["commands"], json!([]));
    assert_eq!(
        tenant.json(tenant.admin_get("/api/v1/devices/DEVICE-5"), 200)["pending_work"],
        json!([]),
        "never reported"
    );
    tenant.json(tenant.raw(Method::GET, "/api/v1/devices/DEVICE-1/deferrals").bearer_auth(DEVICE_TOKEN), 403);
}

#[test]
fn bad_tokens_and_bad_bodies_are_refused_with_a_message() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let tenant = Tenant::start(directory.path(), seed(), &[]);
    let missing = tenant.raw(Method::POST, "/api/v1/agent/checkin").json(&checkin_body("DEVICE-1"));
    assert_eq!(tenant.json(missing, 401)["error"], "missing bearer token");
    let wrong = tenant.raw(Method::POST, "/api/v1/agent/checkin").bearer_auth("nope").json(&checkin_body("DEVICE-1"));
    assert_eq!(tenant.json(wrong, 401)["error"], "invalid bearer token");
    tenant.json(tenant.raw(Method::GET, "/api/v1/devices").bearer_auth("nope"), 401);

    let own =
        tenant.raw(Method::POST, "/api/v1/agent/checkin").bearer_auth(DEVICE_TOKEN).json(&checkin_body("DEVICE-1"));
    tenant.json(own, 200);
    let other =
        tenant.raw(Method::POST, "/api/v1/agent/checkin").bearer_auth(DEVICE_TOKEN).json(&checkin_body("DEVICE-2"));
    tenant.json(other, 403);
    tenant.json(tenant.raw(Method::GET, "/api/v1/devices").bearer_auth(DEVICE_TOKEN), 403);

    let garbage = tenant.raw(Method::POST, "/api/v1/agent/checkin").bearer_auth(support::TOKEN).body("{not json");
    let reply = tenant.json(garbage, 400);
    assert!(reply["error"].as_str().unwrap().starts_with("malformed JSON body"), "{reply}");
    let no_device = tenant.json(tenant.post("/api/v1/agent/checkin", json!({ "device_id": "" })), 400);
    assert!(no_device["error"].as_str().unwrap().contains("device_id"));
}

#[test]
fn verdicts_follow_the_rules_at_chosen_times() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let tenant = Tenant::start(directory.path(), seed(), &[]);
    tenant.set_now("2026-01-01T00:00:00Z");
    tenant.json(tenant.post("/api/v1/agent/checkin", checkin_body("DEVICE-1")), 200);
    let verdicts = |now: &str| {
        tenant.set_now(now);
        let device = tenant.json(tenant.admin_get("/api/v1/devices/DEVICE-1"), 200);
        (device["verified"].as_bool().unwrap(), device["out_of_control"].as_bool().unwrap(), device)
    };
    let (verified, _, device) = verdicts("2026-01-02T00:00:00Z");
    assert!(!verified, "no inventory has said the MDM profile is installed: {device}");

    tenant.set_now("2026-01-01T00:00:00Z");
    let inventory = json!({ "device_id": "DEVICE-1", "report_id": "inv-1",
        "inventory": { "mdm_profile_installed": true, "mdm_enrolled_at": "2025-01-01T00:00:00Z" } });
    tenant.json(tenant.post("/api/v1/agent/inventory", inventory), 201);
    let (verified, out_of_control, device) = verdicts("2026-01-08T00:00:00Z");
    assert!(verified && !out_of_control, "7 days exactly is still verified: {device}");
    let (verified, out_of_control, device) = verdicts("2026-01-08T00:00:01Z");
    assert!(!verified && !out_of_control, "{device}");
    assert_eq!(device["not_verified_because"], json!(["no check-in within 7 days"]));
    let (verified, out_of_control, device) = verdicts("2026-01-22T00:00:01Z");
    assert_eq!((verified, out_of_control), (false, true), "{device}");
    assert_eq!(device["out_of_control_because"], json!(["no check-in for 3 weeks"]));
    assert_eq!(device["last_inventory"], "2026-01-01T00:00:00Z");

    tenant.set_now("2027-01-01T00:00:00Z");
    tenant.json(tenant.post("/api/v1/agent/checkin", checkin_body("DEVICE-1")), 200);
    let (_, out_of_control, device) = verdicts("2027-01-01T00:00:01Z");
    assert!(out_of_control);
    assert_eq!(
        device["out_of_control_because"],
        json!(["no inventory for 2 months", "MDM profile expired (enrolled more than 2 years ago)"])
    );

    let listed = tenant.json(tenant.admin_get("/api/v1/devices"), 200);
    assert_eq!(listed["devices"][0]["device_id"], "DEVICE-1");
    assert_eq!(listed["devices"][0]["out_of_control"], true);
    assert_eq!(listed["now"], "2027-01-01T00:00:01Z");

    tenant.set_now("2027-01-01T00:00:00Z");
    let fresh = json!({ "device_id": "DEVICE-1", "report_id": "inv-2",
        "inventory": { "mdm_profile_installed": true, "mdm_enrolled_at": "2026-12-01T00:00:00Z" } });
    tenant.json(tenant.post("/api/v1/agent/inventory", fresh), 201);
    assert!(verdicts("2027-01-02T00:00:00Z").0, "a fresh enrolment is verified again");
    let removed = tenant.raw(Method::DELETE, "/api/v1/devices/DEVICE-1").bearer_auth(support::ADMIN_TOKEN).send();
    assert_eq!(removed.expect("an answer").status(), 204);
    let (verified, _, device) = verdicts("2027-01-02T00:00:00Z");
    assert!(!verified);
    assert_eq!(device["not_verified_because"], json!(["device removed"]));
}

#[test]
fn the_database_file_keeps_everything_across_restarts() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let database = directory.path().join("tenant.sqlite");
    let database_flag = database.to_str().expect("a UTF-8 path");
    {
        let tenant = Tenant::start(directory.path(), seed(), &["--database", database_flag]);
        tenant.json(tenant.post("/api/v1/agent/checkin", checkin_body("DEVICE-1")), 200);
        tenant.json(tenant.admin_post("/api/v1/devices/DEVICE-1/action/blankpush", json!({})), 202);
        let run = json!({ "device_id": "DEVICE-1", "run_id": "run-1", "run": {} });
        tenant.json(tenant.post("/api/v1/agent/results", run), 201);
    }
    let tenant = Tenant::start(directory.path(), seed(), &["--database", database_flag]);
    let run = json!({ "device_id": "DEVICE-1", "run_id": "run-1", "run": {} });
    assert_eq!(tenant.json(tenant.post("/api/v1/agent/results", run), 200)["duplicate"], true);
    let reply = tenant.json(tenant.post("/api/v1/agent/checkin", checkin_body("DEVICE-1")), 200);
    assert_eq!(reply["commands"][0]["type"], "blankpush");
}

#[test]
fn a_database_file_from_before_the_blueprint_columns_is_brought_up_to_date() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let database = directory.path().join("old.sqlite");
    let old = rusqlite::Connection::open(&database).expect("a database file");
    old.execute_batch(
        "CREATE TABLE devices (device_id TEXT PRIMARY KEY, first_seen TEXT NOT NULL, last_checkin TEXT,
            agent_version TEXT, serial_number TEXT, hostname TEXT, os_version TEXT, blueprint_id TEXT,
            last_inventory TEXT, mdm_profile_installed INTEGER, mdm_enrolled_at TEXT,
            removed INTEGER NOT NULL DEFAULT 0);
         INSERT INTO devices (device_id, first_seen, hostname) VALUES ('DEVICE-1', '2026-01-01T00:00:00Z', 'old-mac');",
    )
    .expect("the old schema");
    drop(old);
    let tenant = Tenant::start(directory.path(), seed(), &["--database", database.to_str().expect("UTF-8")]);
    tenant.json(tenant.get("/api/v1/agent/blueprint?device_id=DEVICE-1"), 200);
    let device = tenant.json(tenant.admin_get("/api/v1/devices/DEVICE-1"), 200);
    assert_eq!(device["hostname"], "old-mac", "what was stored is kept");
    assert!(device["blueprint_etag"].as_str().is_some_and(|etag| etag.len() == 66), "{device}");
}

#[test]
fn the_clock_endpoint_is_off_without_the_test_flag() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let tenant = Tenant::spawn(directory.path(), seed(), &[]);
    let refused = tenant.raw(Method::PUT, "/api/v1/test/clock").bearer_auth(support::ADMIN_TOKEN);
    let reply = tenant.json(refused.json(&json!({ "now": "2030-01-01T00:00:00Z" })), 404);
    assert!(reply["error"].as_str().unwrap().contains("--test-clock"));
}

#[test]
fn a_fixed_now_from_the_command_line_stamps_check_ins() {
    let directory = tempfile::tempdir().expect("a scratch directory");
    let tenant = Tenant::spawn(directory.path(), seed(), &["--now", "2026-05-05T05:05:05Z"]);
    tenant.json(tenant.post("/api/v1/agent/checkin", checkin_body("DEVICE-1")), 200);
    let device = tenant.json(tenant.admin_get("/api/v1/devices/DEVICE-1"), 200);
    assert_eq!(device["last_checkin"], "2026-05-05T05:05:05Z");
    assert_eq!(device["first_seen"], "2026-05-05T05:05:05Z");
}
