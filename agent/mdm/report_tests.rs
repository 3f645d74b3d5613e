//! The report's envelope, statuses and errors, on inventories built by hand.

use serde_json::json;

use super::*;
use crate::inventory::{Certificate, CollectorError};

fn with_udid() -> Inventory {
    let mut inventory = Inventory::default();
    inventory.device.udid = Some("00006000-001A2B3C4D5E801E".into());
    inventory
}

fn failed(inventory: &mut Inventory, collector: &str) {
    inventory.errors.push(CollectorError { collector: collector.into(), message: format!("{collector} exited 1") });
}

fn statuses(report: &MdmReport) -> Vec<(RequestType, Status)> {
    report.responses.iter().map(|response| (response.request_type, response.status)).collect()
}

#[test]
fn six_responses_in_order_each_with_its_own_command_uuid_and_the_devices_udid() {
    let report = build_report(&with_udid(), "device-1").unwrap();
    let expected: Vec<_> = RequestType::ALL.iter().map(|request_type| (*request_type, Status::Acknowledged)).collect();
    assert_eq!(statuses(&report), expected);
    assert_eq!((report.device_id.as_str(), report.errors.as_slice()), ("device-1", &[][..]));
    let mut uuids: Vec<&str> = report.responses.iter().map(|response| response.command_uuid.as_str()).collect();
    uuids.dedup();
    assert_eq!(uuids.len(), 6);
    assert!(report.responses.iter().all(|response| response.udid == "00006000-001A2B3C4D5E801E"));
    let json = serde_json::to_value(&report).unwrap();
    let mut keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["device_id", "errors", "report_id", "responses"], "what is shown only is not sent");
    assert_eq!(json["responses"][4]["AvailableOSUpdates"], json!([]));
    assert_ne!(build_report(&with_udid(), "device-1").unwrap().report_id, report.report_id);
}

#[test]
fn a_required_collector_that_failed_makes_its_response_an_error_without_keys() {
    let mut inventory = with_udid();
    inventory.certificates = vec![Certificate {
        common_name: Some("Device".into()),
        data_base64: "MAA=".into(),
        is_identity: false,
        sha1: None,
        sha256: None,
    }];
    failed(&mut inventory, "identities");
    let report = build_report(&inventory, "device-1").unwrap();
    let certificates = &report.responses[3];
    assert_eq!((certificates.request_type, certificates.status), (RequestType::CertificateList, Status::Error));
    assert!(certificates.keys.is_empty(), "IsIdentity is unknown, so no list is sent: {:?}", certificates.keys);
    assert_eq!(
        report.errors,
        [ResponseError {
            request_type: RequestType::CertificateList,
            collector: "identities".into(),
            message: "identities exited 1".into()
        }]
    );
}

#[test]
fn a_collector_that_only_adds_facts_is_named_and_errs_the_response_only_when_nothing_is_known() {
    let mut inventory = with_udid();
    inventory.security.system_integrity_protection = Some(true);
    failed(&mut inventory, "filevault");
    failed(&mut inventory, "enrollment");
    let report = build_report(&inventory, "device-1").unwrap();
    assert_eq!(report.responses[2].status, Status::Acknowledged);
    assert_eq!(
        serde_json::to_value(&report.responses[2]).unwrap()["SecurityInfo"],
        json!({ "SystemIntegrityProtectionEnabled": true })
    );
    let named: Vec<(RequestType, &str)> =
        report.errors.iter().map(|error| (error.request_type, error.collector.as_str())).collect();
    assert_eq!(named, [(RequestType::SecurityInfo, "filevault"), (RequestType::SecurityInfo, "enrollment")]);

    inventory.security.system_integrity_protection = None;
    inventory.device.hostname = Some("janes-mbp".into());
    failed(&mut inventory, "system_profiler");
    let report = build_report(&inventory, "device-1").unwrap();
    assert_eq!(report.responses[2].status, Status::Error, "no security fact is known");
    assert_eq!(report.responses[5].status, Status::Acknowledged, "DeviceInformation still knows its other facts");
    let behind_device_information =
        report.errors.iter().filter(|error| error.request_type == RequestType::DeviceInformation).count();
    assert_eq!(behind_device_information, 1, "system_profiler is named under both responses");
}

#[test]
fn without_a_udid_nothing_can_be_answered_and_linux_uses_its_machine_id() {
    assert_eq!(build_report(&Inventory::default(), "device-1"), Err(MdmError::UnknownUdid));
    let mut linux = Inventory::default();
    linux.device.machine_id = Some("3d1219c7c4c5404aaa1f6d2a48adfda4".into());
    let report = build_report(&linux, "device-1").unwrap();
    assert_eq!(report.responses[0].udid, "3d1219c7c4c5404aaa1f6d2a48adfda4");
}

#[test]
fn what_a_builder_left_out_is_kept_with_its_response() {
    let mut inventory = with_udid();
    inventory.certificates = vec![Certificate {
        common_name: None,
        data_base64: "MAA=".into(),
        is_identity: false,
        sha1: Some("AB12".into()),
        sha256: None,
    }];
    let report = build_report(&inventory, "device-1").unwrap();
    assert_eq!(
        report.left_out,
        [LeftOut {
            request_type: RequestType::CertificateList,
            what: "certificate AB12: its subject has no common name".into()
        }]
    );
    assert_eq!(report.counts, [0, 0, 0, 0, 0, 0]);
}
