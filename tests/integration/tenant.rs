//! The agent against a test tenant on 127.0.0.1: check-in, blueprint (and its 304
//! path), results, inventory, MDM responses, the spool while the tenant is down, token rotation,
//! and a hung or garbage-talking tenant; enrollment with a secret, device token
//! rotation and revocation against the reference tenant (`tenant/enrollment.rs`).

#[path = "tenant/server.rs"]
pub(crate) mod server;

#[path = "tenant/self_update.rs"]
pub(crate) mod self_update;

#[path = "tenant/inventory.rs"]
pub(crate) mod inventory;

#[path = "tenant/mdm.rs"]
mod mdm;

#[path = "tenant/enrollment.rs"]
mod enrollment;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use server::{Behavior, TestTenant};

use crate::support::{Device, blueprint, check_in, code, logged, script, text};

const RESULTS: &str = "/api/v1/agent/results";

/// A blueprint whose one script appends a line to `ran.txt` under the root.
pub fn counting_blueprint(device: &Device) -> Value {
    let marker = device.root().join("ran.txt");
    blueprint(vec![script("li-count", "Count runs", &format!("#!/bin/sh\necho ran >> '{}'\n", marker.display()))])
}

/// Points the device at `url` with `token` (a drop-in fragment, as `enroll` writes).
pub fn configure(device: &Device, url: &str, token: &str) {
    let fragment = json!({ "tenant": { "url": url, "token": token } });
    device.write_file("Library/Application Support/EndpointAgent/config.d/20-tenant.json", &fragment.to_string());
}

const MANAGED_PREFERENCES: &str = "Library/Managed Preferences/io.endpointagent.agent.plist";

/// A managed-preferences plist carrying a rotated token.
fn managed_token_plist(token: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>tenant.token</key><string>{token}</string></dict></plist>"#
    )
}

/// Writes a managed-preferences plist carrying a rotated token.
fn rotate_token(device: &Device, token: &str) {
    device.write_file(MANAGED_PREFERENCES, &managed_token_plist(token));
}

fn runs_recorded(device: &Device) -> usize {
    std::fs::read_to_string(device.root().join("ran.txt")).unwrap_or_default().lines().count()
}

/// A URL nothing listens on.
pub(crate) fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())
}

#[test]
fn check_in_fetches_the_blueprint_and_reports_with_token_and_user_agent_then_uses_304() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-1", counting_blueprint(&device));
    configure(&device, &tenant.url(), "tok-1");
    let first = check_in(&device, &[]);
    assert_eq!(first["outcome"], "succeeded", "{first:#}");
    assert_eq!(first["blueprint_id"], "bp-test");
    assert_eq!(runs_recorded(&device), 1);
    let paths: Vec<_> = tenant.seen().iter().map(|seen| seen.path.clone()).collect();
    assert_eq!(paths, ["/api/v1/agent/checkin", "/api/v1/agent/blueprint", RESULTS, "/api/v1/agent/inventory"]);
    for seen in tenant.seen() {
        assert_eq!(seen.authorization.as_deref(), Some("Bearer tok-1"));
        assert_eq!(seen.user_agent, Some(format!("endpoint-agent/{}", env!("CARGO_PKG_VERSION"))));
    }
    let checkin: Value = serde_json::from_str(&tenant.seen()[0].body).unwrap();
    let results: Value = serde_json::from_str(&tenant.seen()[2].body).unwrap();
    assert_eq!(checkin["kind"], "daily");
    assert_eq!(checkin["device_id"], results["device_id"]);
    assert_eq!(results["run_id"], first["id"]);
    assert_eq!(results["run"]["items"][0]["status"], "succeeded");
    assert_eq!(tenant.seen()[1].if_none_match, None);
    let device_id = checkin["device_id"].as_str().unwrap();
    assert_eq!(tenant.seen()[1].query, format!("device_id={device_id}"), "the blueprint request names the device");

    let second = check_in(&device, &[]);
    assert_eq!(second["blueprint_id"], "bp-test");
    let blueprint_requests = tenant.seen_at("/api/v1/agent/blueprint");
    assert_eq!(blueprint_requests[1].if_none_match.as_deref(), Some("\"v1\""));
    assert_eq!(blueprint_requests[1].status, 304);
    assert_eq!(runs_recorded(&device), 2, "the saved blueprint was enforced on 304");
    assert_eq!(tenant.accepted_run_ids(), [first["id"].as_str().unwrap(), second["id"].as_str().unwrap()]);
    assert!(!logged(&device).contains("tok-1"), "the token is never logged");
}

