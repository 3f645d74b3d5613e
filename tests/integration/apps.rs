//! Custom apps from a zip over HTTP on 127.0.0.1: installed, left alone when
//! current (no request at all), put back when deleted, refused on a sha256
//! mismatch, resumed after a cut, and each enforcement mode.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::json;

use crate::app_fixtures::{
    BUNDLE_ID, app_zip, applications_entries, cache_dir, cache_files, custom_app, installed_app, installed_version,
    sha256, write_app,
};
use crate::http_server::{FileServer, Served};
use crate::support::{Device, blueprint, code, item, text};

fn message(device: &Device) -> String {
    item(&device.status(), "Foo")["message"].as_str().unwrap().to_string()
}

#[test]
fn a_zip_app_is_installed_then_left_alone_then_put_back_after_a_deletion() {
    let (device, server) = (Device::new(), FileServer::start());
    let zip = app_zip("2.1", 1024);
    server.serve("/Foo.zip", zip.clone());
    let item = custom_app("zip", &server.url("/Foo.zip"), &sha256(&zip), "audit_and_enforce", Some("2.0"));
    let path = device.write_blueprint(&blueprint(vec![item]));

    device.check_in_ok(&path, &[]);
    let installed = message(&device);
    assert!(installed.starts_with("installed: Foo.app 2.1 from the zip (downloaded"), "{installed}");
    assert!(installed.ends_with("sha256 verified)"), "{installed}");
    assert_eq!(device.status()["drift"]["reapplied"], 0, "a first install is not drift");
    assert_eq!(installed_version(&device).as_deref(), Some("2.1"));
    let app = installed_app(&device);
    let mode = std::fs::metadata(app.join("Contents/MacOS/Foo")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755, "the executable keeps its mode");
    let link = std::fs::read_link(app.join("Contents/Frameworks/Bar.framework/Versions/Current")).unwrap();
    assert_eq!(link, Path::new("A"), "symlinks stay symlinks");
    assert_eq!(applications_entries(&device), ["Foo.app"], "no staging folder is left");
    assert!(cache_files(&device).is_empty(), "the installed download leaves the cache");
    let cache_mode = std::fs::metadata(cache_dir(&device)).unwrap().permissions().mode();
    assert_eq!(cache_mode & 0o777, 0o700, "the cache is root-only");
    let requests = server.requests("/Foo.zip");
    assert_eq!(requests.len(), 1);
    assert!(requests[0].user_agent.as_deref().unwrap_or_default().starts_with("endpoint-agent/"));

    assert_eq!(code(&device.check_in(&path, &[])), 0);
    assert_eq!(message(&device), "compliant: Foo.app 2.1 is installed (required 2.0)");
    assert_eq!(server.requests("/Foo.zip").len(), 1, "a current app downloads nothing");

    std::fs::remove_dir_all(&app).unwrap();
    assert_eq!(code(&device.check_in(&path, &[])), 0);
    let reinstalled = message(&device);
    assert!(reinstalled.starts_with("re-installed: Foo.app was missing; installed 2.1"), "{reinstalled}");
    assert_eq!(device.status()["drift"]["reapplied"], 1);
    assert_eq!(installed_version(&device).as_deref(), Some("2.1"));
    assert_eq!(server.requests("/Foo.zip").len(), 2);

    let status_text = text(&device.run(&["status"]).stdout);
    assert!(status_text.contains("re-installed: Foo.app was missing"), "{status_text}");
    for item in ["li-foo", "Foo"] {
        let logs = text(&device.run(&["logs", "--item", item]).stdout);
        assert!(logs.contains("Download verified against its sha256."), "by {item}: {logs}");
        assert!(logs.contains("re-installed: Foo.app was missing"), "by {item}: {logs}");
    }
}

