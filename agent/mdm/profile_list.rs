//! ProfileList: the configuration profiles installed for the device (the
//! device channel's answer, so profiles installed for a user are not listed),
//! from the inventory's profile list (`profiles -C -o stdout-xml`).
//!
//! Apple requires `PayloadUUID` and `PayloadIdentifier` of every profile, and
//! type, version, identifier and UUID of every payload. A profile whose UUID is
//! unknown is left out; a profile with a payload missing one of those keeps its
//! entry without `PayloadContent` (the list is optional, and a partial one would
//! read as complete).

use serde::Serialize;

use super::built::Built;
use crate::inventory::{Inventory, Payload, Profile};

/// The scope of device profiles in the inventory.
const DEVICE_SCOPE: &str = "system";

#[derive(Serialize)]
struct ProfileListBody {
    #[serde(rename = "ProfileList")]
    profile_list: Vec<ProfileListItem>,
}

#[derive(Serialize)]
struct ProfileListItem {
    #[serde(rename = "PayloadUUID")]
    uuid: String,
    #[serde(rename = "PayloadIdentifier")]
    identifier: String,
    #[serde(rename = "PayloadVersion", skip_serializing_if = "Option::is_none")]
    version: Option<i64>,
    #[serde(rename = "PayloadDisplayName", skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(rename = "PayloadOrganization", skip_serializing_if = "Option::is_none")]
    organization: Option<String>,
    #[serde(rename = "PayloadDescription", skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(rename = "PayloadRemovalDisallowed")]
    removal_disallowed: bool,
    #[serde(rename = "PayloadContent", skip_serializing_if = "Option::is_none")]
    content: Option<Vec<PayloadContentItem>>,
}

#[derive(Serialize)]
struct PayloadContentItem {
    #[serde(rename = "PayloadType")]
    payload_type: String,
    #[serde(rename = "PayloadVersion")]
    version: i64,
    #[serde(rename = "PayloadIdentifier")]
    identifier: String,
    #[serde(rename = "PayloadUUID")]
    uuid: String,
    #[serde(rename = "PayloadDisplayName", skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
}

/// The ProfileList keys.
pub(crate) fn build(inventory: &Inventory) -> Built {
    let mut left_out = Vec::new();
    let mut items = Vec::new();
    for profile in inventory.profiles.iter().filter(|profile| profile.scope == DEVICE_SCOPE) {
        match item(profile, &mut left_out) {
            Some(item) => items.push(item),
            None => left_out.push(format!("profile {}: its PayloadUUID is unknown", profile.identifier)),
        }
    }
    let count = items.len();
    Built::from_body(&ProfileListBody { profile_list: items }, count, left_out)
}

fn item(profile: &Profile, left_out: &mut Vec<String>) -> Option<ProfileListItem> {
    let uuid = profile.uuid.clone()?;
    let content = match profile.payloads.iter().map(payload).collect::<Option<Vec<_>>>() {
        Some(content) if content.is_empty() => None,
        Some(content) => Some(content),
        None => {
            left_out.push(format!(
                "profile {}: its payload list, as a payload's type, version, identifier or UUID is unknown",
                profile.identifier
            ));
            None
        }
    };
    Some(ProfileListItem {
        uuid,
        identifier: profile.identifier.clone(),
        version: profile.version,
        display_name: profile.display_name.clone(),
        organization: profile.organization.clone(),
        description: profile.description.clone(),
        removal_disallowed: profile.removal_disallowed,
        content,
    })
}

fn payload(payload: &Payload) -> Option<PayloadContentItem> {
    Some(PayloadContentItem {
        payload_type: payload.payload_type.clone(),
        version: payload.version?,
        identifier: payload.identifier.clone()?,
        uuid: payload.uuid.clone()?,
        display_name: payload.display_name.clone(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn payload(payload_type: &str, version: Option<i64>) -> Payload {
        Payload {
            payload_type: payload_type.into(),
            identifier: Some(format!("{payload_type}.1")),
            display_name: None,
            uuid: Some("P-UUID".into()),
            version,
        }
    }

    fn profile(identifier: &str, scope: &str, uuid: Option<&str>, payloads: Vec<Payload>) -> Profile {
        Profile {
            identifier: identifier.into(),
            uuid: uuid.map(Into::into),
            scope: scope.into(),
            payloads,
            ..Profile::default()
        }
    }

    #[test]
    fn device_profiles_are_listed_with_what_is_known_of_them() {
        let inventory = Inventory {
            profiles: vec![
                Profile {
                    version: Some(3),
                    display_name: Some("Wi-Fi".into()),
                    removal_disallowed: true,
                    ..profile(
                        "com.example.wifi",
                        "system",
                        Some("UUID-1"),
                        vec![payload("com.apple.wifi.managed", Some(1))],
                    )
                },
                profile("com.example.mail", "jane", Some("UUID-2"), vec![]),
                profile("com.example.no-uuid", "system", None, vec![]),
                profile("com.example.odd", "system", Some("UUID-3"), vec![payload("com.apple.mdm", None)]),
            ],
            ..Inventory::default()
        };
        let built = build(&inventory);
        assert_eq!(
            serde_json::Value::Object(built.keys),
            json!({ "ProfileList": [
                { "PayloadUUID": "UUID-1", "PayloadIdentifier": "com.example.wifi", "PayloadVersion": 3,
                  "PayloadDisplayName": "Wi-Fi", "PayloadRemovalDisallowed": true,
                  "PayloadContent": [ { "PayloadType": "com.apple.wifi.managed", "PayloadVersion": 1,
                                        "PayloadIdentifier": "com.apple.wifi.managed.1", "PayloadUUID": "P-UUID" } ] },
                { "PayloadUUID": "UUID-3", "PayloadIdentifier": "com.example.odd", "PayloadRemovalDisallowed": false }
            ]})
        );
        assert_eq!(built.count, 2);
        assert_eq!(
            built.left_out,
            [
                "profile com.example.no-uuid: its PayloadUUID is unknown",
                "profile com.example.odd: its payload list, as a payload's type, version, identifier or UUID is unknown"
            ]
        );
    }
}