#[test]
fn a_down_tenant_leaves_reports_in_the_spool_until_it_is_back_then_each_arrives_once_in_order() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-1", counting_blueprint(&device));
    configure(&device, &tenant.url(), "tok-1");
    let mut expected = vec![check_in(&device, &[])["id"].as_str().unwrap().to_string()];
    configure(&device, &dead_url(), "tok-1");
    for _ in 0..2 {
        let run = check_in(&device, &[]);
        assert_eq!(run["outcome"], "succeeded", "the saved blueprint is enforced: {run:#}");
        expected.push(run["id"].as_str().unwrap().to_string());
    }
    assert_eq!(runs_recorded(&device), 3);
    assert_eq!(tenant.accepted_run_ids().len(), 1, "nothing arrived while the tenant was down");
    assert!(logged(&device).contains("using the saved blueprint"));
    let spool = device.status()["spool"].clone();
    assert_eq!((spool["waiting"].as_u64(), spool["parked"].as_u64()), (Some(2), Some(0)), "{spool}");
    assert!(spool["next_attempt"].as_str().is_some_and(|at| at.parse::<chrono::DateTime<chrono::Utc>>().is_ok()));
    let human = text(&device.run(&["status"]).stdout);
    assert!(human.contains("Spool:                   2 report(s) waiting for the tenant, next attempt "), "{human}");
    configure(&device, &tenant.url(), "tok-1");
    expected.push(check_in(&device, &[])["id"].as_str().unwrap().to_string());
    assert_eq!(tenant.accepted_run_ids(), expected, "every spooled report, once, oldest first");
    let spool = device.status()["spool"].clone();
    assert_eq!(spool, json!({"waiting": 0, "parked": 0, "next_attempt": null}));
    expected.push(check_in(&device, &[])["id"].as_str().unwrap().to_string());
    assert_eq!(tenant.accepted_run_ids(), expected, "nothing is sent twice");
}

#[test]
fn three_check_ins_refused_401_show_stale_token_until_the_rotated_token_arrives() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-new", counting_blueprint(&device));
    configure(&device, &tenant.url(), "tok-new");
    check_in(&device, &[]);
    tenant.change(|state| state.token = "tok-rotated".to_string());
    for round in 1..=3 {
        let run = check_in(&device, &[]);
        assert_eq!(run["drift"]["stale_token"], round == 3, "after {round} refused check-ins: {run:#}");
        assert_eq!(run["outcome"], "succeeded", "the saved blueprint still runs");
    }
    assert_eq!(device.status()["drift"]["stale_token"], true);
    let refused = tenant.seen_at("/api/v1/agent/checkin").iter().filter(|seen| seen.status == 401).count();
    assert_eq!(refused, 6, "each refused check-in is tried again once");
    rotate_token(&device, "tok-rotated");
    let run = check_in(&device, &[]);
    assert_eq!(run["drift"]["stale_token"], false);
    assert_eq!(device.status()["drift"]["stale_token"], false);
    assert_eq!(tenant.accepted_run_ids().len(), 5, "the reports kept while refused arrive too");
}

#[test]
fn a_hung_tenant_delays_the_items_by_at_most_the_request_timeout() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-1", counting_blueprint(&device));
    configure(&device, &tenant.url(), "tok-1");
    check_in(&device, &[]);
    tenant.change(|state| state.behavior = Behavior::Hang);
    let clock = Instant::now();
    let run = check_in(&device, &["--set", "tenant.request_timeout=1s"]);
    assert_eq!(run["outcome"], "succeeded");
    let started = |text: &Value| chrono::DateTime::parse_from_rfc3339(text.as_str().unwrap()).unwrap();
    let delay = started(&run["items"][0]["started_at"]) - started(&run["started_at"]);
    assert!(delay < chrono::Duration::milliseconds(2500), "items waited {delay:?} for a hung tenant");
    assert!(clock.elapsed() < Duration::from_secs(10), "the whole check-in took {:?}", clock.elapsed());
    assert_eq!(runs_recorded(&device), 2);
}

#[test]
fn a_garbage_reply_is_logged_and_the_check_in_goes_on() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-1", counting_blueprint(&device));
    configure(&device, &tenant.url(), "tok-1");
    check_in(&device, &[]);
    tenant.change(|state| {
        state.behavior = Behavior::Garbage;
        state.etag = "\"v2\"".to_string();
    });
    let run = check_in(&device, &[]);
    assert_eq!(run["outcome"], "succeeded");
    assert_eq!(runs_recorded(&device), 2);
    let log = logged(&device);
    assert!(log.contains("cannot read"), "{log}");
    assert!(log.contains("blueprint is unusable"), "{log}");
}

