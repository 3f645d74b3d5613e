//! Auto apps: updated from an older release, never downgraded, put back when
//! deleted, and stopped by their own timeout.

use crate::app_fixtures::{BUNDLE_ID, app_zip, auto_app, installed_app, installed_version, sha256, write_app};
use crate::http_server::FileServer;
use crate::support::{Device, blueprint, code, item};

fn message(device: &Device) -> String {
    item(&device.status(), "Foo (auto)")["message"].as_str().unwrap().to_string()
}

#[test]
fn an_older_copy_is_updated_and_a_newer_one_is_never_downgraded() {
    let (device, server) = (Device::new(), FileServer::start());
    std::fs::create_dir_all(device.root().join("Applications")).unwrap();
    write_app(&device.root().join("Applications"), BUNDLE_ID, "1.9");
    let (release, older) = (app_zip("1.10", 0), app_zip("1.8", 0));
    server.serve("/Foo-1.10.zip", release.clone());
    server.serve("/Foo-1.8.zip", older.clone());

    let current =
        device.write_blueprint(&blueprint(vec![auto_app("1.10", &server.url("/Foo-1.10.zip"), &sha256(&release))]));
    device.check_in_ok(&current, &[]);
    assert!(message(&device).starts_with("updated: Foo 1.9 to 1.10 (downloaded"), "{}", message(&device));
    assert_eq!(installed_version(&device).as_deref(), Some("1.10"));
    assert_eq!(device.status()["drift"]["reapplied"], 0, "a catalog update is not drift");

    assert_eq!(code(&device.check_in(&current, &[])), 0);
    assert_eq!(message(&device), "compliant: Foo 1.10 is installed, the catalog's version");

    let behind = blueprint(vec![auto_app("1.8", &server.url("/Foo-1.8.zip"), &sha256(&older))]);
    let behind = device.write_file("behind.json", &behind.to_string());
    assert_eq!(code(&device.check_in(&behind, &[])), 0);
    assert_eq!(message(&device), "compliant: Foo 1.10 is newer than the catalog's 1.8; never downgraded");
    assert_eq!(installed_version(&device).as_deref(), Some("1.10"));
    assert!(server.requests("/Foo-1.8.zip").is_empty(), "nothing older is even downloaded");
    assert_eq!(server.requests("/Foo-1.10.zip").len(), 1);

    std::fs::remove_dir_all(installed_app(&device)).unwrap();
    assert_eq!(code(&device.check_in(&current, &[])), 0);
    assert!(
        message(&device).starts_with("re-installed: Foo.app was missing; installed Foo 1.10"),
        "{}",
        message(&device)
    );
    assert_eq!(device.status()["drift"]["reapplied"], 1);
}

#[test]
fn a_download_that_never_answers_is_stopped_by_the_auto_app_timeout() {
    let device = Device::new();
    // Accepted by the kernel, never answered.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/Foo.zip", silent.local_addr().unwrap().port());
    let path = device.write_blueprint(&blueprint(vec![auto_app("1.0", &url, &"b".repeat(64))]));
    let started = std::time::Instant::now();
    assert_eq!(code(&device.check_in(&path, &["--set", "timeouts.auto_app=2s"])), 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "took {:?}", started.elapsed());
    let status = device.status();
    let foo = item(&status, "Foo (auto)");
    assert_eq!(foo["status"], "timed_out", "{foo}");
    let stopped = foo["message"].as_str().unwrap();
    assert!(stopped.starts_with("exceeded its 2s timeout: the download of"), "{stopped}");
    assert!(stopped.contains("ran out of time"), "{stopped}");
    assert!(!installed_app(&device).exists());
}
