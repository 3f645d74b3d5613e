//! Apps whose item names a `team_id`: stand-ins for `pkgutil`, `codesign` and
//! `spctl` print the real tools' output (tests/fixtures/signatures); the right
//! team installs, and another team, no signature, an ad-hoc one or a missing
//! notarization install nothing and say what was found. The agent's own update
//! is held to the same checks with the team pinned in `self_update.team_id`
//! ([`self_update`]).

mod self_update;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::app_fixtures::{
    BUNDLE_ID, DITTO, HDIUTIL, INSTALLER, app_zip, applications_entries, auto_app, cache_dir, custom_app,
    installed_app, installed_version, recorded, sha256, stand_in, tar_of, write_app,
};
use crate::http_server::FileServer;
use crate::support::{Device, blueprint, code, item};

/// The team every signed test item requires.
const TEAM: &str = "ABCDE12345";

/// What one fixture is: its text and the exit code the real tool gives with it.
pub(crate) struct Printed {
    /// What the tool prints.
    text: &'static str,
    /// The code it exits with.
    exit: i32,
}

const PKG_SIGNED: Printed =
    Printed { text: include_str!("../fixtures/signatures/pkgutil-signed-notarized.txt"), exit: 0 };
const PKG_OTHER_TEAM: Printed =
    Printed { text: include_str!("../fixtures/signatures/pkgutil-signed-other-team.txt"), exit: 0 };
const PKG_UNSIGNED: Printed = Printed { text: include_str!("../fixtures/signatures/pkgutil-unsigned.txt"), exit: 1 };
const PKG_REVOKED: Printed = Printed { text: include_str!("../fixtures/signatures/pkgutil-revoked.txt"), exit: 1 };
const INSTALL_NOTARIZED: Printed =
    Printed { text: include_str!("../fixtures/signatures/spctl-install-notarized.txt"), exit: 0 };
const INSTALL_NOT_NOTARIZED: Printed =
    Printed { text: include_str!("../fixtures/signatures/spctl-install-not-notarized.txt"), exit: 3 };
const APP_SIGNED: Printed =
    Printed { text: include_str!("../fixtures/signatures/codesign-display-notarized.txt"), exit: 0 };
const APP_OTHER_TEAM: Printed =
    Printed { text: include_str!("../fixtures/signatures/codesign-display-other-team.txt"), exit: 0 };
const APP_ADHOC: Printed = Printed { text: include_str!("../fixtures/signatures/codesign-display-adhoc.txt"), exit: 0 };
const APP_UNSIGNED: Printed =
    Printed { text: include_str!("../fixtures/signatures/codesign-display-unsigned.txt"), exit: 1 };
const VERIFIED: Printed = Printed { text: "", exit: 0 };
const VERIFY_MODIFIED: Printed =
    Printed { text: include_str!("../fixtures/signatures/codesign-verify-modified.txt"), exit: 1 };
const EXECUTE_NOTARIZED: Printed =
    Printed { text: include_str!("../fixtures/signatures/spctl-execute-notarized.txt"), exit: 0 };
const EXECUTE_NOT_NOTARIZED: Printed =
    Printed { text: include_str!("../fixtures/signatures/spctl-execute-not-notarized.txt"), exit: 3 };

/// A stand-in body printing `printed` (to stderr when `to_stderr`, as `codesign -d` does).
fn prints(device: &Device, name: &str, printed: &Printed, to_stderr: bool) -> String {
    let file = device.write_file(&format!("tools/{name}.txt"), printed.text);
    let redirect = if to_stderr { " >&2" } else { "" };
    format!("cat '{}'{redirect}\nexit {}\n", file.display(), printed.exit)
}

