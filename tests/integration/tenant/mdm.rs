//! `agent update-mdm` against the recording test tenant: the report goes to
//! `/api/v1/agent/mdm` exactly as printed; with the tenant down it waits in the
//! spool and the next check-in sends it; a report refused for good is parked.

use serde_json::Value;

use super::server::TestTenant;
use super::{configure, counting_blueprint, dead_url};
use crate::mdm::{REQUEST_TYPES, mac_with_updates, update_mdm, update_mdm_json};
use crate::support::{Device, check_in, code, text};

const MDM: &str = "/api/v1/agent/mdm";

fn request_types(report: &Value) -> Vec<String> {
    let responses = report["responses"].as_array().unwrap();
    responses.iter().map(|response| response["RequestType"].as_str().unwrap().to_string()).collect()
}

#[test]
fn the_report_arrives_as_printed_with_the_token() {
    let device = Device::new();
    let stand_ins = mac_with_updates(&device);
    let tenant = TestTenant::start("tok-1", counting_blueprint(&device));
    configure(&device, &tenant.url(), "tok-1");
    let output = update_mdm(&device, Some(&stand_ins), &["--json"]);
    assert_eq!(code(&output), 0, "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("Sent to the tenant"), "{}", text(&output.stderr));
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let seen = tenant.seen_at(MDM);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer tok-1"));
    assert_eq!(tenant.accepted_mdm_reports(), std::slice::from_ref(&printed), "the body is the report printed");
    assert_eq!(request_types(&printed), REQUEST_TYPES);
    let spool = device.status()["spool"].clone();
    assert_eq!((spool["waiting"].as_u64(), spool["parked"].as_u64()), (Some(0), Some(0)));
    assert_eq!(tenant.seen().len(), 1, "update-mdm sends its report and nothing else");
}

#[test]
fn with_the_tenant_down_the_report_waits_in_the_spool_and_the_next_check_in_sends_it() {
    let device = Device::new();
    let stand_ins = mac_with_updates(&device);
    let tenant = TestTenant::start("tok-1", counting_blueprint(&device));
    configure(&device, &dead_url(), "tok-1");
    let output = update_mdm(&device, Some(&stand_ins), &["--json"]);
    assert_eq!(code(&output), 0, "a tenant that is down is not a failure: {}", text(&output.stderr));
    assert!(text(&output.stderr).contains("the report waits in the spool"), "{}", text(&output.stderr));
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(device.status()["spool"]["waiting"], 1);

    configure(&device, &tenant.url(), "tok-1");
    let run = check_in(&device, &stand_ins.flags().iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run["outcome"], "succeeded", "{run:#}");
    assert_eq!(tenant.accepted_mdm_reports(), [printed], "the spooled report, once, as it was built");
    let paths: Vec<String> = tenant.seen().into_iter().map(|seen| seen.path).collect();
    let position = |path: &str| paths.iter().position(|seen| seen == path).unwrap();
    assert!(position(MDM) < position("/api/v1/agent/results"), "oldest first: {paths:?}");
    assert_eq!(device.status()["spool"]["waiting"], 0);

    let second = update_mdm_json(&device, Some(&stand_ins));
    let accepted = tenant.accepted_mdm_reports();
    assert_eq!(accepted.len(), 2);
    assert_eq!(accepted[1]["report_id"], second["report_id"]);
}

#[test]
fn a_report_the_tenant_refuses_for_good_is_parked_and_the_verb_fails() {
    let device = Device::new();
    let stand_ins = mac_with_updates(&device);
    let tenant = TestTenant::start("tok-1", counting_blueprint(&device));
    tenant.change(|state| state.mdm_status = 422);
    configure(&device, &tenant.url(), "tok-1");
    let output = update_mdm(&device, Some(&stand_ins), &[]);
    assert_eq!(code(&output), 1, "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("The tenant refused the report"), "{}", text(&output.stdout));
    assert!(text(&output.stdout).contains("mdm report rejected"), "the tenant's message: {}", text(&output.stdout));
    let spool = device.status()["spool"].clone();
    assert_eq!((spool["waiting"].as_u64(), spool["parked"].as_u64()), (Some(0), Some(1)));
    tenant.change(|state| state.mdm_status = 200);
    update_mdm_json(&device, Some(&stand_ins));
    assert_eq!(tenant.seen_at(MDM).len(), 2, "the parked report is not sent again");
}
