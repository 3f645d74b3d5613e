//! A tenant that is stopped: check-ins go on from the saved blueprint and the
//! reports pile up in the spool; once the tenant is back (same port, same SQLite
//! file) every spooled report arrives exactly once, oldest first.

use serde_json::json;

use super::harness::{TOKEN, Tenant, enroll, run_id};
use crate::support::{Device, blueprint, check_in, item, logged_records};

/// The file the blueprint's one item keeps in place, under the root.
const MARKER: &str = "enforced/marker";

/// A blueprint whose item re-creates [`MARKER`] whenever it is missing.
fn marker_blueprint() -> serde_json::Value {
    blueprint(vec![json!({
        "id": "li-marker", "name": "Marker file", "type": "custom_script",
        "audit": "#!/bin/sh\ntest -f \"$AGENT_ROOT/enforced/marker\"\n",
        "remediation": "#!/bin/sh\nmkdir -p \"$AGENT_ROOT/enforced\" && echo managed > \"$AGENT_ROOT/enforced/marker\"\n",
    })])
}

/// The results reports the agent logged as sent (accepted by the tenant), in order;
/// the first, daily, check-in also sends an inventory report.
fn sent(device: &Device) -> Vec<String> {
    let records = logged_records(device, "Report sent to the tenant.");
    records
        .iter()
        .filter(|record| record["path"] == "/api/v1/agent/results")
        .map(|record| record["report_id"].as_str().expect("a report id").to_string())
        .collect()
}

/// How many reports the last check-in left waiting in the spool, as it logged.
fn spooled(device: &Device) -> u64 {
    let records = logged_records(device, "Reports remain in the spool.");
    records.last().and_then(|record| record["waiting"].as_u64()).unwrap_or(0)
}

#[test]
fn a_stopped_tenant_leaves_the_saved_blueprint_enforced_and_the_reports_spooled_until_it_is_back() {
    let device = Device::new();
    let mut tenant = Tenant::start(marker_blueprint());
    enroll(&device, &tenant.url(), TOKEN);
    let mut expected = vec![run_id(&check_in(&device, &[]))];
    assert!(device.root().join(MARKER).exists(), "the first check-in created the marker");

    tenant.stop();
    for round in 1..=3 {
        std::fs::remove_file(device.root().join(MARKER)).expect("the marker to delete");
        let run = check_in(&device, &[]);
        assert_eq!(run["outcome"], "succeeded", "the saved blueprint is enforced: {run:#}");
        assert!(device.root().join(MARKER).exists(), "round {round}: the remediation re-created the marker");
        assert_eq!(run["drift"]["reapplied"], 1);
        assert_eq!(item(&device.status(), "Marker file")["status"], "succeeded");
        assert_eq!(spooled(&device), round, "round {round}: the reports pile up in the spool");
        expected.push(run_id(&run));
    }
    assert_eq!(logged_records(&device, "Tenant check-in failed; using the saved blueprint.").len(), 3);

    tenant.restart(|_| {});
    assert_eq!(tenant.result_run_ids(), expected[..1], "the tenant kept what it had in its SQLite file");
    expected.push(run_id(&check_in(&device, &[])));
    assert_eq!(tenant.result_run_ids(), expected, "every spooled report, oldest first");
    assert_eq!(sent(&device), expected, "each sent once: the tenant's de-duplication was not needed");
    assert_eq!(tenant.checkins().len(), 2, "the check-ins made while it was down never reached it");
    expected.push(run_id(&check_in(&device, &[])));
    assert_eq!(tenant.result_run_ids(), expected);
    assert_eq!(sent(&device), expected, "nothing is sent twice");
    assert_eq!(logged_records(&device, "Reports remain in the spool.").len(), 3, "the spool is empty again");
}