/// Stand-ins for the three signature tools answering as given; the
/// `--set` flags pointing the agent at them and at the install tools.
fn signature_tools(
    device: &Device,
    pkgutil: &Printed,
    display: &Printed,
    verify: &Printed,
    spctl: &Printed,
) -> Vec<String> {
    let pkgutil = stand_in(device, "pkgutil", &prints(device, "pkgutil-output", pkgutil, false));
    let display_body = prints(device, "codesign-display", display, true);
    let verify_body = prints(device, "codesign-verify", verify, true);
    let codesign_body = format!("case \"$1\" in\n-dv) {display_body};;\n--verify) {verify_body};;\nesac\nexit 2\n");
    let codesign = stand_in(device, "codesign", &codesign_body);
    let spctl = stand_in(device, "spctl", &prints(device, "spctl-output", spctl, false));
    let installer = stand_in(device, "installer", INSTALLER);
    let hdiutil = stand_in(device, "hdiutil", HDIUTIL);
    let ditto = stand_in(device, "ditto", DITTO);
    let tools: [(&str, PathBuf); 6] = [
        ("pkgutil", pkgutil),
        ("codesign", codesign),
        ("spctl", spctl),
        ("installer", installer),
        ("hdiutil", hdiutil),
        ("ditto", ditto),
    ];
    tools.iter().flat_map(|(name, path)| ["--set".to_string(), format!("commands.{name}={}", path.display())]).collect()
}

/// Pins `TEAM` as the agent's signing team (`self_update.team_id`, in a
/// drop-in file, as a package's default configuration would) and points
/// `pkgutil` and `spctl` at stand-ins printing `pkgutil` and `spctl`.
pub(crate) fn pin_signing_team(device: &Device, pkgutil: &Printed, spctl: &Printed) {
    let pkgutil = stand_in(device, "pkgutil", &prints(device, "pkgutil-output", pkgutil, false));
    let spctl = stand_in(device, "spctl", &prints(device, "spctl-output", spctl, false));
    let fragment = serde_json::json!({
        "self_update": { "team_id": TEAM },
        "commands": { "pkgutil": pkgutil, "spctl": spctl },
    });
    device.write_file(SIGNING_FRAGMENT, &fragment.to_string());
}

/// Where [`pin_signing_team`] writes the pin.
pub(crate) const SIGNING_FRAGMENT: &str = "Library/Application Support/EndpointAgent/config.d/10-signing.json";

/// Pins the right team with a signed and notarized package: what a release is.
pub(crate) fn pin_signed_release(device: &Device) {
    pin_signing_team(device, &PKG_SIGNED, &INSTALL_NOTARIZED);
}

/// A tar holding `Applications/Foo.app` 3.0 (a pkg's payload) or `Foo.app` 3.0 (a dmg).
fn payload(with_applications_folder: bool) -> Vec<u8> {
    let folder = tempfile::tempdir().unwrap();
    let target = if with_applications_folder { folder.path().join("Applications") } else { folder.path().into() };
    std::fs::create_dir_all(&target).unwrap();
    write_app(&target, BUNDLE_ID, "3.0");
    tar_of(folder.path())
}

/// A custom app from `source` served by `server`, signed by `TEAM`, plus `extra` keys.
fn signed_item(server: &FileServer, source: &str, extra: Value) -> Value {
    let bytes = match source {
        "pkg" => payload(true),
        "dmg" => payload(false),
        _ => app_zip("3.0", 0),
    };
    let route = format!("/Foo.{source}");
    server.serve(&route, bytes.clone());
    let mut foo_item = custom_app(source, &server.url(&route), &sha256(&bytes), "audit_and_enforce", None);
    foo_item["team_id"] = TEAM.into();
    foo_item.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    foo_item
}

/// Checks in with `item` and the tools given; the item's status entry.
fn run(device: &Device, foo_item: Value, flags: &[String]) -> (i32, Value) {
    let path = device.write_blueprint(&blueprint(vec![foo_item.clone()]));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let exit = code(&device.check_in(&path, &flags));
    let name = foo_item["name"].as_str().unwrap().to_string();
    (exit, item(&device.status(), &name).clone())
}

fn the_cached(device: &Device, source: &str, bytes_sha256: &str) -> PathBuf {
    cache_dir(device).join(format!("{bytes_sha256}.{source}"))
}

