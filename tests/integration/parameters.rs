//! Blueprint parameters through the real binary: managed plists (XML and binary) and
//! files put back after hand edits, left alone when compliant, counted in drift;
//! home folders and world-writable entries fixed in the daily check-in only.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::{Device, code, text};

const XML_PLIST: &str = "/Library/Preferences/com.example.app.plist";
const BINARY_PLIST: &str = "/Library/Preferences/com.example.binary.plist";

/// A blueprint with these parameters and no library items.
fn with_parameters(parameters: Value) -> Value {
    json!({ "id": "bp-parameters", "name": "Parameters", "team_id": "T-1", "parameters": parameters })
}

fn under(device: &Device, device_path: &str) -> PathBuf {
    device.root().join(device_path.trim_start_matches('/'))
}

fn write_plist(path: &Path, entries: &[(&str, plist::Value)], binary: bool) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let value = plist::Value::Dictionary(entries.iter().map(|(key, value)| (key.to_string(), value.clone())).collect());
    if binary { value.to_file_binary(path).unwrap() } else { value.to_file_xml(path).unwrap() }
}

fn read_plist(path: &Path) -> plist::Dictionary {
    plist::Value::from_file(path).unwrap().into_dictionary().unwrap()
}

/// The parameter `id` of the status's last run.
fn parameter(status: &Value, id: &str) -> Value {
    status["last_run"]["parameters"]
        .as_array()
        .and_then(|parameters| parameters.iter().find(|parameter| parameter["id"] == id).cloned())
        .unwrap_or_else(|| panic!("no parameter {id:?} in {status:#}"))
}

fn message(parameter: &Value) -> String {
    parameter["message"].as_str().unwrap_or_default().to_string()
}

/// Inode and modification time: a rewrite changes at least one.
fn identity(path: &Path) -> (u64, i64, i64) {
    let metadata = std::fs::metadata(path).unwrap();
    (metadata.ino(), metadata.mtime(), metadata.mtime_nsec())
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn managed_plist_keys_changed_by_hand_are_restored_and_counted() {
    let device = Device::new();
    let (xml, binary) = (under(&device, XML_PLIST), under(&device, BINARY_PLIST));
    write_plist(&binary, &[("Keep", "me".into()), ("Interval", 60_i64.into())], true);
    let blueprint = device.write_blueprint(&with_parameters(json!({
        "managed_plists": [
            { "path": XML_PLIST, "key": "AutoUpdate", "value": true },
            { "path": XML_PLIST, "key": "Servers", "value": ["a.example.com", "b.example.com"] },
            { "path": BINARY_PLIST, "key": "Interval", "value": 15 }
        ]
    })));
    device.check_in_ok(&blueprint, &[]);
    let status = device.status();
    let plists = parameter(&status, "managed_plists");
    assert_eq!((plists["status"].as_str(), plists["type"].as_str()), (Some("succeeded"), Some("parameter")));
    assert!(message(&plists).starts_with("re-applied 3 of 3 keys"), "{plists}");
    assert_eq!(status["drift"]["reapplied"], 3);
    assert_eq!(read_plist(&binary).get("Keep"), Some(&plist::Value::from("me")));

    let before = (identity(&xml), identity(&binary));
    device.check_in_ok(&blueprint, &[]);
    let status = device.status();
    assert_eq!(message(&parameter(&status, "managed_plists")), "compliant: 3 keys as declared");
    assert_eq!(status["drift"]["reapplied"], 0);
    assert_eq!((identity(&xml), identity(&binary)), before, "compliant plists are not rewritten");

    let mut edited = read_plist(&xml);
    edited.insert("AutoUpdate".into(), false.into());
    edited.insert("AddedByHand".into(), "stays".into());
    plist::Value::Dictionary(edited).to_file_xml(&xml).unwrap();
    write_plist(&binary, &[("Keep", "me".into()), ("Interval", 60_i64.into())], true);
    device.check_in_ok(&blueprint, &[]);
    let status = device.status();
    let plists = parameter(&status, "managed_plists");
    assert_eq!(
        message(&plists),
        format!("re-applied 2 of 3 keys: {XML_PLIST} AutoUpdate (was false), {BINARY_PLIST} Interval (was 60)")
    );
    assert!(status["drift"]["reapplied"].as_u64().unwrap() >= 1);
    let restored = read_plist(&xml);
    assert_eq!(restored.get("AutoUpdate"), Some(&plist::Value::Boolean(true)));
    assert_eq!(restored.get("AddedByHand"), Some(&plist::Value::from("stays")), "other keys are untouched");
    assert!(std::fs::read(&binary).unwrap().starts_with(b"bplist00"), "a binary plist stays binary");
    assert_eq!(read_plist(&binary).get("Interval"), Some(&plist::Value::from(15_i64)));

    let shown = text(&device.run(&["status"]).stdout);
    assert!(shown.contains("Managed plists") && shown.contains("AutoUpdate (was false)"), "{shown}");
    let logs = text(&device.run(&["logs", "--item", "managed_plists"]).stdout);
    assert!(logs.contains("AutoUpdate (was false)"), "{logs}");
}

#[test]
fn an_unreadable_plist_fails_its_keys_and_is_left_untouched() {
    let device = Device::new();
    let xml = under(&device, XML_PLIST);
    std::fs::create_dir_all(xml.parent().unwrap()).unwrap();
    std::fs::write(&xml, "<?xml version=\"1.0\"?><plist><dict><key>half").unwrap();
    let blueprint = device.write_blueprint(&with_parameters(json!({
        "managed_plists": [{ "path": XML_PLIST, "key": "AutoUpdate", "value": true }]
    })));
    assert_eq!(code(&device.check_in(&blueprint, &[])), 1, "a failed parameter fails the run");
    let plists = parameter(&device.status(), "managed_plists");
    assert_eq!(plists["status"], "failed");
    assert!(message(&plists).contains("is not a valid plist"), "{plists}");
    assert_eq!(std::fs::read_to_string(&xml).unwrap(), "<?xml version=\"1.0\"?><plist><dict><key>half");
}

#[test]
fn a_deleted_managed_file_is_restored_with_its_mode_and_a_changed_mode_is_fixed() {
    let device = Device::new();
    let user = nix::unistd::User::from_uid(nix::unistd::geteuid()).unwrap().unwrap().name;
    let group = nix::unistd::Group::from_gid(nix::unistd::getegid()).unwrap().unwrap().name;
    let blueprint = device.write_blueprint(&with_parameters(json!({
        "managed_files": [
            { "path": "/etc/motd", "content": "Authorized use only.\n", "mode": "0640", "owner": user, "group": group },
            { "path": "/usr/local/bin/helper", "content_base64": "IyEvYmluL3NoCg==", "mode": "0755" }
        ]
    })));
    device.check_in_ok(&blueprint, &[]);
    let motd = under(&device, "/etc/motd");
    let helper = under(&device, "/usr/local/bin/helper");
    assert_eq!(std::fs::read_to_string(&motd).unwrap(), "Authorized use only.\n");
    assert_eq!((mode(&motd), mode(&helper)), (0o640, 0o755));
    assert_eq!(std::fs::read(&helper).unwrap(), b"#!/bin/sh\n");

    let before = identity(&motd);
    device.check_in_ok(&blueprint, &[]);
    let status = device.status();
    assert_eq!(message(&parameter(&status, "managed_files")), "compliant: 2 files as declared");
    assert_eq!(status["drift"]["reapplied"], 0);
    assert_eq!(identity(&motd), before, "a compliant file is not rewritten");

    std::fs::remove_file(&motd).unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o777)).unwrap();
    device.check_in_ok(&blueprint, &[]);
    let status = device.status();
    let files = parameter(&status, "managed_files");
    assert_eq!(
        message(&files),
        "re-applied 2 of 2 files: /etc/motd (missing), /usr/local/bin/helper (mode 0777 → 0755)"
    );
    assert_eq!(status["drift"]["reapplied"], 2);
    assert_eq!((mode(&motd), mode(&helper)), (0o640, 0o755));
    assert_eq!(std::fs::read_to_string(&motd).unwrap(), "Authorized use only.\n");
}

