//! Custom apps from a pkg and a dmg, through stand-ins for `installer`,
//! `hdiutil` and `ditto` that record their arguments: the right arguments, the
//! verified file from the cache, and a detach after every attach.

use crate::app_fixtures::{
    BUNDLE_ID, DITTO, HDIUTIL, INSTALLER, applications_entries, cache_dir, cache_files, custom_app, installed_app,
    installed_version, recorded, sha256, stand_in, tar_of, write_app,
};
use crate::http_server::FileServer;
use crate::support::{Device, blueprint, code, item};

/// A tar holding `Applications/Foo.app` at `version`, as a package payload.
fn payload(version: &str, with_applications_folder: bool) -> Vec<u8> {
    let folder = tempfile::tempdir().unwrap();
    let target =
        if with_applications_folder { folder.path().join("Applications") } else { folder.path().to_path_buf() };
    std::fs::create_dir_all(&target).unwrap();
    write_app(&target, BUNDLE_ID, version);
    tar_of(folder.path())
}

fn set(tool: &str, path: &std::path::Path) -> String {
    format!("commands.{tool}={}", path.display())
}

#[test]
fn a_pkg_runs_the_installer_on_the_verified_file() {
    let (device, server) = (Device::new(), FileServer::start());
    let package = payload("3.0", true);
    server.serve("/Foo.pkg", package.clone());
    let installer = stand_in(&device, "installer", INSTALLER);
    let foo_item = custom_app("pkg", &server.url("/Foo.pkg"), &sha256(&package), "audit_and_enforce", Some("3.0"));
    let path = device.write_blueprint(&blueprint(vec![foo_item]));
    device.check_in_ok(&path, &["--set", &set("installer", &installer)]);
    let cached = cache_dir(&device).join(format!("{}.pkg", sha256(&package)));
    let root = device.root().display().to_string();
    assert_eq!(recorded(&device, "installer"), [format!("-pkg {} -target {root}", cached.display())]);
    assert_eq!(installed_version(&device).as_deref(), Some("3.0"));
    let status = device.status();
    let foo = item(&status, "Foo");
    assert!(foo["message"].as_str().unwrap().starts_with("installed: Foo.app 3.0 from the pkg"), "{foo}");
    assert!(foo["output"].as_str().unwrap().contains("--- installer (exit 0) ---\ninstaller: Package name is Foo"));
}

#[test]
fn a_failed_pkg_install_says_why_and_the_retry_reuses_the_verified_download() {
    let (device, server) = (Device::new(), FileServer::start());
    let package = payload("3.0", true);
    server.serve("/Foo.pkg", package.clone());
    let broken = stand_in(&device, "broken-installer", "echo 'installer: Error - the package is damaged'\nexit 1\n");
    let foo_item = custom_app("pkg", &server.url("/Foo.pkg"), &sha256(&package), "audit_and_enforce", None);
    let path = device.write_blueprint(&blueprint(vec![foo_item]));
    assert_eq!(code(&device.check_in(&path, &["--set", &set("installer", &broken)])), 1);
    let status = device.status();
    let message = item(&status, "Foo")["message"].as_str().unwrap().to_string();
    assert_eq!(message, "installer exited 1: installer: Error - the package is damaged");
    assert_eq!(item(&status, "Foo")["exit_code"], 1);
    assert_eq!(cache_files(&device), [format!("{}.pkg", sha256(&package))], "the verified file waits for a retry");

    let installer = stand_in(&device, "installer", INSTALLER);
    assert_eq!(code(&device.check_in(&path, &["--set", &set("installer", &installer)])), 0);
    let status = device.status();
    let message = item(&status, "Foo")["message"].as_str().unwrap();
    assert!(message.contains("used the verified"), "{message}");
    assert_eq!(server.requests("/Foo.pkg").len(), 1, "no second download");
    assert!(cache_files(&device).is_empty());
}

#[test]
fn a_dmg_is_attached_read_only_copied_with_ditto_and_detached() {
    let (device, server) = (Device::new(), FileServer::start());
    let image = payload("5.0", false);
    server.serve("/Foo.dmg", image.clone());
    let hdiutil = stand_in(&device, "hdiutil", HDIUTIL);
    let ditto = stand_in(&device, "ditto", DITTO);
    let foo_item = custom_app("dmg", &server.url("/Foo.dmg"), &sha256(&image), "audit_and_enforce", None);
    let path = device.write_blueprint(&blueprint(vec![foo_item]));
    let flags = ["--set", &set("hdiutil", &hdiutil), "--set", &set("ditto", &ditto)];
    device.check_in_ok(&path, &flags);
    assert_eq!(installed_version(&device).as_deref(), Some("5.0"));
    assert_eq!(applications_entries(&device), ["Foo.app"], "no staging folder is left");

    let calls = recorded(&device, "hdiutil");
    assert_eq!(calls.len(), 2, "{calls:?}");
    let cached = cache_dir(&device).join(format!("{}.dmg", sha256(&image)));
    let mount = calls[0].strip_prefix("attach -nobrowse -readonly -mountpoint ").unwrap();
    let mount = mount.strip_suffix(&format!(" {}", cached.display())).expect("the verified file is attached");
    assert_eq!(calls[1], format!("detach {mount}"));
    let copies = recorded(&device, "ditto");
    assert_eq!(copies.len(), 1);
    let staging = device.root().join("Applications/.endpoint-agent-staging-");
    assert!(copies[0].starts_with(&format!("{mount}/Foo.app {}", staging.display())), "{copies:?}");
    assert!(copies[0].ends_with("/Foo.app"), "{copies:?}");
    assert!(!std::path::Path::new(mount).exists(), "the mount point is removed after the detach");
}

#[test]
fn a_failed_copy_still_detaches_the_image_and_installs_nothing() {
    let (device, server) = (Device::new(), FileServer::start());
    let image = payload("5.0", false);
    server.serve("/Foo.dmg", image.clone());
    let hdiutil = stand_in(&device, "hdiutil", HDIUTIL);
    let ditto = stand_in(&device, "ditto", "echo 'ditto: /Applications/Foo.app: No space left on device'\nexit 1\n");
    let foo_item = custom_app("dmg", &server.url("/Foo.dmg"), &sha256(&image), "audit_and_enforce", None);
    let path = device.write_blueprint(&blueprint(vec![foo_item]));
    let flags = ["--set", &set("hdiutil", &hdiutil), "--set", &set("ditto", &ditto)];
    assert_eq!(code(&device.check_in(&path, &flags)), 1);
    let status = device.status();
    let foo = item(&status, "Foo");
    assert_eq!(foo["message"], "ditto exited 1: ditto: /Applications/Foo.app: No space left on device");
    assert_eq!(foo["exit_code"], 1, "the failing tool's code, not the detach's");
    let calls = recorded(&device, "hdiutil");
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].starts_with("attach ") && calls[1].starts_with("detach "), "{calls:?}");
    assert!(!installed_app(&device).exists());
    assert!(applications_entries(&device).is_empty(), "{:?}", applications_entries(&device));
    let output = foo["output"].as_str().unwrap();
    assert!(
        output.contains("--- ditto (exit 1) ---") && output.contains("--- hdiutil detach (exit 0) ---"),
        "{output}"
    );
}
