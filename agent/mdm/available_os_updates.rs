//! AvailableOSUpdates: the updates `softwareupdate --list` offers, from the
//! inventory.
//!
//! Apple requires keys the tool never prints: `HumanReadableNameLocale`,
//! `MetadataURL` and `AppIdentifiersToClose` are sent empty (`""`, `[]`), which
//! here means unknown, never a claim; so is `Build` when the label does not end
//! in one. For a Rapid Security Response the label's build is its
//! `SupplementalBuildVersion` and `Build` (the base build) is unknown. An update
//! whose download size is unknown cannot be described and is left out.
//! `IsMajorOSUpdate` is sent when both the installed and the offered macOS
//! versions are known.

use serde::Serialize;

use super::built::{Built, is_macos};
use crate::inventory::{Inventory, SoftwareUpdate};
use crate::operating_system::OsVersion;

#[derive(Serialize)]
struct AvailableOsUpdatesBody {
    #[serde(rename = "AvailableOSUpdates")]
    updates: Vec<AvailableOsUpdate>,
}

#[derive(Serialize)]
struct AvailableOsUpdate {
    #[serde(rename = "ProductKey")]
    product_key: String,
    #[serde(rename = "HumanReadableName")]
    human_readable_name: String,
    #[serde(rename = "HumanReadableNameLocale")]
    human_readable_name_locale: String,
    #[serde(rename = "MetadataURL")]
    metadata_url: String,
    #[serde(rename = "Version")]
    version: String,
    #[serde(rename = "Build")]
    build: String,
    #[serde(rename = "DownloadSize")]
    download_size: u64,
    #[serde(rename = "AppIdentifiersToClose")]
    app_identifiers_to_close: Vec<String>,
    #[serde(rename = "IsSecurityResponse")]
    is_security_response: bool,
    #[serde(rename = "IsMajorOSUpdate", skip_serializing_if = "Option::is_none")]
    is_major_os_update: Option<bool>,
    #[serde(rename = "RestartRequired")]
    restart_required: bool,
    #[serde(rename = "SupplementalBuildVersion", skip_serializing_if = "Option::is_none")]
    supplemental_build_version: Option<String>,
    #[serde(rename = "SupplementalOSVersionExtra", skip_serializing_if = "Option::is_none")]
    supplemental_os_version_extra: Option<String>,
}

/// The AvailableOSUpdates keys.
pub(crate) fn build(inventory: &Inventory) -> Built {
    let installed_major = is_macos(inventory)
        .then(|| inventory.operating_system.version.as_deref().and_then(OsVersion::leading))
        .flatten()
        .map(|version| version.major());
    let mut left_out = Vec::new();
    let mut updates = Vec::new();
    for update in &inventory.available_updates {
        match item(update, installed_major) {
            Some(item) => updates.push(item),
            None => left_out.push(format!("update {}: its download size is unknown", update.product_key)),
        }
    }
    let count = updates.len();
    Built::from_body(&AvailableOsUpdatesBody { updates }, count, left_out)
}

