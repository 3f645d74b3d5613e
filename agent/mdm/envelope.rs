//! Apple's response envelope: `CommandUUID`, `Status` and `UDID` around the
//! command's own keys, plus the contract's `RequestType` saying which query it
//! answers.

use serde::Serialize;
use serde_json::{Map, Value};

/// The six queries of the MDM daily check-in, in the order they are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RequestType {
    /// Installed configuration profiles.
    ProfileList,
    /// Installed applications.
    InstalledApplicationList,
    /// FileVault, System Integrity Protection, enrollment.
    SecurityInfo,
    /// Certificates of the System keychain.
    CertificateList,
    /// Updates the Mac is offered.
    #[serde(rename = "AvailableOSUpdates")]
    AvailableOsUpdates,
    /// Device, hardware and OS facts.
    DeviceInformation,
}

impl RequestType {
    /// Every query, in the order answered.
    pub const ALL: [Self; 6] = [
        Self::ProfileList,
        Self::InstalledApplicationList,
        Self::SecurityInfo,
        Self::CertificateList,
        Self::AvailableOsUpdates,
        Self::DeviceInformation,
    ];

    /// Apple's name: `ProfileList`, `AvailableOSUpdates`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProfileList => "ProfileList",
            Self::InstalledApplicationList => "InstalledApplicationList",
            Self::SecurityInfo => "SecurityInfo",
            Self::CertificateList => "CertificateList",
            Self::AvailableOsUpdates => "AvailableOSUpdates",
            Self::DeviceInformation => "DeviceInformation",
        }
    }
}

/// How a query was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    /// The facts were collected; the command's keys follow.
    Acknowledged,
    /// The collector behind the answer failed: no command keys (the report's
    /// `errors` say why).
    Error,
}

/// One response in Apple's format.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Response {
    /// Which query this answers.
    #[serde(rename = "RequestType")]
    pub request_type: RequestType,
    /// A fresh identifier: the agent answers its own daily queries.
    #[serde(rename = "CommandUUID")]
    pub command_uuid: String,
    /// `Acknowledged` or `Error`.
    #[serde(rename = "Status")]
    pub status: Status,
    /// The device's UDID.
    #[serde(rename = "UDID")]
    pub udid: String,
    /// The command's own keys (none on `Error`).
    #[serde(flatten)]
    pub keys: Map<String, Value>,
}

impl Response {
    /// A response with a new `CommandUUID`.
    pub(crate) fn new(request_type: RequestType, status: Status, udid: &str, keys: Map<String, Value>) -> Self {
        let command_uuid = uuid::Uuid::now_v7().to_string().to_ascii_uppercase();
        Self { request_type, command_uuid, status, udid: udid.to_string(), keys }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_has_apples_names_and_the_keys_sit_beside_them() {
        let mut keys = Map::new();
        keys.insert("CertificateList".into(), serde_json::json!([]));
        let first = Response::new(RequestType::CertificateList, Status::Acknowledged, "UDID-1", keys);
        let second = Response::new(RequestType::AvailableOsUpdates, Status::Error, "UDID-1", Map::new());
        assert_ne!(first.command_uuid, second.command_uuid, "a fresh CommandUUID per response");
        let json = serde_json::to_value(&first).unwrap();
        assert_eq!(json["RequestType"], "CertificateList");
        assert_eq!(
            (&json["Status"], &json["UDID"], &json["CertificateList"]),
            (&serde_json::json!("Acknowledged"), &serde_json::json!("UDID-1"), &serde_json::json!([]))
        );
        let error = serde_json::to_value(&second).unwrap();
        let mut names: Vec<&String> = error.as_object().unwrap().keys().collect();
        names.sort();
        assert_eq!(names, ["CommandUUID", "RequestType", "Status", "UDID"]);
        assert_eq!(
            (&error["RequestType"], &error["Status"]),
            (&serde_json::json!("AvailableOSUpdates"), &serde_json::json!("Error"))
        );
    }
}
