//! Downloads are bounded in size, speed and disk: a file past `downloads.max_size`,
//! longer than its `Content-Length`, that would leave less than
//! `downloads.min_free_space` on the volume, or slower than `downloads.min_rate` is
//! stopped and leaves nothing in the cache.

use std::time::{Duration, Instant};

use crate::app_fixtures::{app_zip, cache_dir, cache_files, custom_app, installed_app, sha256};
use crate::http_server::{FileServer, Served};
use crate::support::{Device, Tmpfs, blueprint, code, item, text};

/// Checks in once with a custom app served as `served`, `extra` flags added; gives
/// the item's message (its URL as `<url>`) and how many requests the server saw,
/// after checking it failed, installed nothing and left nothing.
fn fails_and_leaves_nothing(served: Served, extra: &[&str]) -> (String, usize) {
    fails_on(&Device::new(), served, extra)
}

/// [`fails_and_leaves_nothing`] on `device`.
fn fails_on(device: &Device, served: Served, extra: &[&str]) -> (String, usize) {
    let server = FileServer::start();
    let digest = sha256(&served.bytes);
    server.serve_with("/Foo.zip", served);
    let app = custom_app("zip", &server.url("/Foo.zip"), &digest, "audit_and_enforce", None);
    let output = device.check_in(&device.write_blueprint(&blueprint(vec![app])), extra);
    assert_eq!(code(&output), 1, "{}{}", text(&output.stdout), text(&output.stderr));
    let status = device.status();
    let app_item = item(&status, "Foo");
    assert_eq!(app_item["status"], "failed", "{app_item}");
    assert!(!installed_app(device).exists(), "nothing installed");
    assert!(cache_files(device).is_empty(), "nothing left in the cache: {:?}", cache_files(device));
    let message = app_item["message"].as_str().unwrap().replace(&server.url("/Foo.zip"), "<url>");
    (message, server.requests("/Foo.zip").len())
}

#[test]
fn a_download_announced_past_max_size_is_refused_before_its_body() {
    let served = Served { bytes: app_zip("2.1", 8192), ..Served::default() };
    let (message, _) = fails_and_leaves_nothing(served, &["--set", "downloads.max_size=4 KiB"]);
    assert!(message.starts_with("the download of <url> is larger than downloads.max_size (4096 bytes)"), "{message}");
    assert!(message.contains("(the server announced "), "{message}");
    assert!(message.ends_with("it was stopped and deleted"), "{message}");
}

#[test]
fn a_download_without_a_length_is_stopped_at_max_size() {
    let served = Served { bytes: app_zip("2.1", 8192), no_length: true, ..Served::default() };
    let (message, _) = fails_and_leaves_nothing(served, &["--set", "downloads.max_size=4096"]);
    let expected = "the download of <url> is larger than downloads.max_size (4096 bytes); it was stopped and deleted";
    assert_eq!(message, expected);
}

#[test]
fn a_body_longer_than_its_content_length_is_not_installed() {
    // HTTP/1.1 framing ends the body at the announced length: what is taken is
    // the announced bytes, which do not match the sha256 of the whole file.
    let served = Served { bytes: app_zip("2.1", 8192), announce_length: Some(100), ..Served::default() };
    let (message, _) = fails_and_leaves_nothing(served, &[]);
    assert!(message.starts_with("sha256 mismatch for <url>"), "{message}");
}

#[test]
fn a_download_that_would_leave_too_little_free_space_is_refused_before_its_request() {
    let served = Served { bytes: app_zip("2.1", 0), ..Served::default() };
    let (message, requests) = fails_and_leaves_nothing(served, &["--set", "downloads.min_free_space=1000 TiB"]);
    let limit = 1000u64 << 40;
    let expected = format!("the download of <url> would leave less than downloads.min_free_space ({limit} bytes) free");
    assert!(message.starts_with(&expected), "{message}");
    assert!(message.contains("and 0 more are needed; it was stopped and deleted"), "{message}");
    assert_eq!(requests, 0, "nothing is asked of the server");
}

#[test]
fn a_content_length_past_the_free_space_is_refused_before_its_body() {
    let announced = 1usize << 50;
    let served = Served { bytes: app_zip("2.1", 0), announce_length: Some(announced), ..Served::default() };
    let (message, requests) = fails_and_leaves_nothing(served, &["--set", "downloads.max_size=1024 TiB"]);
    let expected = "the download of <url> would leave less than downloads.min_free_space (5368709120 bytes) free";
    assert!(message.starts_with(expected), "{message}");
    assert!(message.contains(&format!("and {announced} more are needed")), "{message}");
    assert_eq!(requests, 1);
}

