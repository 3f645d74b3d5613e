//! The `parameters` object: typed settings, every problem at once with its key path.

use std::path::Path;

use serde_json::{Value, json};

use super::*;
use crate::blueprint::document::Problems;

/// Resolves `parameters`; the typed value, or every error as `key: message`.
fn check(parameters: Value) -> Result<(Parameters, Vec<String>), Vec<String>> {
    let mut problems = Problems::new(Path::new("/bp.json"));
    let object = parameters.as_object().expect("an object").clone();
    let resolved = resolve(&object, "parameters", &mut problems);
    problems
        .finish(resolved)
        .map_err(|errors| errors.0.iter().map(|error| format!("{}: {}", error.key, error.message)).collect::<Vec<_>>())
}

fn path(text: &str) -> DevicePath {
    DevicePath::parse(text).unwrap()
}

#[test]
fn every_parameter_resolves_to_its_typed_settings() {
    let (parameters, warnings) = check(json!({
        "secure_home_folders": true,
        "folder_permissions": { "folders": ["/Applications", "/Library/Application Support/"], "fix": false },
        "managed_files": [
            { "path": "/etc/motd", "content": "hello\n", "mode": "0644", "owner": "root", "group": 0 },
            { "path": "/usr/local/bin/tool", "content_base64": "AAEC", "owner": "501" },
            { "path": "/etc/empty", "content": "" }
        ],
        "managed_plists": [
            { "path": "/Library/Preferences/com.example.plist", "key": "AutoUpdate", "value": true },
            { "path": "/Library/Preferences/com.example.plist", "key": "Servers", "format": "binary",
              "value": { "List": ["a", 2, 2.5], "Since": { "$date": "2024-05-01T00:00:00Z" }, "Blob": { "$data": "AAE=" } } }
        ]
    }))
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(parameters.secure_home_folders);
    let folders = parameters.folder_permissions.unwrap();
    assert_eq!(folders.folders, vec![path("/Applications"), path("/Library/Application Support")]);
    assert!(!folders.fix);
    let defaults = (folder_permissions::DEFAULT_MAX_DEPTH, folder_permissions::DEFAULT_MAX_ENTRIES);
    assert_eq!((folders.max_depth, folders.max_entries), defaults);
    let files = &parameters.managed_files;
    assert_eq!(files[0].mode, Some(0o644));
    assert_eq!(files[0].owner, Some(Account::Name("root".into())));
    assert_eq!(files[0].group, Some(Account::Id(0)));
    assert_eq!(files[1].content, vec![0, 1, 2]);
    assert_eq!((files[1].mode, files[1].owner.clone()), (None, Some(Account::Id(501))));
    assert!(files[2].content.is_empty(), "an empty file is a valid declaration");
    let plists = &parameters.managed_plists;
    assert_eq!(plists[0].value, plist::Value::Boolean(true));
    assert_eq!(plists[1].format, Some(PlistFormat::Binary));
    let servers = plists[1].value.as_dictionary().unwrap();
    let list = servers.get("List").and_then(plist::Value::as_array).unwrap();
    assert_eq!(list, &vec![plist::Value::from("a"), plist::Value::from(2_i64), plist::Value::Real(2.5)]);
    assert!(servers.get("Since").and_then(plist::Value::as_date).is_some());
    assert_eq!(servers.get("Blob").and_then(plist::Value::as_data), Some(&[0_u8, 1][..]));
}

#[test]
fn switches_turn_parameters_on_and_off() {
    let cases = [
        (json!({}), false, false),
        (json!({ "secure_home_folders": false, "folder_permissions": false }), false, false),
        (json!({ "secure_home_folders": true, "folder_permissions": true }), true, true),
        (json!({ "folder_permissions": {} }), false, true),
    ];
    for (parameters, homes, folders) in cases {
        let (resolved, _) = check(parameters.clone()).unwrap();
        assert_eq!(resolved.secure_home_folders, homes, "{parameters}");
        assert_eq!(resolved.folder_permissions.is_some(), folders, "{parameters}");
    }
    let (defaults, _) = check(json!({ "folder_permissions": true })).unwrap();
    let defaults = defaults.folder_permissions.unwrap();
    assert_eq!(defaults.folders, vec![path("/Applications"), path("/System/Volumes/Data/System")]);
    assert!(defaults.fix, "fixing is on unless turned off");
}