#[test]
fn home_folders_and_world_writable_entries_are_fixed_in_the_daily_check_in_only() {
    let device = Device::new();
    let open = |relative: &str, mode: u32| {
        let path = device.root().join(relative);
        std::fs::create_dir_all(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    };
    let alice = open("Users/alice", 0o755);
    let shared = open("Users/Shared", 0o1777);
    let app = open("Applications/Open.app", 0o777);
    let blueprint = device.write_blueprint(&with_parameters(json!({
        "secure_home_folders": true,
        "folder_permissions": { "folders": ["/Applications"] }
    })));

    device.check_in_ok(&blueprint, &[]);
    let status = device.status();
    assert_eq!(status["last_run"]["kind"], "daily");
    assert_eq!(
        message(&parameter(&status, "secure_home_folders")),
        "secured 1 of 1 home folder: /Users/alice (0755 → 0700)"
    );
    assert!(message(&parameter(&status, "folder_permissions")).starts_with("fixed 1 of "), "{status:#}");
    assert_eq!(status["drift"]["reapplied"], 2);
    assert_eq!((mode(&alice), mode(&shared), mode(&app)), (0o700, 0o1777, 0o775));

    std::fs::set_permissions(&alice, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&app, std::fs::Permissions::from_mode(0o777)).unwrap();
    device.check_in_ok(&blueprint, &[]);
    let status = device.status();
    assert_eq!(status["last_run"]["kind"], "recurring");
    for id in ["secure_home_folders", "folder_permissions"] {
        let skipped = parameter(&status, id);
        assert_eq!(skipped["status"], "skipped", "{skipped}");
        assert_eq!(message(&skipped), "runs in the daily check-in only");
    }
    assert_eq!(status["drift"]["reapplied"], 0);
    assert_eq!((mode(&alice), mode(&app)), (0o755, 0o777), "a recurring check-in leaves them alone");

    device.check_in_ok(&blueprint, &["--reset-daily"]);
    let status = device.status();
    assert_eq!(status["last_run"]["kind"], "daily");
    assert_eq!(status["drift"]["reapplied"], 2);
    assert_eq!((mode(&alice), mode(&app)), (0o700, 0o775));
}

#[test]
fn a_bad_mode_is_bad_input_naming_the_key_and_nothing_runs() {
    let device = Device::new();
    let blueprint = device.write_blueprint(&with_parameters(json!({
        "managed_files": [{ "path": "/etc/motd", "content": "x", "mode": "rw-r--r--" }],
        "managed_plists": [{ "path": "Library/Preferences/relative.plist", "key": "K", "value": 1 }]
    })));
    let output = device.check_in(&blueprint, &[]);
    assert_eq!(code(&output), 2, "{}", text(&output.stderr));
    let message = text(&output.stderr);
    for expected in
        ["parameters.managed_files[0].mode", "\"rw-r--r--\" is not an octal mode", "parameters.managed_plists[0].path"]
    {
        assert!(message.contains(expected), "{expected:?} missing from: {message}");
    }
    assert!(!device.root().join("etc/motd").exists());
    assert!(!device.state_dir().exists(), "no state may be created for bad input");
}