#[test]
fn a_download_that_does_not_match_its_sha256_installs_nothing_and_leaves_nothing() {
    let (device, server) = (Device::new(), FileServer::start());
    server.serve("/Foo.zip", app_zip("2.1", 0));
    let expected = sha256(b"what the admin uploaded");
    let item = custom_app("zip", &server.url("/Foo.zip"), &expected, "audit_and_enforce", None);
    let output = device.check_in(&device.write_blueprint(&blueprint(vec![item])), &[]);
    assert_eq!(code(&output), 1);
    let status = device.status();
    let foo = crate::support::item(&status, "Foo");
    assert_eq!(foo["status"], "failed");
    let refused = foo["message"].as_str().unwrap();
    assert!(refused.starts_with(&format!("sha256 mismatch for {}: expected {expected}, got ", server.url("/Foo.zip"))));
    assert!(refused.ends_with("the download was deleted and nothing was installed"), "{refused}");
    assert!(!installed_app(&device).exists(), "nothing installed");
    assert!(applications_entries(&device).is_empty(), "{:?}", applications_entries(&device));
    assert!(cache_files(&device).is_empty(), "nothing left in the cache: {:?}", cache_files(&device));
    let logs = text(&device.run(&["logs", "--item", "Foo", "--level", "warn"]).stdout);
    assert!(logs.contains("sha256 mismatch"), "{logs}");
}

#[test]
fn a_cut_download_resumes_with_a_range_request_at_the_next_check_in() {
    let (device, server) = (Device::new(), FileServer::start());
    let zip = app_zip("3.0", 200_000);
    let cut = zip.len() / 2;
    server.serve_with("/Foo.zip", Served { bytes: zip.clone(), cut_after: Some(cut), ..Served::default() });
    let item = custom_app("zip", &server.url("/Foo.zip"), &sha256(&zip), "audit_and_enforce", None);
    let path = device.write_blueprint(&blueprint(vec![item]));

    assert_eq!(code(&device.check_in(&path, &[])), 1);
    let stopped = message(&device);
    assert!(stopped.contains(&format!("stopped after {cut} bytes")), "{stopped}");
    assert!(stopped.ends_with("the partial file is kept and the next check-in resumes it"), "{stopped}");
    let partial = format!("{}.zip.partial", sha256(&zip));
    assert_eq!(cache_files(&device), std::slice::from_ref(&partial));
    assert_eq!(std::fs::metadata(cache_dir(&device).join(&partial)).unwrap().len(), cut as u64);
    assert!(!installed_app(&device).exists());

    assert_eq!(code(&device.check_in(&path, &[])), 0);
    let resumed = message(&device);
    assert!(resumed.contains(&format!("(resumed at byte {cut})")), "{resumed}");
    let requests = server.requests("/Foo.zip");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].range, None);
    assert_eq!(requests[1].range.as_deref(), Some(format!("bytes={cut}-").as_str()));
    assert_eq!(installed_version(&device).as_deref(), Some("3.0"));
    assert!(cache_files(&device).is_empty());
}

#[test]
fn a_partial_file_is_started_over_when_the_server_ignores_the_range() {
    let (device, server) = (Device::new(), FileServer::start());
    let zip = app_zip("3.0", 50_000);
    server.serve_with("/Foo.zip", Served { bytes: zip.clone(), ignore_range: true, ..Served::default() });
    let partial = cache_dir(&device).join(format!("{}.zip.partial", sha256(&zip)));
    std::fs::create_dir_all(partial.parent().unwrap()).unwrap();
    std::fs::write(&partial, &zip[..1000]).unwrap();
    let item = custom_app("zip", &server.url("/Foo.zip"), &sha256(&zip), "audit_and_enforce", None);
    let output = device.check_in(&device.write_blueprint(&blueprint(vec![item])), &[]);
    assert_eq!(code(&output), 0, "{}", message(&device));
    let requests = server.requests("/Foo.zip");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].range.as_deref(), Some("bytes=1000-"), "the partial file was offered for resuming");
    let installed = message(&device);
    assert!(installed.contains(&format!("downloaded {} bytes, sha256", zip.len())), "{installed}");
    assert!(!installed.contains("resumed"), "{installed}");
    assert_eq!(installed_version(&device).as_deref(), Some("3.0"));
}