#[test]
fn a_dailycheckin_command_makes_the_next_check_in_daily() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-1", counting_blueprint(&device));
    configure(&device, &tenant.url(), "tok-1");
    assert_eq!(check_in(&device, &[])["kind"], "daily");
    assert_eq!(check_in(&device, &[])["kind"], "recurring");
    tenant.change(|state| state.commands = vec![json!({"id": "cmd-1", "type": "dailycheckin"})]);
    assert_eq!(check_in(&device, &[])["kind"], "recurring", "the command arrives during this check-in");
    assert_eq!(check_in(&device, &[])["kind"], "daily");
    assert_eq!(check_in(&device, &[])["kind"], "recurring");
}

#[test]
fn without_a_daemon_a_blankpush_waits_for_the_next_check_in_which_serves_it() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-1", counting_blueprint(&device));
    configure(&device, &tenant.url(), "tok-1");
    tenant.change(|state| state.commands = vec![json!({"id": "cmd-push", "type": "blankpush"})]);
    check_in(&device, &[]);
    assert_eq!(runs_recorded(&device), 1, "no daemon: nothing runs by itself");
    assert!(logged(&device).contains("The tenant asked for a check-in now; saved for the check-in after this one."));
    assert!(!logged(&device).contains("serves the tenant's earlier request"));
    let second = check_in(&device, &[]);
    assert_eq!(second["trigger"], "cli");
    let log = logged(&device);
    let served =
        log.lines().find(|line| line.contains("This check-in serves the tenant's earlier request.")).expect(&log);
    assert!(served.contains("cmd-push") && served.contains(second["id"].as_str().unwrap()), "{served}");
    check_in(&device, &[]);
    assert_eq!(logged(&device).matches("serves the tenant's earlier request").count(), 1, "served once");
}

#[test]
fn enroll_stores_the_tenant_owner_only_without_printing_the_token_and_the_next_check_in_uses_it() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-enrolled-secret", counting_blueprint(&device));
    let output = crate::support::enroll(&device, &tenant.url(), "tok-enrolled-secret");
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    let printed = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(printed.contains("Enrolled with"), "{printed}");
    assert!(!printed.contains("tok-enrolled-secret"), "the token is never printed: {printed}");
    let fragment = device.root().join("Library/Application Support/EndpointAgent/config.d/50-enrollment.plist");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&fragment).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let run = check_in(&device, &[]);
    assert_eq!(run["outcome"], "succeeded");
    assert_eq!(tenant.accepted_run_ids(), [run["id"].as_str().unwrap()]);
    let bad = crate::support::enroll(&device, "tenant.example.com", "t");
    assert_eq!(code(&bad), 2, "{}", text(&bad.stderr));
}

#[test]
fn a_report_the_tenant_refuses_for_good_is_parked_not_retried() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-1", counting_blueprint(&device));
    configure(&device, &tenant.url(), "tok-1");
    tenant.change(|state| state.results_status = 422);
    check_in(&device, &[]);
    tenant.change(|state| state.results_status = 200);
    let second = check_in(&device, &[]);
    let attempts = tenant.seen_at(RESULTS).len();
    assert_eq!(attempts, 2, "the refused report was not sent again");
    assert_eq!(tenant.accepted_run_ids(), [second["id"].as_str().unwrap()]);
    assert!(logged(&device).contains("run record rejected"), "the tenant's message is logged");
}

#[test]
fn a_401_rereads_the_configuration_and_tries_again_with_the_rotated_token() {
    let device = Device::new();
    let tenant = TestTenant::start("tok-rotated", counting_blueprint(&device));
    configure(&device, &tenant.url(), "tok-old");
    let rotation = (device.root().join(MANAGED_PREFERENCES), managed_token_plist("tok-rotated"));
    tenant.change(|state| state.rotate_on_refusal = Some(rotation));
    let run = check_in(&device, &[]);
    assert_eq!(run["outcome"], "succeeded", "{run:#}");
    assert_eq!(run["drift"]["stale_token"], false);
    let checkins: Vec<_> = tenant
        .seen_at("/api/v1/agent/checkin")
        .into_iter()
        .map(|seen| (seen.status, seen.authorization.unwrap_or_default()))
        .collect();
    assert_eq!(checkins, [(401, "Bearer tok-old".to_string()), (200, "Bearer tok-rotated".to_string())]);
    assert_eq!(tenant.accepted_run_ids(), [run["id"].as_str().unwrap()]);
}
