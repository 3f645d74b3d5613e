//! Managed OS keys: what resolves, and every problem with its key path.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{InstallAction, ManagedOs};
use crate::blueprint::{ItemDetails, from_value};
use crate::operating_system::OsVersion;

fn with_item(keys: Value) -> Value {
    let mut item = json!({ "id": "li-os", "name": "macOS", "type": "managed_os" });
    item.as_object_mut().unwrap().extend(keys.as_object().unwrap().clone());
    json!({ "id": "bp", "library_items": [item] })
}

fn resolved(keys: Value) -> ManagedOs {
    let blueprint =
        from_value(&with_item(keys.clone()), Path::new("bp.json")).unwrap_or_else(|e| panic!("{keys}: {e}"));
    match &blueprint.library_items[0].details {
        ItemDetails::ManagedOs(settings) => settings.clone(),
        other => panic!("not a managed OS item: {other:?}"),
    }
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

#[test]
fn the_keys_resolve_with_their_defaults() {
    let cases = [
        (json!({ "minimum_version": "15.1" }), "15.1", None, InstallAction::InstallAndRestart),
        (
            json!({ "minimum_version": "14.7.2", "deadline": "2026-11-30", "install_action": "install" }),
            "14.7.2",
            Some("2026-12-01T00:00:00Z"),
            InstallAction::Install,
        ),
        (
            json!({ "minimum_version": "14", "deadline": "2026-11-30T17:00:00-08:00", "install_action": null }),
            "14",
            Some("2026-12-01T01:00:00Z"),
            InstallAction::InstallAndRestart,
        ),
        (
            json!({ "minimum_version": "13.7", "deadline": "2026-01-31T09:30:00Z", "install_action": "install_and_restart" }),
            "13.7",
            Some("2026-01-31T09:30:00Z"),
            InstallAction::InstallAndRestart,
        ),
    ];
    for (keys, minimum, deadline, action) in cases {
        let settings = resolved(keys.clone());
        assert_eq!(settings.minimum_version.as_str(), minimum, "{keys}");
        assert_eq!(settings.deadline, deadline.map(time), "{keys}");
        assert_eq!(settings.install_action, action, "{keys}");
    }
    assert_eq!(resolved(json!({ "minimum_version": "14.7" })).minimum_version, OsVersion::parse("14.7.0").unwrap());
}

#[test]
fn every_bad_key_is_reported_at_once_with_its_path() {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["library_items[0].minimum_version: is required"]),
        (
            json!({ "minimum_version": 14.10 }),
            vec!["library_items[0].minimum_version: expected a string such as \"15.1\", found the number 14.1"],
        ),
        (
            json!({ "minimum_version": "15.x", "deadline": "next week", "install_action": "reboot" }),
            vec![
                "library_items[0].minimum_version: \"15.x\" is not a version such as \"15.1\" or \"14.7.2\": part \"x\"",
                "library_items[0].deadline: \"next week\" is not a date",
                "library_items[0].install_action: unknown install action \"reboot\" (expected one of install_and_restart, install)",
            ],
        ),
        (
            json!({ "minimum_version": "", "deadline": 20261130, "install_action": true }),
            vec![
                "library_items[0].minimum_version: must not be empty",
                "library_items[0].deadline: expected a string, found the number 20261130",
                "library_items[0].install_action: expected a string, found true",
            ],
        ),
        (
            json!({ "minimum_version": "15.1", "deadline": "2026-02-30" }),
            vec!["library_items[0].deadline: \"2026-02-30\" is not a date"],
        ),
    ];
    for (keys, expected) in cases {
        let errors: Vec<String> = match from_value(&with_item(keys.clone()), Path::new("bp.json")) {
            Ok(blueprint) => panic!("{keys} resolved: {blueprint:?}"),
            Err(errors) => errors.0.iter().map(|error| format!("{}: {}", error.key, error.message)).collect(),
        };
        for fragment in &expected {
            assert!(errors.iter().any(|error| error.starts_with(fragment)), "{fragment:?} not in {errors:#?}");
        }
        assert_eq!(errors.len(), expected.len(), "{errors:#?} for {keys}");
    }
}

#[test]
fn unknown_keys_are_warnings() {
    let source = tempfile::tempdir().unwrap();
    let path = source.path().join("bp.json");
    std::fs::write(&path, with_item(json!({ "minimum_version": "15.1", "enforce_at": "noon" })).to_string()).unwrap();
    let loaded = crate::blueprint::load(&path).unwrap();
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(loaded.warnings[0].contains("library_items[0].enforce_at"), "{:?}", loaded.warnings);
}
