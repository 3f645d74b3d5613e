//! Reading `profiles -C -o stdout-xml`: the installed configuration profiles.
//!
//! The output is an XML property list: a dictionary whose `_computerlevel` key
//! holds the device profiles and whose other keys (user names) hold each user's,
//! every profile a dictionary of `Profile…` keys with its payloads under
//! `ProfileItems`. With no profile installed it is an empty `<dict/>`.
//! `ProfileRemovalDisallowed` is written as the string `true` or `false` (a real
//! `<true/>` is read too), `ProfileInstallDate` as `2024-05-01 09:30:12 +0000`.
//! Payload contents (Wi-Fi passwords, SCEP challenges) are never kept.

use chrono::{DateTime, Utc};

use super::model::{Payload, Profile};
use super::parse_error::{ParseError, read_plist};

const TOOL: &str = "profiles -C -o stdout-xml";

/// The key of device profiles; every other key is a user name.
const COMPUTER_LEVEL: &str = "_computerlevel";

/// The payload type that makes a profile the MDM enrollment profile.
pub(crate) const MDM_PAYLOAD_TYPE: &str = "com.apple.mdm";

/// Reads the output of `profiles -C -o stdout-xml`: device profiles first, then
/// each user's, in the order printed.
pub(crate) fn parse_profiles(output: &str) -> Result<Vec<Profile>, ParseError> {
    let value = read_plist(TOOL, output)?;
    let scopes = value
        .as_dictionary()
        .ok_or_else(|| ParseError::Layout { tool: TOOL, problem: "a property list that is not a dictionary".into() })?;
    let mut ordered: Vec<(&String, &plist::Value)> = scopes.iter().collect();
    ordered.sort_by_key(|(scope, _)| scope.as_str() != COMPUTER_LEVEL);
    let mut profiles = Vec::new();
    for (scope, list) in ordered {
        let scope = if scope == COMPUTER_LEVEL { "system" } else { scope.as_str() };
        let entries = list.as_array().map(Vec::as_slice).unwrap_or_default();
        profiles
            .extend(entries.iter().filter_map(plist::Value::as_dictionary).filter_map(|entry| profile(entry, scope)));
    }
    Ok(profiles)
}

/// One profile; `None` without a `ProfileIdentifier`, which every real one has.
fn profile(entry: &plist::Dictionary, scope: &str) -> Option<Profile> {
    let payloads = entry.get("ProfileItems").and_then(plist::Value::as_array).map(Vec::as_slice).unwrap_or_default();
    Some(Profile {
        identifier: text(entry, "ProfileIdentifier")?,
        display_name: text(entry, "ProfileDisplayName"),
        uuid: text(entry, "ProfileUUID"),
        version: entry.get("ProfileVersion").and_then(plist::Value::as_signed_integer),
        organization: text(entry, "ProfileOrganization"),
        description: text(entry, "ProfileDescription"),
        removal_disallowed: entry.get("ProfileRemovalDisallowed").is_some_and(is_true),
        install_date: text(entry, "ProfileInstallDate").as_deref().and_then(install_date),
        verification_state: text(entry, "ProfileVerificationState"),
        scope: scope.to_string(),
        payloads: payloads.iter().filter_map(plist::Value::as_dictionary).filter_map(payload).collect(),
    })
}

fn payload(entry: &plist::Dictionary) -> Option<Payload> {
    Some(Payload {
        payload_type: text(entry, "PayloadType")?,
        identifier: text(entry, "PayloadIdentifier"),
        display_name: text(entry, "PayloadDisplayName"),
        uuid: text(entry, "PayloadUUID"),
        version: entry.get("PayloadVersion").and_then(plist::Value::as_signed_integer),
    })
}

