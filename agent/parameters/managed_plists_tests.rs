//! Managed plist keys on a scratch root: XML and binary files, other keys kept,
//! unreadable files left alone.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::*;
use crate::state::ItemStatus;

const PLIST: &str = "/Library/Preferences/com.example.app.plist";

fn key(name: &str, value: impl Into<plist::Value>) -> ManagedPlistKey {
    ManagedPlistKey { path: DevicePath::parse(PLIST).unwrap(), key: name.into(), value: value.into(), format: None }
}

fn dictionary(entries: &[(&str, plist::Value)]) -> plist::Dictionary {
    entries.iter().map(|(name, value)| (name.to_string(), value.clone())).collect()
}

/// Where the managed plist lies under `root`, its folder made.
fn plist_path(root: &Path) -> std::path::PathBuf {
    let path = root.join(PLIST.trim_start_matches('/'));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    path
}

fn write_plist(root: &Path, entries: &[(&str, plist::Value)], format: PlistFormat) {
    let path = plist_path(root);
    let value = plist::Value::Dictionary(dictionary(entries));
    match format {
        PlistFormat::Xml => value.to_file_xml(&path).unwrap(),
        PlistFormat::Binary => value.to_file_binary(&path).unwrap(),
    }
}

fn write_raw(root: &Path, bytes: &[u8]) {
    let path = plist_path(root);
    std::fs::write(path, bytes).unwrap();
}

fn read_back(root: &Path) -> (Vec<u8>, plist::Dictionary) {
    let bytes = std::fs::read(root.join(PLIST.trim_start_matches('/'))).unwrap();
    let value = plist::Value::from_reader(std::io::Cursor::new(&bytes)).unwrap();
    (bytes, value.into_dictionary().unwrap())
}

struct Case {
    prepare: fn(&Path),
    keys: Vec<ManagedPlistKey>,
    message: &'static str,
    status: ItemStatus,
    reapplied: u32,
}

#[test]
fn each_key_is_read_back_and_set_only_where_it_drifted() {
    let cases = [
        Case {
            prepare: |_| {},
            keys: vec![key("AutoUpdate", true)],
            message: "re-applied 1 of 1 key: /Library/Preferences/com.example.app.plist AutoUpdate (file missing)",
            status: ItemStatus::Succeeded,
            reapplied: 1,
        },
        Case {
            prepare: |root| write_plist(root, &[("AutoUpdate", true.into())], PlistFormat::Xml),
            keys: vec![key("AutoUpdate", true)],
            message: "compliant: 1 key as declared",
            status: ItemStatus::Succeeded,
            reapplied: 0,
        },
        Case {
            prepare: |root| {
                write_plist(root, &[("Other", "kept".into()), ("AutoUpdate", false.into())], PlistFormat::Xml)
            },
            keys: vec![key("AutoUpdate", true), key("Interval", 3_i64)],
            message: "re-applied 2 of 2 keys: /Library/Preferences/com.example.app.plist AutoUpdate (was false), /Library/Preferences/com.example.app.plist Interval (missing)",
            status: ItemStatus::Succeeded,
            reapplied: 2,
        },
        Case {
            prepare: |root| write_plist(root, &[("Interval", plist::Value::Real(3.0))], PlistFormat::Binary),
            keys: vec![key("Interval", 3_i64)],
            message: "re-applied 1 of 1 key: /Library/Preferences/com.example.app.plist Interval (was 3.0)",
            status: ItemStatus::Succeeded,
            reapplied: 1,
        },
        Case {
            prepare: |root| write_raw(root, b""),
            keys: vec![key("AutoUpdate", true)],
            message: "re-applied 1 of 1 key: /Library/Preferences/com.example.app.plist AutoUpdate (missing)",
            status: ItemStatus::Succeeded,
            reapplied: 1,
        },
        Case {
            prepare: |root| write_raw(root, b"<?xml version=\"1.0\"?><plist><dict><key>A</key>"),
            keys: vec![key("AutoUpdate", true), key("Other", 1_i64)],
            message: "failed 2 of 2 keys: /Library/Preferences/com.example.app.plist: is not a valid plist",
            status: ItemStatus::Failed,
            reapplied: 0,
        },
        Case {
            prepare: |root| {
                plist::Value::Array(vec![1_i64.into()]).to_file_xml(plist_path(root)).unwrap();
            },
            keys: vec![key("AutoUpdate", true)],
            message: "failed 1 of 1 key: /Library/Preferences/com.example.app.plist: holds an array of 1 at its top level, not a dictionary; left untouched",
            status: ItemStatus::Failed,
            reapplied: 0,
        },
        Case {
            prepare: |root| {
                std::os::unix::fs::symlink("/etc/hostname", plist_path(root)).unwrap();
            },
            keys: vec![key("AutoUpdate", true)],
            message: "failed 1 of 1 key: /Library/Preferences/com.example.app.plist: is a symbolic link; left untouched",
            status: ItemStatus::Failed,
            reapplied: 0,
        },
    ];
    for case in cases {
        let scratch = tempfile::tempdir().unwrap();
        (case.prepare)(scratch.path());
        let before = std::fs::read(scratch.path().join(PLIST.trim_start_matches('/'))).ok();
        let report = enforce(&case.keys, scratch.path());
        assert!(report.report.message.starts_with(case.message), "{}\nwant {}", report.report.message, case.message);
        assert_eq!(report.report.status, case.status, "{}", case.message);
        assert_eq!(report.reapplied, case.reapplied, "{}", case.message);
        if case.status == ItemStatus::Failed {
            let after = std::fs::read(scratch.path().join(PLIST.trim_start_matches('/'))).ok();
            assert_eq!(before, after, "a failed file is left as it was: {}", case.message);
            continue;
        }
        let (_, written) = read_back(scratch.path());
        for entry in &case.keys {
            assert_eq!(written.get(&entry.key), Some(&entry.value), "{}", case.message);
        }
    }
}