#[test]
fn a_download_filling_its_volume_is_stopped_while_it_writes() {
    let device = Device::new();
    let Some(_tiny) = Tmpfs::mount(cache_dir(&device), "1m") else {
        return;
    };
    let served = Served { bytes: vec![7; 900 * 1024], no_length: true, ..Served::default() };
    let (message, _) = fails_on(&device, served, &["--set", "downloads.min_free_space=512 KiB"]);
    let expected =
        "the download of <url> would leave less than downloads.min_free_space (524288 bytes) free on the volume";
    assert!(message.starts_with(expected), "{message}");
    assert!(!message.contains(" 0 more are needed"), "stopped while writing, not before: {message}");
}

#[test]
fn a_server_dripping_bytes_is_stopped_at_the_end_of_the_rate_window() {
    let drip = Some((64, Duration::from_millis(100)));
    let served = Served { bytes: app_zip("2.1", 64 * 1024), drip, ..Served::default() };
    let started = Instant::now();
    let rate = ["--set", "downloads.min_rate=64 KiB", "--set", "downloads.min_rate_window=1s"];
    let (message, _) = fails_and_leaves_nothing(served, &rate);
    assert!(started.elapsed() < Duration::from_secs(15), "stopped in {:?}", started.elapsed());
    assert!(message.starts_with("the download of <url> received "), "{message}");
    let expected =
        "bytes in 1s, less than downloads.min_rate (65536 bytes per second over 1s); it was stopped and deleted";
    assert!(message.ends_with(expected), "{message}");
}

#[test]
fn a_server_gone_silent_is_stopped_at_the_end_of_the_rate_window() {
    let drip = Some((16, Duration::from_secs(2)));
    let served = Served { bytes: app_zip("2.1", 1024), drip, ..Served::default() };
    let rate = ["--set", "downloads.min_rate_window=500ms"];
    let (message, _) = fails_and_leaves_nothing(served, &rate);
    let expected = "bytes in 500ms, less than downloads.min_rate (1024 bytes per second over 500ms)";
    assert!(message.contains(expected), "{message}");
}

#[test]
fn a_server_that_never_answers_is_stopped_at_the_end_of_the_rate_window() {
    let device = Device::new();
    // Connections queue in the backlog and are never accepted: no answer comes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/Foo.zip", listener.local_addr().unwrap());
    let app = custom_app("zip", &url, &sha256(b"never sent"), "audit_and_enforce", None);
    let started = Instant::now();
    let blueprint_path = device.write_blueprint(&blueprint(vec![app]));
    let output = device.check_in(&blueprint_path, &["--set", "downloads.min_rate_window=500ms"]);
    assert_eq!(code(&output), 1, "{}{}", text(&output.stdout), text(&output.stderr));
    assert!(started.elapsed() < Duration::from_secs(15), "stopped in {:?}", started.elapsed());
    let message = item(&device.status(), "Foo")["message"].as_str().unwrap().to_string();
    let expected = format!("the download of {url} received 0 bytes in 500ms, less than downloads.min_rate");
    assert!(message.starts_with(&expected), "{message}");
    assert!(cache_files(&device).is_empty(), "{:?}", cache_files(&device));
}

#[test]
fn max_size_is_checked_when_configured() {
    let device = Device::new();
    let output = device.run(&["config", "--set", "downloads.max_size=20 GB"]);
    assert_ne!(code(&output), 0);
    let errors = text(&output.stderr);
    assert!(errors.contains("downloads.max_size"), "{errors}");
    assert!(errors.contains("expected a size from 1 byte to 1024 TiB"), "{errors}");
}