#[test]
fn a_pkg_of_the_right_team_notarized_installs_after_both_checks() {
    let (device, server) = (Device::new(), FileServer::start());
    let flags = signature_tools(&device, &PKG_SIGNED, &APP_SIGNED, &VERIFIED, &INSTALL_NOTARIZED);
    let foo_item = signed_item(&server, "pkg", Value::Null);
    let digest = foo_item["sha256"].as_str().unwrap().to_string();
    let (exit, foo_item) = run(&device, foo_item, &flags);
    assert_eq!(exit, 0, "{foo_item}");
    assert_eq!(installed_version(&device).as_deref(), Some("3.0"));
    let cached = the_cached(&device, "pkg", &digest);
    assert_eq!(recorded(&device, "pkgutil"), [format!("--check-signature {}", cached.display())]);
    assert_eq!(recorded(&device, "spctl"), [format!("--assess --type install -vv {}", cached.display())]);
    assert!(recorded(&device, "codesign").is_empty(), "a pkg's own signature is what counts");
    let output = foo_item["output"].as_str().unwrap();
    assert!(output.contains("--- pkgutil --check-signature (exit 0) ---\nPackage \"Foo-2.1.pkg\":"), "{output}");
    assert!(output.contains("--- spctl --assess (exit 0) ---\nFoo-2.1.pkg: accepted"), "{output}");
}

#[test]
fn a_pkg_of_another_team_unsigned_revoked_or_not_notarized_installs_nothing() {
    let cases = [
        (
            &PKG_OTHER_TEAM,
            &INSTALL_NOTARIZED,
            "refused the pkg: signed by team XYZ9876543 (\"Developer ID Installer: Other Corp\"), not ABCDE12345",
        ),
        (&PKG_UNSIGNED, &INSTALL_NOTARIZED, "refused the pkg: not signed"),
        (
            &PKG_REVOKED,
            &INSTALL_NOTARIZED,
            "refused the pkg: signature not trusted: signed by a certificate that has been revoked",
        ),
        (&PKG_SIGNED, &INSTALL_NOT_NOTARIZED, "refused the pkg: not notarized (source=Unnotarized Developer ID)"),
    ];
    for (pkgutil, spctl, expected) in cases {
        let (device, server) = (Device::new(), FileServer::start());
        let flags = signature_tools(&device, pkgutil, &APP_SIGNED, &VERIFIED, spctl);
        let (exit, foo_item) = run(&device, signed_item(&server, "pkg", Value::Null), &flags);
        assert_eq!(exit, 1, "{foo_item}");
        assert_eq!(foo_item["status"], "failed");
        assert_eq!(foo_item["message"], expected);
        assert!(recorded(&device, "installer").is_empty(), "{expected}: the installer never ran");
        assert!(!installed_app(&device).exists(), "{expected}");
    }
}

#[test]
fn notarization_may_be_turned_off_but_the_team_still_counts() {
    let (device, server) = (Device::new(), FileServer::start());
    let flags = signature_tools(&device, &PKG_SIGNED, &APP_SIGNED, &VERIFIED, &INSTALL_NOT_NOTARIZED);
    let foo_item = signed_item(&server, "pkg", serde_json::json!({ "require_notarized": false }));
    let (exit, foo_item) = run(&device, foo_item, &flags);
    assert_eq!(exit, 0, "{foo_item}");
    assert!(recorded(&device, "spctl").is_empty(), "Gatekeeper is not asked");
    assert_eq!(installed_version(&device).as_deref(), Some("3.0"));

    let (device, server) = (Device::new(), FileServer::start());
    let flags = signature_tools(&device, &PKG_OTHER_TEAM, &APP_SIGNED, &VERIFIED, &INSTALL_NOTARIZED);
    let foo_item = signed_item(&server, "pkg", serde_json::json!({ "require_notarized": false }));
    assert_eq!(run(&device, foo_item, &flags).0, 1);
    assert!(!installed_app(&device).exists());
}