#[test]
fn a_server_error_keeps_the_partial_file_for_a_later_resume() {
    let (device, server) = (Device::new(), FileServer::start());
    let zip = app_zip("3.0", 10_000);
    let partial = cache_dir(&device).join(format!("{}.zip.partial", sha256(&zip)));
    std::fs::create_dir_all(partial.parent().unwrap()).unwrap();
    std::fs::write(&partial, &zip[..500]).unwrap();
    let item = custom_app("zip", &server.url("/Foo.zip"), &sha256(&zip), "audit_and_enforce", None);
    let path = device.write_blueprint(&blueprint(vec![item]));
    assert_eq!(code(&device.check_in(&path, &[])), 1);
    assert_eq!(message(&device), format!("cannot download {}: the server answered HTTP 404", server.url("/Foo.zip")));
    assert_eq!(std::fs::read(&partial).unwrap(), &zip[..500], "the partial file is kept as it was");

    server.serve("/Foo.zip", zip.clone());
    assert_eq!(code(&device.check_in(&path, &[])), 0);
    assert!(message(&device).contains("(resumed at byte 500)"), "{}", message(&device));
    assert_eq!(installed_version(&device).as_deref(), Some("3.0"));
}

#[test]
fn redirects_are_followed_on_loopback_but_never_to_plain_http_elsewhere() {
    let (device, server) = (Device::new(), FileServer::start());
    let zip = app_zip("2.2", 0);
    server.serve("/Foo.zip", zip.clone());
    let moved = Served { redirect_to: Some(server.url("/Foo.zip")), ..Served::default() };
    server.serve_with("/latest/Foo.zip", moved);
    let away = Served { redirect_to: Some("http://downloads.example.com/Foo.zip".into()), ..Served::default() };
    server.serve_with("/away/Foo.zip", away);

    let item = custom_app("zip", &server.url("/latest/Foo.zip"), &sha256(&zip), "audit_and_enforce", None);
    assert_eq!(code(&device.check_in(&device.write_blueprint(&blueprint(vec![item])), &[])), 0);
    assert_eq!(installed_version(&device).as_deref(), Some("2.2"));
    assert_eq!(server.requests("/Foo.zip").len(), 1);

    let other = Device::new();
    let item = custom_app("zip", &server.url("/away/Foo.zip"), &sha256(&zip), "audit_and_enforce", None);
    assert_eq!(code(&other.check_in(&other.write_blueprint(&blueprint(vec![item])), &[])), 1);
    let refused = message(&other);
    assert!(refused.contains("redirected to a URL the agent does not download from"), "{refused}");
    assert!(!refused.contains("example.com/Foo.zip?"), "{refused}");
    assert!(!installed_app(&other).exists());
}

#[test]
fn install_once_installs_once_and_then_leaves_a_deletion_alone() {
    let (device, server) = (Device::new(), FileServer::start());
    let zip = app_zip("1.0", 0);
    server.serve("/Foo.zip", zip.clone());
    let item = custom_app("zip", &server.url("/Foo.zip"), &sha256(&zip), "install_once", None);
    let path = device.write_blueprint(&blueprint(vec![item]));
    assert_eq!(code(&device.check_in(&path, &[])), 0);
    assert!(message(&device).starts_with("installed: Foo.app 1.0"), "{}", message(&device));
    std::fs::remove_dir_all(installed_app(&device)).unwrap();
    assert_eq!(code(&device.check_in(&path, &[])), 0);
    assert_eq!(
        message(&device),
        "compliant: the agent installed Foo.app once on this device; it was deleted since and is left alone (install once)"
    );
    assert!(!installed_app(&device).exists());
    assert_eq!(server.requests("/Foo.zip").len(), 1);
    assert_eq!(device.status()["drift"]["reapplied"], 0);
}