fn item(update: &SoftwareUpdate, installed_major: Option<u32>) -> Option<AvailableOsUpdate> {
    let extra = update.version_extra.clone();
    let printed = update.version.clone().unwrap_or_default();
    // `13.4.1 (a)` is version 13.4.1 with the extra `(a)`, as Apple splits them.
    let version = match &extra {
        Some(extra) => printed.strip_suffix(extra.as_str()).unwrap_or(&printed).trim().to_string(),
        None => printed,
    };
    let offered_major =
        update.is_os_update.then(|| OsVersion::leading(&version)).flatten().map(|version| version.major());
    let (build, supplemental_build_version) = match extra {
        Some(_) => (String::new(), update.build.clone()),
        None => (update.build.clone().unwrap_or_default(), None),
    };
    Some(AvailableOsUpdate {
        product_key: update.product_key.clone(),
        human_readable_name: update.title.clone(),
        human_readable_name_locale: String::new(),
        metadata_url: String::new(),
        version,
        build,
        download_size: update.size_bytes?,
        app_identifiers_to_close: Vec::new(),
        is_security_response: update.version_extra.is_some(),
        is_major_os_update: installed_major.zip(offered_major).map(|(installed, offered)| offered > installed),
        restart_required: update.restart_required,
        supplemental_build_version,
        supplemental_os_version_extra: update.version_extra.clone(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::inventory::OperatingSystem;

    fn update(label: &str, version: &str, build: Option<&str>, extra: Option<&str>, is_os: bool) -> SoftwareUpdate {
        SoftwareUpdate {
            product_key: label.into(),
            title: label.rsplit_once('-').map_or(label, |(title, _)| title).into(),
            version: Some(version.into()),
            recommended: true,
            restart_required: is_os,
            is_os_update: is_os,
            size_bytes: Some(1024),
            build: build.map(Into::into),
            version_extra: extra.map(Into::into),
        }
    }

    fn on_sonoma(updates: Vec<SoftwareUpdate>) -> Inventory {
        let operating_system = OperatingSystem {
            name: Some("macOS".into()),
            version: Some("14.6.1".into()),
            ..OperatingSystem::default()
        };
        Inventory { operating_system, available_updates: updates, ..Inventory::default() }
    }

    #[test]
    fn minor_major_and_other_updates_carry_what_the_tool_says() {
        let inventory = on_sonoma(vec![
            update("macOS Sonoma 14.7.1-23H222", "14.7.1", Some("23H222"), None, true),
            update("macOS Sequoia 15.1-24B83", "15.1", Some("24B83"), None, true),
            update("Safari18.1-18.1", "18.1", None, None, false),
        ]);
        let built = build(&inventory);
        let updates = serde_json::Value::Object(built.keys)["AvailableOSUpdates"].clone();
        assert_eq!(
            updates[0],
            json!({ "ProductKey": "macOS Sonoma 14.7.1-23H222", "HumanReadableName": "macOS Sonoma 14.7.1",
                    "HumanReadableNameLocale": "", "MetadataURL": "", "Version": "14.7.1", "Build": "23H222",
                    "DownloadSize": 1024, "AppIdentifiersToClose": [], "IsSecurityResponse": false,
                    "IsMajorOSUpdate": false, "RestartRequired": true })
        );
        assert_eq!(updates[1]["IsMajorOSUpdate"], true);
        assert_eq!((&updates[2]["Build"], updates[2].get("IsMajorOSUpdate")), (&json!(""), None));
        assert_eq!(built.count, 3);
    }

    #[test]
    fn a_rapid_security_response_splits_its_version_and_an_unsized_update_is_left_out() {
        let mut unsized_update = update("macOS Sonoma 14.7-23H124", "14.7", Some("23H124"), None, true);
        unsized_update.size_bytes = None;
        let inventory = on_sonoma(vec![
            update("macOS Ventura 13.4.1 (a)-22F770820b", "13.4.1 (a)", Some("22F770820b"), Some("(a)"), true),
            unsized_update,
        ]);
        let built = build(&inventory);
        let response = serde_json::Value::Object(built.keys);
        let security_response = &response["AvailableOSUpdates"][0];
        assert_eq!(
            (&security_response["Version"], &security_response["SupplementalOSVersionExtra"]),
            (&json!("13.4.1"), &json!("(a)"))
        );
        assert_eq!(
            (&security_response["Build"], &security_response["SupplementalBuildVersion"]),
            (&json!(""), &json!("22F770820b"))
        );
        assert_eq!(security_response["IsSecurityResponse"], true);
        assert_eq!(built.left_out, ["update macOS Sonoma 14.7-23H124: its download size is unknown"]);
        let elsewhere = build(&Inventory { available_updates: inventory.available_updates, ..Inventory::default() });
        let response = serde_json::Value::Object(elsewhere.keys);
        assert_eq!(response["AvailableOSUpdates"][0].get("IsMajorOSUpdate"), None, "the installed macOS is unknown");
    }
}