#[test]
fn every_problem_is_reported_at_once_with_its_key_path() {
    let errors = check(json!({
        "secure_home_folders": "yes",
        "folder_permissions": { "folders": ["Applications", 3], "fix": "no", "max_depth": 0, "max_entries": -1 },
        "managed_files": [
            { "path": "/etc/motd", "content": "x" },
            { "path": "/etc/../etc/passwd", "content": "x" },
            { "path": "/etc/a", "content": "x", "mode": "0x644", "owner": "", "group": 1.5 },
            { "path": "/etc/motd", "content": 7 },
            { "path": "/etc/b", "content": "x", "content_base64": "eA==" },
            { "path": "/etc/c", "content_base64": "not base64!" },
            { "path": "/etc/d", "mode": 644 },
            "text"
        ],
        "managed_plists": [
            { "path": "/Library/Preferences/a.plist", "key": "K", "value": null, "format": "json" },
            { "path": "relative.plist", "value": { "$date": "yesterday" } },
            { "path": "/Library/Preferences/b.plist", "key": "K", "value": [1, { "$data": 5 }] },
            { "path": "/Library/Preferences/b.plist", "key": "K", "value": 1 },
            { "path": "/Library/Preferences/c.plist", "key": "A", "value": 1, "format": "xml" },
            { "path": "/Library/Preferences/c.plist", "key": "B", "value": 1, "format": "binary" }
        ]
    }))
    .unwrap_err();
    let expected = [
        "parameters.secure_home_folders: expected true or false",
        "parameters.folder_permissions.folders[0]: \"Applications\" is not an absolute path",
        "parameters.folder_permissions.folders[1]: expected a path, found the number 3",
        "parameters.folder_permissions.fix: expected true or false",
        "parameters.folder_permissions.max_depth: expected a whole number from 1",
        "parameters.folder_permissions.max_entries: expected a whole number from 1",
        "parameters.managed_files[1].path: \"/etc/../etc/passwd\" must not contain \"..\"",
        "parameters.managed_files[2].mode: \"0x644\" is not an octal mode",
        "parameters.managed_files[2].owner: must not be empty",
        "parameters.managed_files[2].group: 1.5 is not a user or group id",
        "parameters.managed_files[3].content: expected a string, found the number 7",
        "parameters.managed_files[4].content_base64: give either content or content_base64",
        "parameters.managed_files[5].content_base64: not valid base64",
        "parameters.managed_files[6].content: is required",
        "parameters.managed_files[6].mode: expected an octal string such as \"0644\", found the number 644",
        "parameters.managed_files[7]: expected an object",
        "parameters.managed_plists[0].value: null has no plist form",
        "parameters.managed_plists[0].format: unknown format \"json\"",
        "parameters.managed_plists[1].path: \"relative.plist\" is not an absolute path",
        "parameters.managed_plists[1].key: is required",
        "parameters.managed_plists[1].value.$date: expected a UTC date",
        "parameters.managed_plists[2].value[1].$data: expected base64 text",
        "parameters.managed_plists[5].format: /Library/Preferences/c.plist is declared as xml by parameters.managed_plists[4]",
    ];
    for fragment in expected {
        assert!(errors.iter().any(|error| error.starts_with(fragment)), "{fragment:?} missing from {errors:#?}");
    }
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
}

