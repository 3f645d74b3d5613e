//! DeviceInformation: who the device is and what it runs, from the inventory's
//! device, hardware, OS and security facts (`system_profiler`, `ioreg`,
//! `sw_vers`, the system; DMI and `os-release` on Linux).
//!
//! The agent answers its own query for every key it can know; a key whose fact
//! is unknown is left out. Capacities are in base-10 gigabytes, as Apple gives
//! them since macOS 12. `Model` and `ProductName` are the model identifier
//! (`MacBookPro18,3`), `ModelName` the marketing name; `IsAppleSilicon` is only
//! said of a Mac, from its chip's name.

use serde::Serialize;

use super::built::{Built, is_macos, known};
use crate::inventory::Inventory;

/// Bytes in a base-10 gigabyte.
const GIGABYTE: f64 = 1e9;

#[derive(Serialize)]
struct DeviceInformationBody {
    #[serde(rename = "QueryResponses")]
    query_responses: QueryResponses,
}

#[derive(Serialize)]
struct QueryResponses {
    #[serde(rename = "UDID")]
    udid: String,
    #[serde(rename = "DeviceName", skip_serializing_if = "Option::is_none")]
    device_name: Option<String>,
    #[serde(rename = "HostName", skip_serializing_if = "Option::is_none")]
    host_name: Option<String>,
    #[serde(rename = "SerialNumber", skip_serializing_if = "Option::is_none")]
    serial_number: Option<String>,
    #[serde(rename = "ModelName", skip_serializing_if = "Option::is_none")]
    model_name: Option<String>,
    #[serde(rename = "Model", skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    #[serde(rename = "ProductName", skip_serializing_if = "Option::is_none")]
    product_name: Option<String>,
    #[serde(rename = "ModelNumber", skip_serializing_if = "Option::is_none")]
    model_number: Option<String>,
    #[serde(rename = "IsAppleSilicon", skip_serializing_if = "Option::is_none")]
    is_apple_silicon: Option<bool>,
    #[serde(rename = "OSVersion", skip_serializing_if = "Option::is_none")]
    os_version: Option<String>,
    #[serde(rename = "SupplementalOSVersionExtra", skip_serializing_if = "Option::is_none")]
    supplemental_os_version_extra: Option<String>,
    #[serde(rename = "BuildVersion", skip_serializing_if = "Option::is_none")]
    build_version: Option<String>,
    #[serde(rename = "DeviceCapacity", skip_serializing_if = "Option::is_none")]
    device_capacity: Option<f64>,
    #[serde(rename = "AvailableDeviceCapacity", skip_serializing_if = "Option::is_none")]
    available_device_capacity: Option<f64>,
    #[serde(rename = "IsActivationLockEnabled", skip_serializing_if = "Option::is_none")]
    is_activation_lock_enabled: Option<bool>,
    #[serde(rename = "SystemIntegrityProtectionEnabled", skip_serializing_if = "Option::is_none")]
    system_integrity_protection_enabled: Option<bool>,
}

/// The DeviceInformation keys for the device `udid`.
pub(crate) fn build(inventory: &Inventory, udid: &str) -> Built {
    let device = &inventory.device;
    let hardware = &inventory.hardware;
    let os = &inventory.operating_system;
    let responses = QueryResponses {
        udid: udid.to_string(),
        device_name: device.device_name.clone(),
        host_name: device.hostname.clone(),
        serial_number: device.serial_number.clone(),
        model_name: device.model.clone(),
        model: device.model_identifier.clone(),
        product_name: device.model_identifier.clone(),
        model_number: device.model_number.clone(),
        is_apple_silicon: hardware
            .processor
            .as_deref()
            .filter(|_| is_macos(inventory))
            .map(|processor| processor.starts_with("Apple ")),
        os_version: os.version.clone(),
        supplemental_os_version_extra: os.version_extra.clone(),
        build_version: os.build.clone(),
        device_capacity: hardware.storage_bytes.map(|bytes| bytes as f64 / GIGABYTE),
        available_device_capacity: hardware.storage_available_bytes.map(|bytes| bytes as f64 / GIGABYTE),
        is_activation_lock_enabled: hardware.activation_lock_enabled,
        system_integrity_protection_enabled: inventory.security.system_integrity_protection,
    };
    let count = known(&[
        responses.device_name.is_some(),
        responses.host_name.is_some(),
        responses.serial_number.is_some(),
        responses.model_name.is_some(),
        responses.model.is_some(),
        responses.product_name.is_some(),
        responses.model_number.is_some(),
        responses.is_apple_silicon.is_some(),
        responses.os_version.is_some(),
        responses.supplemental_os_version_extra.is_some(),
        responses.build_version.is_some(),
        responses.device_capacity.is_some(),
        responses.available_device_capacity.is_some(),
        responses.is_activation_lock_enabled.is_some(),
        responses.system_integrity_protection_enabled.is_some(),
    ]);
    Built::from_body(&DeviceInformationBody { query_responses: responses }, count, Vec::new())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::inventory::{Device, Hardware, OperatingSystem};

    #[test]
    fn a_mac_answers_with_every_known_fact_and_nothing_else() {
        let inventory = Inventory {
            device: Device {
                device_name: Some("Jane’s MacBook Pro".into()),
                serial_number: Some("C02FK3ZXQ6L4".into()),
                model: Some("MacBook Pro".into()),
                model_identifier: Some("MacBookPro18,3".into()),
                ..Device::default()
            },
            hardware: Hardware {
                processor: Some("Apple M1 Pro".into()),
                storage_bytes: Some(494_384_795_648),
                ..Hardware::default()
            },
            operating_system: OperatingSystem {
                name: Some("macOS".into()),
                version: Some("14.6.1".into()),
                build: Some("23G93".into()),
                ..OperatingSystem::default()
            },
            ..Inventory::default()
        };
        let built = build(&inventory, "00006000-001A2B3C4D5E801E");
        assert_eq!(
            serde_json::Value::Object(built.keys),
            json!({ "QueryResponses": {
                "UDID": "00006000-001A2B3C4D5E801E", "DeviceName": "Jane’s MacBook Pro", "SerialNumber": "C02FK3ZXQ6L4",
                "ModelName": "MacBook Pro", "Model": "MacBookPro18,3", "ProductName": "MacBookPro18,3",
                "IsAppleSilicon": true, "OSVersion": "14.6.1", "BuildVersion": "23G93", "DeviceCapacity": 494.384795648
            }})
        );
        assert_eq!(built.count, 9, "the UDID is not counted: it is always there");
    }

    #[test]
    fn elsewhere_apple_silicon_is_not_said_and_an_empty_inventory_knows_only_the_udid() {
        let mut inventory = Inventory::default();
        inventory.hardware.processor = Some("AMD EPYC".into());
        let built = build(&inventory, "machine-id");
        assert_eq!(serde_json::Value::Object(built.keys), json!({ "QueryResponses": { "UDID": "machine-id" } }));
        assert_eq!(built.count, 0);
    }
}
