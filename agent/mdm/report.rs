//! The MDM report: the six responses of one collected inventory, each in its
//! envelope, with `Acknowledged` or `Error` decided by the collectors behind it.
//!
//! | response | must have worked | adds facts |
//! | --- | --- | --- |
//! | ProfileList | `profiles` | |
//! | InstalledApplicationList | `applications` | |
//! | SecurityInfo | | `filevault`, `enrollment`, `system_profiler` |
//! | CertificateList | `certificates`, `identities` | |
//! | AvailableOSUpdates | `software_updates` | `sw_vers` |
//! | DeviceInformation | | `system_profiler`, `ioreg`, `sw_vers`, `system`, `linux` |
//!
//! A response is an `Error` when a collector it must have failed, or when it
//! knows nothing and a collector adding its facts failed; every failed collector
//! behind a response is named in `errors`. Apple's response format has no key
//! for the reason (the command schemas do not include `ErrorChain`), so it
//! travels beside the responses.

use serde::Serialize;

use super::built::Built;
use super::envelope::{RequestType, Response, Status};
use super::{
    available_os_updates, certificate_list, device_information, installed_application_list, profile_list, security_info,
};
use crate::inventory::Inventory;

/// Everything `agent update-mdm` sends to the tenant, and prints with `--json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MdmReport {
    /// The agent's id of this device.
    pub device_id: String,
    /// A new id per report; the tenant de-duplicates by it.
    pub report_id: String,
    /// The six responses, in [`RequestType::ALL`] order.
    pub responses: Vec<Response>,
    /// The collectors that failed, with the response each left short.
    pub errors: Vec<ResponseError>,
    /// What was left out because a key Apple requires is unknown (logged and
    /// shown, not sent).
    #[serde(skip)]
    pub left_out: Vec<LeftOut>,
    /// How many items or facts each response holds, in response order (shown,
    /// not sent).
    #[serde(skip)]
    pub counts: Vec<usize>,
}

/// A collector that failed, and the response it was behind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResponseError {
    /// The response.
    pub request_type: RequestType,
    /// The inventory collector: `profiles`, `identities`.
    pub collector: String,
    /// What went wrong.
    pub message: String,
}

/// An entry a response could not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    /// The response.
    pub request_type: RequestType,
    /// What was left out, and which fact is missing.
    pub what: String,
}

/// Why no report could be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MdmError {
    /// Every response needs the UDID, and nothing told it.
    #[error(
        "cannot answer the MDM queries: the device's UDID is unknown (neither system_profiler, ioreg, DMI nor /etc/machine-id under the agent's root told it)"
    )]
    UnknownUdid,
}

/// The collectors a response needs, and those that only add to it.
struct Sources {
    required: &'static [&'static str],
    adding: &'static [&'static str],
}

fn sources(request_type: RequestType) -> Sources {
    let (required, adding): (&[&str], &[&str]) = match request_type {
        RequestType::ProfileList => (&["profiles"], &[]),
        RequestType::InstalledApplicationList => (&["applications"], &[]),
        RequestType::SecurityInfo => (&[], &["filevault", "enrollment", "system_profiler"]),
        RequestType::CertificateList => (&["certificates", "identities"], &[]),
        RequestType::AvailableOsUpdates => (&["software_updates"], &["sw_vers"]),
        RequestType::DeviceInformation => (&[], &["system_profiler", "ioreg", "sw_vers", "system", "linux"]),
    };
    Sources { required, adding }
}

/// The UDID the responses carry: the inventory's (provisioning UDID, hardware
/// UUID, DMI product UUID), else on Linux the machine id.
pub(crate) fn udid(inventory: &Inventory) -> Option<String> {
    inventory.device.udid.clone().or_else(|| inventory.device.machine_id.clone())
}

/// The six responses of `inventory` for the device `device_id`, under a new report id.
pub fn build_report(inventory: &Inventory, device_id: &str) -> Result<MdmReport, MdmError> {
    let udid = udid(inventory).ok_or(MdmError::UnknownUdid)?;
    let mut report = MdmReport {
        device_id: device_id.to_string(),
        report_id: uuid::Uuid::now_v7().to_string(),
        responses: Vec::new(),
        errors: Vec::new(),
        left_out: Vec::new(),
        counts: Vec::new(),
    };
    for request_type in RequestType::ALL {
        let built = build_keys(request_type, inventory, &udid);
        let Sources { required, adding } = sources(request_type);
        let failed: Vec<_> = inventory
            .errors
            .iter()
            .filter(|error| required.contains(&error.collector.as_str()) || adding.contains(&error.collector.as_str()))
            .collect();
        let required_failed = failed.iter().any(|error| required.contains(&error.collector.as_str()));
        let status = if required_failed || (built.count == 0 && !failed.is_empty()) {
            Status::Error
        } else {
            Status::Acknowledged
        };
        report.errors.extend(failed.into_iter().map(|error| ResponseError {
            request_type,
            collector: error.collector.clone(),
            message: error.message.clone(),
        }));
        if status == Status::Error {
            report.responses.push(Response::new(request_type, status, &udid, serde_json::Map::new()));
            report.counts.push(0);
            continue;
        }
        report.left_out.extend(built.left_out.into_iter().map(|what| LeftOut { request_type, what }));
        report.responses.push(Response::new(request_type, status, &udid, built.keys));
        report.counts.push(built.count);
    }
    Ok(report)
}

fn build_keys(request_type: RequestType, inventory: &Inventory, udid: &str) -> Built {
    match request_type {
        RequestType::ProfileList => profile_list::build(inventory),
        RequestType::InstalledApplicationList => installed_application_list::build(inventory),
        RequestType::SecurityInfo => security_info::build(inventory),
        RequestType::CertificateList => certificate_list::build(inventory),
        RequestType::AvailableOsUpdates => available_os_updates::build(inventory),
        RequestType::DeviceInformation => device_information::build(inventory, udid),
    }
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