fn text(dictionary: &plist::Dictionary, key: &str) -> Option<String> {
    let value = dictionary.get(key)?.as_string()?.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// `<true/>`, or the string `true` as `profiles` writes it.
fn is_true(value: &plist::Value) -> bool {
    value.as_boolean().unwrap_or_else(|| value.as_string().is_some_and(|text| text.trim().eq_ignore_ascii_case("true")))
}

/// `2024-05-01 09:30:12 +0000`.
fn install_date(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S %z").ok().map(|date| date.with_timezone(&Utc))
}

/// The profile that enrolled the device in its MDM, if one is installed.
pub(crate) fn mdm_profile(profiles: &[Profile]) -> Option<&Profile> {
    profiles.iter().find(|profile| profile.payloads.iter().any(|payload| payload.payload_type == MDM_PAYLOAD_TYPE))
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPUTER: &str = include_str!("../../tests/fixtures/inventory/profiles-computer.xml");
    const NONE: &str = include_str!("../../tests/fixtures/inventory/profiles-none.xml");

    #[test]
    fn device_profiles_come_first_with_their_payload_types() {
        let profiles = parse_profiles(COMPUTER).unwrap();
        let summary: Vec<_> = profiles
            .iter()
            .map(|profile| {
                let types: Vec<_> = profile.payloads.iter().map(|payload| payload.payload_type.as_str()).collect();
                (profile.identifier.as_str(), profile.scope.as_str(), profile.removal_disallowed, types)
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("com.example.mdm.enrollment", "system", true, vec!["com.apple.security.scep", "com.apple.mdm"]),
                ("com.example.wifi", "system", false, vec!["com.apple.wifi.managed"]),
                ("com.example.mail.jane", "jane", true, vec!["com.apple.mail.managed"]),
            ]
        );
        let mdm = mdm_profile(&profiles).unwrap();
        assert_eq!(mdm.display_name.as_deref(), Some("MDM Profile"));
        assert_eq!(mdm.uuid.as_deref(), Some("5ACABE91-CE30-4C05-93E3-B235C152404E"));
        assert_eq!((mdm.version, mdm.organization.as_deref()), (Some(1), Some("Example Corp")));
        assert_eq!(mdm.install_date.map(|date| date.to_rfc3339()), Some("2024-05-01T09:30:12+00:00".into()));
        assert_eq!(mdm.verification_state.as_deref(), Some("verified"));
        assert_eq!(mdm.payloads[1].uuid.as_deref(), Some("29713130-1602-4D27-90C9-B822A295E44E"));
        assert_eq!(mdm.payloads[1].version, Some(1));
        assert_eq!(profiles[2].payloads[0].version, None, "the mail payload has no PayloadVersion");
        assert!(!format!("{profiles:?}").contains("Example-Office"), "payload contents are never kept");
        let mail = &profiles[2];
        assert_eq!((mail.install_date, mail.version, mail.organization.as_deref()), (None, None, None));
    }

    #[test]
    fn no_profiles_is_an_empty_list_and_garbage_an_error() {
        assert_eq!(parse_profiles(NONE).unwrap(), []);
        assert_eq!(mdm_profile(&[]), None);
        let error = parse_profiles("profiles: this command requires root\n").unwrap_err();
        assert_eq!(error.to_string(), "profiles -C -o stdout-xml printed no property list");
        let array = parse_profiles("<plist version=\"1.0\"><array/></plist>").unwrap_err();
        assert_eq!(array.to_string(), "profiles -C -o stdout-xml printed a property list that is not a dictionary");
    }

    #[test]
    fn a_profile_without_identifier_or_payload_type_is_left_out() {
        let odd = COMPUTER
            .replace("<key>ProfileIdentifier</key>\n\t\t\t<string>com.example.wifi</string>", "")
            .replace("<key>PayloadType</key>\n\t\t\t\t\t<string>com.apple.security.scep</string>", "");
        let profiles = parse_profiles(&odd).unwrap();
        let identifiers: Vec<_> = profiles.iter().map(|profile| profile.identifier.as_str()).collect();
        assert_eq!(identifiers, ["com.example.mdm.enrollment", "com.example.mail.jane"]);
        assert_eq!(profiles[0].payloads.len(), 1);
        assert_eq!(install_date("yesterday"), None);
    }
}