#[test]
fn unpacking_keeps_min_free_space_on_the_apps_volume() {
    let device = Device::new();
    // 8 MiB for Applications; the zip unpacks to 4 MiB of zeros (a few KiB packed).
    let Some(_volume) = Tmpfs::mount(device.root().join("Applications"), "8m") else {
        return;
    };
    let zip = app_zip_with_zeros(4 << 20);
    let server = FileServer::start();
    server.serve("/Foo.zip", zip.clone());
    let app = custom_app("zip", &server.url("/Foo.zip"), &sha256(&zip), "audit_and_enforce", None);
    let path = device.write_blueprint(&blueprint(vec![app]));

    let output = device.check_in(&path, &["--set", "downloads.min_free_space=6 MiB"]);
    assert_eq!(code(&output), 1, "4 MiB and 6 MiB kept free do not fit in 8 MiB: {}", text(&output.stderr));
    let message = item(&device.status(), "Foo")["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("(6291456 are kept free: downloads.min_free_space)"), "{message}");
    assert!(!installed_app(&device).exists());

    let output = device.check_in(&path, &["--set", "downloads.min_free_space=1 MiB"]);
    assert_eq!(code(&output), 0, "4 MiB and 1 MiB kept free fit: {}", text(&output.stderr));
    assert!(installed_app(&device).join("Contents/Resources/zeros").exists());
}

/// A zip of the test app with `size` zero bytes in `Contents/Resources/zeros`.
fn app_zip_with_zeros(size: usize) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let unpacked = tempfile::tempdir().unwrap();
    let app = crate::app_fixtures::write_app(unpacked.path(), crate::app_fixtures::BUNDLE_ID, "1.0");
    let options = zip::write::SimpleFileOptions::default();
    for relative in ["Contents/Info.plist", "Contents/MacOS/Foo"] {
        writer.start_file(format!("Foo.app/{relative}"), options).unwrap();
        std::io::Write::write_all(&mut writer, &std::fs::read(app.join(relative)).unwrap()).unwrap();
    }
    writer.start_file("Foo.app/Contents/Resources/zeros", options).unwrap();
    std::io::Write::write_all(&mut writer, &vec![0; size]).unwrap();
    writer.finish().unwrap().into_inner()
}

/// Writes `name` in the device's download cache, last written `days` ago.
fn cached_file(device: &Device, name: &str, bytes: &[u8], days: u64) {
    let path = cache_dir(device).join(name);
    std::fs::create_dir_all(cache_dir(device)).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let written = std::time::SystemTime::now() - Duration::from_secs(days * 24 * 60 * 60);
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_times(std::fs::FileTimes::new().set_modified(written)).unwrap();
}

#[test]
fn the_daily_check_in_prunes_abandoned_partials_and_installers_no_item_names() {
    let device = Device::new();
    let server = FileServer::start();
    // The item's verified installer stays for the retry after its install failed.
    let not_a_zip = b"not a zip archive".to_vec();
    let wanted = format!("{}.zip", sha256(&not_a_zip));
    server.serve("/Foo.zip", not_a_zip.clone());
    cached_file(&device, &wanted, &not_a_zip, 0);
    let unneeded = format!("{}.dmg", sha256(b"an app no item installs any more"));
    let abandoned = format!("{}.pkg.partial", sha256(b"abandoned"));
    let resuming = format!("{}.pkg.partial", sha256(b"resuming"));
    for (name, days) in [(&unneeded, 0), (&abandoned, 8), (&resuming, 6)] {
        cached_file(&device, name, b"bytes", days);
    }
    cached_file(&device, "kept-by-the-admin.txt", b"not the cache's", 30);
    let app = custom_app("zip", &server.url("/Foo.zip"), &sha256(&not_a_zip), "audit_and_enforce", None);
    let blueprint_file = device.write_blueprint(&blueprint(vec![app]));

    let output = device.check_in(&blueprint_file, &["--reset-daily"]);
    assert_eq!(code(&output), 1, "the install fails: {}", text(&output.stderr));
    let mut expected = vec![wanted.clone(), resuming.clone(), "kept-by-the-admin.txt".to_string()];
    expected.sort();
    assert_eq!(cache_files(&device), expected);
    assert_eq!(server.requests("/Foo.zip").len(), 0, "the verified installer was used from the cache");

    // A recurring check-in leaves the cache alone; the next daily one prunes it.
    cached_file(&device, &unneeded, b"bytes", 0);
    device.check_in(&blueprint_file, &[]);
    assert!(cache_files(&device).contains(&unneeded), "{:?}", cache_files(&device));
    device.check_in(&blueprint_file, &["--reset-daily"]);
    assert!(!cache_files(&device).contains(&unneeded), "{:?}", cache_files(&device));
    let logs = text(&device.run(&["logs", "--json"]).stdout);
    assert!(logs.contains("no library item names its sha256"), "{logs}");
}