#[test]
fn an_app_below_the_required_version_is_replaced_and_counted_as_reapplied() {
    let (device, server) = (Device::new(), FileServer::start());
    std::fs::create_dir_all(device.root().join("Applications")).unwrap();
    let old = write_app(&device.root().join("Applications"), BUNDLE_ID, "1.0");
    std::fs::write(old.join("Contents/stale-file"), "from 1.0").unwrap();
    let zip = app_zip("2.1", 0);
    server.serve("/Foo.zip", zip.clone());
    let item = custom_app("zip", &server.url("/Foo.zip"), &sha256(&zip), "audit_and_enforce", Some("2.0"));
    assert_eq!(code(&device.check_in(&device.write_blueprint(&blueprint(vec![item])), &[])), 0);
    let updated = message(&device);
    assert!(updated.starts_with("updated: Foo.app 1.0 was below the required 2.0; installed 2.1"), "{updated}");
    assert_eq!(device.status()["drift"]["reapplied"], 1);
    assert_eq!(installed_version(&device).as_deref(), Some("2.1"));
    assert!(!installed_app(&device).join("Contents/stale-file").exists(), "the old bundle was replaced whole");
    assert_eq!(applications_entries(&device), ["Foo.app"]);
}

#[test]
fn no_enforcement_reports_and_never_downloads() {
    let (device, server) = (Device::new(), FileServer::start());
    std::fs::create_dir_all(device.root().join("Applications")).unwrap();
    write_app(&device.root().join("Applications"), BUNDLE_ID, "1.5");
    let item = custom_app("zip", &server.url("/Foo.zip"), &"a".repeat(64), "no_enforcement", Some("2.0"));
    assert_eq!(code(&device.check_in(&device.write_blueprint(&blueprint(vec![item])), &[])), 0);
    assert_eq!(message(&device), "not enforced: Foo.app 1.5 is installed, below the required 2.0");
    assert!(server.requests("/Foo.zip").is_empty());
    assert_eq!(installed_version(&device).as_deref(), Some("1.5"));
}

#[test]
fn a_file_url_installs_from_under_the_root() {
    let device = Device::new();
    let zip = app_zip("4.2", 0);
    std::fs::create_dir_all(device.root().join("Users/Shared")).unwrap();
    std::fs::write(device.root().join("Users/Shared/Foo.zip"), &zip).unwrap();
    let item = custom_app("zip", "file:///Users/Shared/Foo.zip", &sha256(&zip), "audit_and_enforce", None);
    assert_eq!(code(&device.check_in(&device.write_blueprint(&blueprint(vec![item])), &[])), 0);
    assert!(message(&device).starts_with("installed: Foo.app 4.2 from the zip (copied"), "{}", message(&device));
    assert_eq!(installed_version(&device).as_deref(), Some("4.2"));
}

#[test]
fn bad_app_keys_stop_the_run_with_every_key_path() {
    let device = Device::new();
    let items = vec![
        json!({ "id": "a", "name": "A", "type": "custom_app", "source": "exe", "url": "http://example.com/a.zip",
                "sha256": "abc", "app_name": "../A.app", "enforcement": "always" }),
        json!({ "id": "b", "name": "B", "type": "auto_app", "catalog": { "name": "B", "version": "soon" } }),
    ];
    let output = device.check_in(&device.write_blueprint(&blueprint(items)), &[]);
    assert_eq!(code(&output), 2);
    let errors = text(&output.stderr);
    for key in [
        "library_items[0].source",
        "library_items[0].url",
        "library_items[0].sha256",
        "library_items[0].app_name",
        "library_items[0].enforcement",
        "library_items[1].catalog.version",
        "library_items[1].catalog.bundle_id",
    ] {
        assert!(errors.contains(&format!("{key:?}")), "{key} missing from {errors}");
    }
}
