//! Managed OS keys: what resolves, and every problem with its key path.

use std::path::Path;
use std::time::Duration;

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

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

#[test]
fn the_notice_keys_resolve_with_their_defaults() {
    let defaults = resolved(json!({ "minimum_version": "15.1" }));
    assert_eq!(defaults.notify_before, Duration::from_secs(5 * DAY));
    assert_eq!(defaults.restart_countdown, Duration::from_secs(60 * MINUTE));
    assert_eq!(defaults.max_deferrals, 3);
    let nulls = resolved(
        json!({ "minimum_version": "15.1", "notify_before": null, "restart_countdown": null, "max_deferrals": null }),
    );
    assert_eq!((nulls.notify_before, nulls.restart_countdown, nulls.max_deferrals), (
        defaults.notify_before,
        defaults.restart_countdown,
        defaults.max_deferrals
    ));
    // (notify_before, restart_countdown, max_deferrals) as written, and as resolved.
    let cases = [
        (json!("5d"), json!("90m"), json!(0), 5 * DAY, 90 * MINUTE, 0),
        (json!("12h"), json!("30s"), json!(100), 12 * HOUR, 30, 100),
        (json!("0s"), json!("1s"), json!(1), 0, 1, 1),
        (json!(0), json!(86_400), json!(7), 0, DAY, 7),
        (json!("365d"), json!("24h"), json!(3), 365 * DAY, DAY, 3),
        (json!(" 1d 12h "), json!("1h 30m"), json!(2), DAY + 12 * HOUR, 90 * MINUTE, 2),
    ];
    for (notify_before, restart_countdown, max_deferrals, notify_seconds, countdown_seconds, deferrals) in cases {
        let keys = json!({
            "minimum_version": "15.1", "notify_before": notify_before,
            "restart_countdown": restart_countdown, "max_deferrals": max_deferrals,
        });
        let settings = resolved(keys.clone());
        assert_eq!(settings.notify_before, Duration::from_secs(notify_seconds), "{keys}");
        assert_eq!(settings.restart_countdown, Duration::from_secs(countdown_seconds), "{keys}");
        assert_eq!(settings.max_deferrals, deferrals, "{keys}");
    }
}

#[test]
fn every_bad_notice_key_is_reported_with_its_path() {
    let cases: [(&str, Value, &str); 16] = [
        ("notify_before", json!("soon"), "expected a duration such as \"90s\" or \"12h\", found \"soon\""),
        ("notify_before", json!("366d"), "expected a duration from 0s to 365d, found \"366d\""),
        ("notify_before", json!("99999999999999999999d"), "expected a duration from 0s to 365d, found"),
        ("notify_before", json!(-5), "expected a duration from 0s to 365d, found -5"),
        ("notify_before", json!(true), "expected a duration such as \"90s\" or \"12h\", found true"),
        ("notify_before", json!(["5d"]), "expected a duration such as \"90s\" or \"12h\", found an array"),
        ("notify_before", json!(1.5), "expected a duration such as \"90s\" or \"12h\", found 1.5"),
        ("restart_countdown", json!("0s"), "expected a duration from 1s to 24h, found \"0s\""),
        ("restart_countdown", json!(0), "expected a duration from 1s to 24h, found 0"),
        ("restart_countdown", json!("25h"), "expected a duration from 1s to 24h, found \"25h\""),
        ("restart_countdown", json!("500ms"), "expected a duration from 1s to 24h, found \"500ms\""),
        ("restart_countdown", json!({}), "expected a duration such as \"90s\" or \"12h\", found an object"),
        ("max_deferrals", json!(101), "expected a whole number from 0 to 100, found the number 101"),
        ("max_deferrals", json!(-1), "expected a whole number from 0 to 100, found the number -1"),
        ("max_deferrals", json!(2.5), "expected a whole number from 0 to 100, found the number 2.5"),
        ("max_deferrals", json!("3"), "expected a whole number from 0 to 100, found the string \"3\""),
    ];
    for (field, value, expected) in cases {
        let keys = json!({ "minimum_version": "15.1", field: value.clone() });
        let errors: Vec<String> = match from_value(&with_item(keys.clone()), Path::new("bp.json")) {
            Ok(blueprint) => panic!("{keys} resolved: {blueprint:?}"),
            Err(errors) => errors.0.iter().map(|error| format!("{}: {}", error.key, error.message)).collect(),
        };
        let expected = format!("library_items[0].{field}: {expected}");
        assert_eq!(errors.len(), 1, "{errors:#?} for {keys}");
        assert!(errors[0].starts_with(&expected), "{expected:?} is not the start of {errors:#?}");
    }
}

#[test]
fn bad_notice_keys_are_reported_together() {
    let keys = json!({ "minimum_version": "15.1", "notify_before": "x", "restart_countdown": "2d", "max_deferrals": 1000 });
    let errors = match from_value(&with_item(keys), Path::new("bp.json")) {
        Ok(blueprint) => panic!("resolved: {blueprint:?}"),
        Err(errors) => errors.0.iter().map(|error| error.key.clone()).collect::<Vec<_>>(),
    };
    let expected = ["notify_before", "restart_countdown", "max_deferrals"].map(|field| format!("library_items[0].{field}"));
    assert_eq!(errors, expected);
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
