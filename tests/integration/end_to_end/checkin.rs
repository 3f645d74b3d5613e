//! Enroll, check in, and what the tenant keeps: the results, the device as the
//! devices API shows it, the `304` path for an unchanged blueprint, and a changed
//! blueprint sent again.

use serde_json::{Value, json};

use super::harness::{TOKEN, Tenant, enroll, run_id};
use crate::support::{Device, blueprint, check_in, logged_records, script};

/// A blueprint whose one script appends a line to `ran.txt` under the root.
fn counting_blueprint(id: &str) -> Value {
    let mut counting =
        blueprint(vec![script("li-count", "Count runs", "#!/bin/sh\necho ran >> \"$AGENT_ROOT/ran.txt\"\n")]);
    counting["id"] = json!(id);
    counting
}

fn runs_recorded(device: &Device) -> usize {
    std::fs::read_to_string(device.root().join("ran.txt")).unwrap_or_default().lines().count()
}

#[test]
fn an_enrolled_agent_checks_in_and_its_results_and_device_record_arrive_then_an_unchanged_blueprint_is_a_304() {
    let device = Device::new();
    let tenant = Tenant::start(counting_blueprint("bp-e2e"));
    enroll(&device, &tenant.url(), TOKEN);

    let first = check_in(&device, &[]);
    assert_eq!((&first["outcome"], &first["kind"]), (&json!("succeeded"), &json!("daily")), "{first:#}");
    assert_eq!(first["blueprint_id"], "bp-e2e", "the blueprint came from the tenant");
    assert_eq!(runs_recorded(&device), 1);
    let results = tenant.reports("results");
    assert_eq!(tenant.result_run_ids(), [run_id(&first)]);
    let reported = &results[0]["body"];
    assert_eq!(reported["device_id"], tenant.device_id());
    assert_eq!(reported["run"]["outcome"], "succeeded");
    assert_eq!(reported["run"]["items"][0]["id"], "li-count");
    assert_eq!(reported["run"]["items"][0]["status"], "succeeded");

    let seen = tenant.device();
    assert_eq!(seen["agent_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(seen["blueprint_id"], "bp-e2e");
    assert!(seen["last_checkin"].is_string(), "{seen:#}");
    assert!(seen["blueprint_sent_at"].is_string(), "{seen:#}");
    assert_eq!(seen["out_of_control"], false, "{seen:#}");
    // Everything "verified" asks of a check-in holds, but this Linux device's
    // inventory cannot tell whether an MDM profile is installed (see inventory.rs).
    assert_eq!(seen["verified"], false, "{seen:#}");
    assert_eq!(seen["not_verified_because"], json!(["no inventory has said the MDM profile is installed"]));

    let second = check_in(&device, &[]);
    assert_eq!((&second["outcome"], &second["kind"]), (&json!("succeeded"), &json!("recurring")));
    assert_eq!(runs_recorded(&device), 2, "the saved blueprint was enforced on the 304");
    assert_eq!(logged_records(&device, "The blueprint is unchanged (304); using the saved one.").len(), 1);
    let again = tenant.device();
    assert_eq!(again["blueprint_sent_at"], seen["blueprint_sent_at"], "a 304 sends nothing: {again:#}");
    assert_eq!(again["blueprint_etag"], seen["blueprint_etag"]);
    assert_ne!(again["last_checkin"], seen["last_checkin"]);
    let kinds: Vec<Value> = tenant.checkins().iter().map(|checkin| checkin["kind"].clone()).collect();
    assert_eq!(kinds, [json!("daily"), json!("recurring")]);
    assert_eq!(tenant.result_run_ids(), [run_id(&first), run_id(&second)]);
}

#[test]
fn a_changed_blueprint_is_sent_again_and_enforced() {
    let device = Device::new();
    let mut tenant = Tenant::start(counting_blueprint("bp-one"));
    enroll(&device, &tenant.url(), TOKEN);
    assert_eq!(check_in(&device, &[])["blueprint_id"], "bp-one");
    let before = tenant.device();

    let marker = script("li-marker", "Leave a marker", "#!/bin/sh\ntouch \"$AGENT_ROOT/marker\"\n");
    tenant.restart(|seed| {
        let mut changed = counting_blueprint("bp-two");
        changed["library_items"].as_array_mut().unwrap().push(marker);
        seed.blueprint = Some(changed);
    });
    let run = check_in(&device, &[]);
    assert_eq!(run["blueprint_id"], "bp-two", "{run:#}");
    assert!(device.root().join("marker").exists(), "the new item ran");
    assert_eq!(logged_records(&device, "Received a new blueprint.").len(), 2);
    let after = tenant.device();
    assert_eq!(after["blueprint_id"], "bp-two");
    assert_ne!(after["blueprint_etag"], before["blueprint_etag"]);
    assert_ne!(after["blueprint_sent_at"], before["blueprint_sent_at"]);
}