#[test]
fn an_app_from_a_zip_is_checked_where_it_is_staged_before_it_is_placed() {
    let (device, server) = (Device::new(), FileServer::start());
    let flags = signature_tools(&device, &PKG_SIGNED, &APP_SIGNED, &VERIFIED, &EXECUTE_NOTARIZED);
    let (exit, foo_item) = run(&device, signed_item(&server, "zip", Value::Null), &flags);
    assert_eq!(exit, 0, "{foo_item}");
    assert_eq!(installed_version(&device).as_deref(), Some("3.0"));
    assert_eq!(applications_entries(&device), ["Foo.app"]);
    let calls = recorded(&device, "codesign");
    assert_eq!(calls.len(), 2, "{calls:?}");
    let staged = calls[0].strip_prefix("-dv --verbose=2 ").unwrap();
    let staging = device.root().join("Applications/.endpoint-agent-staging-");
    assert!(staged.starts_with(&staging.display().to_string()) && staged.ends_with("/Foo.app"), "{staged}");
    assert_eq!(calls[1], format!("--verify --deep --strict {staged}"));
    assert_eq!(recorded(&device, "spctl"), [format!("--assess --type execute -vv {staged}")]);
    assert!(recorded(&device, "pkgutil").is_empty());
}

#[test]
fn an_app_of_another_team_ad_hoc_unsigned_modified_or_not_notarized_is_never_placed() {
    let cases = [
        (
            "zip",
            &APP_OTHER_TEAM,
            &VERIFIED,
            &EXECUTE_NOTARIZED,
            "refused Foo.app: signed by team XYZ9876543 (\"Developer ID Application: Other Corp\"), not ABCDE12345",
        ),
        ("zip", &APP_ADHOC, &VERIFIED, &EXECUTE_NOTARIZED, "refused Foo.app: ad-hoc signature"),
        ("dmg", &APP_UNSIGNED, &VERIFIED, &EXECUTE_NOTARIZED, "refused Foo.app: not signed"),
        (
            "zip",
            &APP_SIGNED,
            &VERIFY_MODIFIED,
            &EXECUTE_NOTARIZED,
            "refused Foo.app: signature invalid: a sealed resource is missing or invalid",
        ),
        (
            "dmg",
            &APP_SIGNED,
            &VERIFIED,
            &EXECUTE_NOT_NOTARIZED,
            "refused Foo.app: not notarized (source=Unnotarized Developer ID)",
        ),
    ];
    for (source, display, verify, spctl, expected) in cases {
        let (device, server) = (Device::new(), FileServer::start());
        let flags = signature_tools(&device, &PKG_SIGNED, display, verify, spctl);
        let (exit, foo_item) = run(&device, signed_item(&server, source, Value::Null), &flags);
        assert_eq!(exit, 1, "{foo_item}");
        assert_eq!(foo_item["message"], expected);
        assert!(applications_entries(&device).is_empty(), "{expected}: {:?}", applications_entries(&device));
        if source == "dmg" {
            let calls = recorded(&device, "hdiutil");
            assert!(calls.len() == 2 && calls[1].starts_with("detach "), "the image is detached: {calls:?}");
        }
    }
}

#[test]
fn an_auto_app_takes_its_team_from_the_catalog() {
    let (device, server) = (Device::new(), FileServer::start());
    let flags = signature_tools(&device, &PKG_SIGNED, &APP_OTHER_TEAM, &VERIFIED, &EXECUTE_NOTARIZED);
    let zip = app_zip("3.0", 0);
    server.serve("/Foo.zip", zip.clone());
    let mut foo_item = auto_app("3.0", &server.url("/Foo.zip"), &sha256(&zip));
    foo_item["catalog"]["team_id"] = TEAM.into();
    let (exit, foo_item) = run(&device, foo_item, &flags);
    assert_eq!(exit, 1, "{foo_item}");
    assert!(foo_item["message"].as_str().unwrap().contains("not ABCDE12345"), "{foo_item}");
    assert!(!installed_app(&device).exists());
}

#[test]
fn without_a_team_no_signature_tool_runs() {
    let (device, server) = (Device::new(), FileServer::start());
    let flags = signature_tools(&device, &PKG_UNSIGNED, &APP_UNSIGNED, &VERIFIED, &EXECUTE_NOT_NOTARIZED);
    let mut foo_item = signed_item(&server, "zip", Value::Null);
    foo_item.as_object_mut().unwrap().remove("team_id");
    let (exit, foo_item) = run(&device, foo_item, &flags);
    assert_eq!(exit, 0, "{foo_item}");
    assert!(Path::new(&installed_app(&device)).exists());
    for tool in ["pkgutil", "codesign", "spctl"] {
        assert!(recorded(&device, tool).is_empty(), "{tool} ran");
    }
}