#[test]
fn other_keys_their_order_and_the_binary_format_are_kept() {
    let scratch = tempfile::tempdir().unwrap();
    let entries = [("Zeta", plist::Value::from("z")), ("AutoUpdate", false.into()), ("Alpha", 1_i64.into())];
    write_plist(scratch.path(), &entries, PlistFormat::Binary);
    let path = scratch.path().join(PLIST.trim_start_matches('/'));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let report = enforce(&[key("AutoUpdate", true)], scratch.path());
    assert_eq!(report.reapplied, 1);
    let (bytes, written) = read_back(scratch.path());
    assert!(bytes.starts_with(b"bplist00"), "a binary plist stays binary");
    let names: Vec<&String> = written.keys().collect();
    assert_eq!(names, ["Zeta", "AutoUpdate", "Alpha"]);
    assert_eq!(written.get("Zeta"), Some(&plist::Value::from("z")));
    assert_eq!(written.get("AutoUpdate"), Some(&plist::Value::Boolean(true)));
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o7777, 0o600, "the file keeps its mode");
}

#[test]
fn a_new_file_takes_the_declared_format_and_an_existing_one_keeps_its_own() {
    let scratch = tempfile::tempdir().unwrap();
    let binary = ManagedPlistKey { format: Some(PlistFormat::Binary), ..key("AutoUpdate", true) };
    enforce(std::slice::from_ref(&binary), scratch.path());
    let (bytes, _) = read_back(scratch.path());
    assert!(bytes.starts_with(b"bplist00"));
    let path = scratch.path().join(PLIST.trim_start_matches('/'));
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o7777, 0o644);

    write_plist(scratch.path(), &[("AutoUpdate", false.into())], PlistFormat::Xml);
    enforce(&[binary], scratch.path());
    let (bytes, written) = read_back(scratch.path());
    assert!(bytes.starts_with(b"<?xml"), "an existing XML plist stays XML");
    assert_eq!(written.get("AutoUpdate"), Some(&plist::Value::Boolean(true)));
}

#[test]
fn a_compliant_plist_is_not_rewritten() {
    let scratch = tempfile::tempdir().unwrap();
    let nested =
        plist::Value::Dictionary(dictionary(&[("b", 2_i64.into()), ("a", vec![plist::Value::from("x")].into())]));
    write_plist(scratch.path(), &[("Nested", nested.clone()), ("Other", true.into())], PlistFormat::Xml);
    let path = scratch.path().join(PLIST.trim_start_matches('/'));
    let before = std::fs::metadata(&path).unwrap();
    // The same dictionary with its keys in another order is the same value.
    let declared =
        plist::Value::Dictionary(dictionary(&[("a", vec![plist::Value::from("x")].into()), ("b", 2_i64.into())]));
    let report = enforce(&[key("Nested", declared)], scratch.path());
    assert_eq!(report.report.message, "compliant: 1 key as declared");
    let after = std::fs::metadata(&path).unwrap();
    assert_eq!((before.ino(), before.mtime_nsec()), (after.ino(), after.mtime_nsec()));
}

#[test]
fn values_are_described_briefly() {
    let long = "x".repeat(50);
    let cases = [
        (plist::Value::Boolean(false), "false".to_string()),
        (plist::Value::from(-4_i64), "-4".into()),
        (plist::Value::Real(2.5), "2.5".into()),
        (plist::Value::from("on"), "\"on\"".into()),
        (plist::Value::from(long.as_str()), format!("\"{}\"…", "x".repeat(40))),
        (plist::Value::Data(vec![1, 2]), "2 bytes of data".into()),
        (plist::Value::Array(vec![]), "an array of 0".into()),
    ];
    for (value, expected) in cases {
        assert_eq!(describe(&value), expected);
    }
}
