//! `agent update-mdm` against the reference tenant: the six responses arrive as
//! an `mdm` report, listed back through the devices API, each conforming to
//! Apple's schema; a second run is a second report.

use serde_json::Value;

use super::harness::{TOKEN, Tenant, enroll};
use crate::mdm::{REQUEST_TYPES, assert_six_conform, mac_with_updates, update_mdm_json};
use crate::support::{Device, blueprint};

#[test]
fn update_mdm_delivers_the_six_responses_to_the_reference_tenant() {
    let device = Device::new();
    let stand_ins = mac_with_updates(&device);
    let tenant = Tenant::start(blueprint(Vec::new()));
    enroll(&device, &tenant.url(), TOKEN);

    let printed = update_mdm_json(&device, Some(&stand_ins));
    let reports = tenant.reports("mdm");
    assert_eq!(reports.len(), 1, "{reports:#?}");
    assert_eq!(reports[0]["report_id"], printed["report_id"]);
    let body = &reports[0]["body"];
    assert_eq!(body, &printed, "the tenant keeps the report exactly as the agent printed it");
    assert_eq!(body["device_id"], tenant.device_id());
    let responses = assert_six_conform(body, "00006000-001A2B3C4D5E801E");
    let statuses: Vec<&Value> = REQUEST_TYPES.iter().map(|request_type| &responses[*request_type]["Status"]).collect();
    assert!(statuses.iter().all(|status| *status == "Acknowledged"), "{statuses:?}");
    assert_eq!(responses["DeviceInformation"]["QueryResponses"]["SerialNumber"], "C02FK3ZXQ6L4");

    let second = update_mdm_json(&device, Some(&stand_ins));
    let report_ids: Vec<Value> = tenant.reports("mdm").iter().map(|report| report["report_id"].clone()).collect();
    assert_eq!(report_ids, [printed["report_id"].clone(), second["report_id"].clone()]);
}