#[test]
fn duplicates_are_refused_naming_the_first_declaration() {
    let errors = check(json!({
        "managed_files": [
            { "path": "/etc/motd", "content": "a" },
            { "path": "/etc//motd/", "content": "b" }
        ],
        "managed_plists": [
            { "path": "/Library/Preferences/b.plist", "key": "K", "value": 1 },
            { "path": "/Library/Preferences/b.plist", "key": "K", "value": 2 }
        ]
    }))
    .unwrap_err();
    assert_eq!(
        errors,
        vec![
            "parameters.managed_files[1].path: /etc/motd is already declared by parameters.managed_files[0]",
            "parameters.managed_plists[1].key: key \"K\" of /Library/Preferences/b.plist is already declared by parameters.managed_plists[0]",
        ]
    );
}

#[test]
fn unknown_keys_are_warnings_naming_their_path() {
    let (_, warnings) = check(json!({
        "screen_saver": true,
        "folder_permissions": { "follow_symlinks": true },
        "managed_files": [{ "path": "/etc/motd", "content": "", "checksum": "x" }],
        "managed_plists": [{ "path": "/a.plist", "key": "K", "value": 1, "domain": "x" }]
    }))
    .unwrap();
    let expected = [
        "parameters.screen_saver",
        "parameters.folder_permissions.follow_symlinks",
        "parameters.managed_files[0].checksum",
        "parameters.managed_plists[0].domain",
    ];
    assert_eq!(warnings.len(), expected.len(), "{warnings:#?}");
    for (warning, key) in warnings.iter().zip(expected) {
        assert!(warning.contains(&format!("key {key:?}: unknown key")), "{warning}");
    }
}

#[test]
fn json_numbers_keep_their_plist_type() {
    let cases = [
        (json!(1), plist::Value::from(1_i64)),
        (json!(-3), plist::Value::from(-3_i64)),
        (json!(u64::MAX), plist::Value::from(u64::MAX)),
        (json!(1.0), plist::Value::Real(1.0)),
        (json!(2.5e3), plist::Value::Real(2500.0)),
        (json!("1"), plist::Value::from("1")),
        (json!({}), plist::Value::Dictionary(plist::Dictionary::new())),
        (json!({ "$date": "x", "other": 1 }), dictionary(&[("$date", "x".into()), ("other", 1_i64.into())])),
    ];
    for (value, expected) in cases {
        let mut problems = Problems::new(Path::new("/bp.json"));
        let converted = managed_plist::to_plist(&value, "value", &mut problems);
        assert_eq!(converted, Some(expected), "{value}");
    }
}

fn dictionary(entries: &[(&str, plist::Value)]) -> plist::Value {
    plist::Value::Dictionary(entries.iter().map(|(key, value)| (key.to_string(), value.clone())).collect())
}

#[test]
fn special_modes_need_the_entry_to_allow_them() {
    let errors = check(json!({
        "managed_files": [
            { "path": "/usr/local/bin/a", "content": "x", "mode": "4755" },
            { "path": "/usr/local/bin/b", "content": "x", "mode": "4755", "allow_special_modes": true },
            { "path": "/etc/c", "content": "x", "mode": "0666", "allow_special_modes": false },
            { "path": "/etc/d", "content": "x", "mode": "1777", "allow_special_modes": "yes" },
            { "path": "/etc/e", "content": "x", "mode": "0775" }
        ]
    }))
    .unwrap_err();
    let expected = [
        "parameters.managed_files[0].mode: 4755 has the set-user-id bit; set allow_special_modes: true",
        "parameters.managed_files[2].mode: 0666 has the world-write bit",
        "parameters.managed_files[3].allow_special_modes: expected true or false",
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:?}");
    for (error, fragment) in errors.iter().zip(expected) {
        assert!(error.contains(fragment), "{error} should contain {fragment}");
    }
    let (parameters, _) = check(json!({
        "managed_files": [{ "path": "/usr/local/bin/b", "content": "x", "mode": "6755", "allow_special_modes": true }]
    }))
    .unwrap();
    assert_eq!(parameters.managed_files[0].mode, Some(0o6755));
}
