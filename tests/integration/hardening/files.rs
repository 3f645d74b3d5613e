//! No symlink followed on the way to a file the agent writes; safe modes for
//! archives, managed files and app bundles.
//!
//! Each writer gets its own test: a folder on its way is a symlink to a folder
//! outside the scratch root, and nothing there may change. Modes: a zip's
//! set-id and world-write bits are cleared, and so are a dmg's, a managed
//! file's special mode needs `allow_special_modes`, and an app bundle linking
//! outside itself is refused. Zip bombs: a zip of more entries or declaring more
//! unpacked bytes than allowed, or inflating past what its header declares,
//! places nothing.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use zip::write::SimpleFileOptions;

use crate::app_fixtures::{
    BUNDLE_ID, DITTO, HDIUTIL, app_zip, app_zip_with, applications_entries, custom_app, installed_app, sha256,
    stand_in, tar_of, write_app,
};
use crate::http_server::FileServer;
use crate::support::{Device, blueprint, code, item, running_as_root, script, text};

/// A folder outside the device's root holding one file, `victim`, with
/// `content` and mode 0600, to show nothing reached it.
struct Outside {
    folder: tempfile::TempDir,
    content: Vec<u8>,
}

impl Outside {
    fn with_victim(content: &[u8]) -> Self {
        let folder = tempfile::tempdir().unwrap();
        std::fs::write(folder.path().join("victim"), content).unwrap();
        std::fs::set_permissions(folder.path().join("victim"), std::fs::Permissions::from_mode(0o600)).unwrap();
        Self { folder, content: content.to_vec() }
    }

    fn path(&self) -> &Path {
        self.folder.path()
    }

    /// Links `relative` under the device's root to this folder (parents made).
    fn linked_from(&self, device: &Device, relative: &str) -> PathBuf {
        let link = device.root().join(relative);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        symlink(self.path(), &link).unwrap();
        link
    }

    /// The victim is as it was and nothing else appeared.
    fn assert_untouched(&self) {
        let victim = self.path().join("victim");
        assert_eq!(std::fs::read(&victim).unwrap(), self.content, "the outside file's content changed");
        let mode = std::fs::symlink_metadata(&victim).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600, "the outside file's mode changed");
        let names: Vec<_> = std::fs::read_dir(self.path()).unwrap().map(|entry| entry.unwrap().file_name()).collect();
        assert_eq!(names, ["victim"], "something was written outside the root");
    }
}

fn with_parameters(parameters: Value) -> Value {
    json!({ "id": "bp-files", "name": "Files", "team_id": "T-1", "parameters": parameters })
}

fn parameter_message(device: &Device, id: &str) -> String {
    let status = device.status();
    let parameters = status["last_run"]["parameters"].as_array().cloned().unwrap_or_default();
    let found = parameters.iter().find(|parameter| parameter["id"] == id).unwrap_or_else(|| panic!("{status:#}"));
    assert_eq!(found["status"], "failed", "{found:#}");
    found["message"].as_str().unwrap_or_default().to_string()
}

fn item_message(device: &Device, name: &str) -> String {
    let status = device.status();
    let found = item(&status, name);
    assert_eq!(found["status"], "failed", "{found:#}");
    found["message"].as_str().unwrap_or_default().to_string()
}

fn assert_refused_link(message: &str, link: &Path) {
    let expected = format!("refused {}: it is a symbolic link", link.display());
    assert!(message.contains(&expected), "{message:?} should contain {expected:?}");
}

#[test]
fn a_managed_file_under_a_symlinked_folder_is_refused() {
    let (device, outside) = (Device::new(), Outside::with_victim(b"outside\n"));
    let link = outside.linked_from(&device, "usr/local/etc");
    let path = device.write_blueprint(&with_parameters(json!({
        "managed_files": [{ "path": "/usr/local/etc/victim", "content": "rewritten\n", "mode": "0644" }]
    })));
    let output = device.check_in(&path, &[]);
    assert_eq!(code(&output), 1, "a refused file fails the run: {}", text(&output.stderr));
    assert_refused_link(&parameter_message(&device, "managed_files"), &link);
    outside.assert_untouched();
}

#[test]
fn a_managed_plist_under_a_symlinked_folder_is_refused() {
    let mut bytes = Vec::new();
    plist::Value::Dictionary([("Kept".to_string(), plist::Value::from(true))].into_iter().collect())
        .to_writer_xml(&mut bytes)
        .unwrap();
    let (device, outside) = (Device::new(), Outside::with_victim(&bytes));
    let link = outside.linked_from(&device, "Library/Preferences");
    let path = device.write_blueprint(&with_parameters(json!({
        "managed_plists": [{ "path": "/Library/Preferences/victim", "key": "AutoUpdate", "value": true }]
    })));
    assert_eq!(code(&device.check_in(&path, &[])), 1);
    assert_refused_link(&parameter_message(&device, "managed_plists"), &link);
    outside.assert_untouched();
}

#[test]
fn a_symlink_at_a_managed_file_is_replaced_never_followed() {
    let (device, outside) = (Device::new(), Outside::with_victim(b"outside\n"));
    let file = device.root().join("etc/motd");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    symlink(outside.path().join("victim"), &file).unwrap();
    let path = device.write_blueprint(&with_parameters(json!({
        "managed_files": [{ "path": "/etc/motd", "content": "Authorized use only.\n", "mode": "0644" }]
    })));
    device.check_in_ok(&path, &[]);
    let metadata = std::fs::symlink_metadata(&file).unwrap();
    assert!(metadata.file_type().is_file(), "the link was replaced by a file");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "Authorized use only.\n");
    outside.assert_untouched();
}

/// A custom app item for `zip`, served over HTTP on 127.0.0.1.
fn zip_app_blueprint(device: &Device, server: &FileServer, zip: Vec<u8>) -> PathBuf {
    let item = custom_app("zip", &server.url("/Foo.zip"), &sha256(&zip), "audit_and_enforce", None);
    server.serve("/Foo.zip", zip);
    device.write_blueprint(&blueprint(vec![item]))
}

#[test]
fn an_app_is_never_placed_through_a_symlinked_applications_folder() {
    let (device, server, outside) = (Device::new(), FileServer::start(), Outside::with_victim(b"outside\n"));
    let link = outside.linked_from(&device, "Applications");
    let path = zip_app_blueprint(&device, &server, app_zip("2.1", 64));
    assert_eq!(code(&device.check_in(&path, &[])), 1);
    assert_refused_link(&item_message(&device, "Foo"), &link);
    outside.assert_untouched();
}

#[test]
fn a_symlinked_download_cache_is_refused() {
    let (device, server, outside) = (Device::new(), FileServer::start(), Outside::with_victim(b"outside\n"));
    let link = outside.linked_from(&device, "Library/Application Support/EndpointAgent/state/downloads");
    let path = zip_app_blueprint(&device, &server, app_zip("2.1", 64));
    assert_eq!(code(&device.check_in(&path, &[])), 1);
    assert_refused_link(&item_message(&device, "Foo"), &link);
    outside.assert_untouched();
    assert!(!installed_app(&device).exists());
}

#[test]
fn a_symlinked_scripts_folder_is_refused_and_the_check_in_says_why() {
    let (device, outside) = (Device::new(), Outside::with_victim(b"outside\n"));
    let link = outside.linked_from(&device, "Library/Application Support/EndpointAgent/state/scripts");
    let path = device.write_blueprint(&blueprint(vec![script("li-1", "Hello", "#!/bin/sh\nexit 0\n")]));
    assert_eq!(code(&device.check_in(&path, &[])), 1);
    let message = item_message(&device, "Hello");
    assert!(message.starts_with("cannot prepare the item's folder: "), "{message}");
    assert_refused_link(&message, &link);
    outside.assert_untouched();
}

#[test]
fn a_zip_entry_loses_its_set_id_and_world_write_bits() {
    let (device, server) = (Device::new(), FileServer::start());
    let zip = app_zip_with("2.1", 64, |writer| {
        let special = SimpleFileOptions::default().unix_permissions(0o6777);
        writer.start_file("Foo.app/Contents/MacOS/helper", special).unwrap();
        writer.write_all(b"#!/bin/sh\n").unwrap();
    });
    let path = zip_app_blueprint(&device, &server, zip);
    device.check_in_ok(&path, &[]);
    let helper = installed_app(&device).join("Contents/MacOS/helper");
    let mode = std::fs::metadata(helper).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o775, "set-user-id, set-group-id and world-write are cleared, got {mode:o}");
}

#[test]
fn an_app_bundle_linking_outside_itself_is_refused_and_nothing_placed() {
    let (device, server) = (Device::new(), FileServer::start());
    let zip = app_zip_with("2.1", 64, |writer| {
        writer.add_symlink("Foo.app/Contents/Resources/link", "/etc/passwd", SimpleFileOptions::default()).unwrap();
    });
    let path = zip_app_blueprint(&device, &server, zip);
    assert_eq!(code(&device.check_in(&path, &[])), 1);
    let message = item_message(&device, "Foo");
    let expected =
        "refused Foo.app: its symbolic link Contents/Resources/link points to /etc/passwd, outside the bundle";
    assert!(message.contains(expected), "{message}");
    let placed: Vec<_> = std::fs::read_dir(device.root().join("Applications"))
        .map(|entries| entries.map(|entry| entry.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(placed.is_empty(), "nothing is placed, no staging folder is left: {placed:?}");
}

#[test]
fn a_special_managed_file_mode_needs_allow_special_modes() {
    let device = Device::new();
    let entry = json!({ "path": "/usr/local/bin/tool", "content": "#!/bin/sh\n", "mode": "4755" });
    let path = device.write_blueprint(&with_parameters(json!({ "managed_files": [entry.clone()] })));
    let output = device.check_in(&path, &[]);
    assert_eq!(code(&output), 2, "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("\"parameters.managed_files[0].mode\": 4755 has the set-user-id bit"), "{stderr}");
    assert!(stderr.contains("allow_special_modes"), "{stderr}");
    assert!(!device.root().join("usr/local/bin/tool").exists(), "nothing is written by a refused blueprint");

    let mut allowed = entry;
    allowed["allow_special_modes"] = json!(true);
    let path = device.write_blueprint(&with_parameters(json!({ "managed_files": [allowed] })));
    device.check_in_ok(&path, &[]);
    let mode = std::fs::metadata(device.root().join("usr/local/bin/tool")).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o4755);
}

#[test]
fn a_symlinked_state_folder_stops_the_check_in_before_anything_is_written() {
    let (device, outside) = (Device::new(), Outside::with_victim(b"outside\n"));
    let link = outside.linked_from(&device, "Library/Application Support/EndpointAgent/state");
    let path = device.write_blueprint(&blueprint(vec![script("li-1", "Hello", "#!/bin/sh\nexit 0\n")]));
    let output = device.check_in(&path, &[]);
    assert_ne!(code(&output), 0);
    assert_refused_link(&text(&output.stderr), &link);
    outside.assert_untouched();
}

#[test]
fn a_dmg_bundle_loses_its_set_id_and_world_write_bits() {
    let (device, server) = (Device::new(), FileServer::start());
    let image_folder = tempfile::tempdir().unwrap();
    let app = write_app(image_folder.path(), BUNDLE_ID, "5.0");
    std::fs::write(app.join("Contents/MacOS/helper"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(app.join("Contents/MacOS/helper"), std::fs::Permissions::from_mode(0o6777)).unwrap();
    std::fs::create_dir(app.join("Contents/Shared")).unwrap();
    std::fs::set_permissions(app.join("Contents/Shared"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let output = check_in_from_dmg(&device, &server, image_folder.path(), HDIUTIL);
    assert_eq!(code(&output), 0, "{}{}", text(&output.stdout), text(&output.stderr));
    let mode = |relative: &str| {
        std::fs::metadata(installed_app(&device).join(relative)).unwrap().permissions().mode() & 0o7777
    };
    assert_eq!(mode("Contents/MacOS/helper"), 0o775, "set-user-id, set-group-id and world-write are cleared");
    assert_eq!(mode("Contents/Shared"), 0o775, "sticky and world-write are cleared");
    assert_eq!(mode("Contents/MacOS/Foo"), 0o755, "ordinary modes are kept");
}

#[test]
fn a_dmg_bundle_belongs_to_the_agent_whatever_owners_the_image_records() {
    if !running_as_root("giving an image's files to nobody") {
        return;
    }
    let (device, server) = (Device::new(), FileServer::start());
    let image_folder = tempfile::tempdir().unwrap();
    let app = write_app(image_folder.path(), BUNDLE_ID, "5.0");
    let nobody = nix::unistd::User::from_name("nobody").unwrap().expect("a nobody user");
    for relative in ["", "Contents", "Contents/MacOS/Foo", "Contents/Info.plist"] {
        let path = app.join(relative);
        nix::unistd::chown(&path, Some(nobody.uid), Some(nobody.gid)).unwrap();
    }
    symlink("MacOS/Foo", app.join("Contents/link")).unwrap();
    nix::unistd::fchownat(
        nix::fcntl::AT_FDCWD,
        &app.join("Contents/link"),
        Some(nobody.uid),
        Some(nobody.gid),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .unwrap();
    let output = check_in_from_dmg(&device, &server, image_folder.path(), HDIUTIL);
    assert_eq!(code(&output), 0, "{}{}", text(&output.stdout), text(&output.stderr));
    for relative in ["", "Contents", "Contents/MacOS/Foo", "Contents/Info.plist", "Contents/link"] {
        let metadata = std::fs::symlink_metadata(installed_app(&device).join(relative)).unwrap();
        assert_eq!((metadata.uid(), metadata.gid()), (0, 0), "{relative:?} belongs to the agent, not nobody");
    }
}

#[test]
fn a_disk_image_holding_a_bundle_past_32_gib_is_refused_before_it_is_copied() {
    let (device, server) = (Device::new(), FileServer::start());
    let image_folder = tempfile::tempdir().unwrap();
    write_app(image_folder.path(), BUNDLE_ID, "5.0");
    // The mounted image holds a 33 GiB file (sparse: it takes no room here).
    let attach_huge = HDIUTIL.replacen(
        "    printf '/dev/disk4",
        "    truncate -s 33G \"$5/Foo.app/Contents/Resources.bin\"\n    printf '/dev/disk4",
        1,
    );
    let output = check_in_from_dmg(&device, &server, image_folder.path(), &attach_huge);
    assert_eq!(code(&output), 1, "{}{}", text(&output.stdout), text(&output.stderr));
    let message = item_message(&device, "Foo");
    assert!(message.starts_with("refused the disk image "), "{message}");
    assert!(message.ends_with("its bundle holds more than the 34359738368 bytes (32 GiB) allowed"), "{message}");
    assert!(!device.root().join("tools/ditto.log").exists(), "ditto never ran");
    assert!(applications_entries(&device).is_empty(), "nothing is placed, no staging folder is left");
}

/// A check-in of a custom app served as a disk image of `image_folder`, mounted by
/// a stand-in `hdiutil` running `hdiutil_body` and copied by a stand-in `ditto`.
fn check_in_from_dmg(
    device: &Device,
    server: &FileServer,
    image_folder: &Path,
    hdiutil_body: &str,
) -> std::process::Output {
    let image = tar_of(image_folder);
    server.serve("/Foo.dmg", image.clone());
    let (hdiutil, ditto) = (stand_in(device, "hdiutil", hdiutil_body), stand_in(device, "ditto", DITTO));
    let item = custom_app("dmg", &server.url("/Foo.dmg"), &sha256(&image), "audit_and_enforce", None);
    let path = device.write_blueprint(&blueprint(vec![item]));
    let (hdiutil, ditto) =
        (format!("commands.hdiutil={}", hdiutil.display()), format!("commands.ditto={}", ditto.display()));
    device.check_in(&path, &["--set", &hdiutil, "--set", &ditto])
}

/// Rewrites the unpacked size the headers of the entry `name` declare (its
/// local header and its central directory record), as a hostile zip would.
fn declare_size(zip: &mut [u8], name: &str, size: u32) {
    let mut patched = 0;
    for at in 0..zip.len().saturating_sub(46) {
        let (signature, size_at, name_length_at, name_at) = match &zip[at..at + 4] {
            [0x50, 0x4b, 0x03, 0x04] => ("local", 22, 26, 30),
            [0x50, 0x4b, 0x01, 0x02] => ("central", 24, 28, 46),
            _ => continue,
        };
        let length = u16::from_le_bytes([zip[at + name_length_at], zip[at + name_length_at + 1]]) as usize;
        if zip.get(at + name_at..at + name_at + length) == Some(name.as_bytes()) {
            zip[at + size_at..at + size_at + 4].copy_from_slice(&size.to_le_bytes());
            patched += 1;
            assert!(signature == "local" || patched == 2);
        }
    }
    assert_eq!(patched, 2, "{name} has a local header and a central record");
}

fn assert_refused_and_nothing_placed(device: &Device, expected: &str) {
    let message = item_message(device, "Foo");
    assert!(message.starts_with("refused the zip "), "{message}");
    assert!(message.contains(".zip: "), "the zip is named: {message}");
    assert!(message.ends_with(expected), "{message:?} should end with {expected:?}");
    assert!(applications_entries(device).is_empty(), "nothing is placed, no staging folder is left");
}

#[test]
fn a_zip_declaring_more_than_32_gib_unpacked_is_refused_and_nothing_placed() {
    let (device, server) = (Device::new(), FileServer::start());
    let names: Vec<String> = (0..9).map(|index| format!("Foo.app/Contents/Resources/part{index}")).collect();
    let mut zip = app_zip_with("2.1", 64, |writer| {
        for name in &names {
            writer.start_file(name.as_str(), SimpleFileOptions::default()).unwrap();
        }
    });
    for name in &names {
        declare_size(&mut zip, name, 0xF000_0000);
    }
    let path = zip_app_blueprint(&device, &server, zip);
    assert_eq!(code(&device.check_in(&path, &[])), 1);
    assert_refused_and_nothing_placed(&device, "more than the 34359738368 (32 GiB) allowed");
}

#[test]
fn a_zip_entry_inflating_past_what_its_header_declares_is_refused_and_nothing_placed() {
    let (device, server) = (Device::new(), FileServer::start());
    let mut zip = app_zip_with("2.1", 64, |writer| {
        let deflated = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        writer.start_file("Foo.app/Contents/Resources/bomb", deflated).unwrap();
        writer.write_all(&vec![0; 1 << 20]).unwrap();
    });
    declare_size(&mut zip, "Foo.app/Contents/Resources/bomb", 16);
    let path = zip_app_blueprint(&device, &server, zip);
    assert_eq!(code(&device.check_in(&path, &[])), 1);
    let expected = "its entry \"Foo.app/Contents/Resources/bomb\" holds more than the 16 bytes its header declares";
    assert_refused_and_nothing_placed(&device, expected);
}

/// A zip64 of `count` empty files, every central directory record sharing one
/// local header: over a million entries in some 50 MB, built in well under a second.
fn zip_of_empty_entries(count: u64) -> Vec<u8> {
    let mut zip = Vec::with_capacity(count as usize * 54 + 200);
    let local: [&[u8]; 4] = [&0x0403_4b50_u32.to_le_bytes(), &20_u16.to_le_bytes(), &[0; 20], &[1, 0, 0, 0]];
    local.iter().for_each(|part| zip.extend_from_slice(part));
    zip.push(b'a');
    let directory_start = zip.len() as u64;
    for index in 0..count {
        zip.extend_from_slice(&0x0201_4b50_u32.to_le_bytes());
        zip.extend_from_slice(&[0x1e, 0x03, 20, 0]);
        zip.extend_from_slice(&[0; 20]);
        zip.extend_from_slice(&[8, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        zip.extend_from_slice(&(0o100_644_u32 << 16).to_le_bytes());
        zip.extend_from_slice(&[0; 4]);
        zip.extend_from_slice(format!("e{index:07}").as_bytes());
    }
    let (directory_size, end_start) = (zip.len() as u64 - directory_start, zip.len() as u64);
    zip.extend_from_slice(&0x0606_4b50_u32.to_le_bytes());
    zip.extend_from_slice(&44_u64.to_le_bytes());
    zip.extend_from_slice(&[0x1e, 0x03, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    for value in [count, count, directory_size, directory_start] {
        zip.extend_from_slice(&value.to_le_bytes());
    }
    zip.extend_from_slice(&0x0706_4b50_u32.to_le_bytes());
    zip.extend_from_slice(&[0; 4]);
    zip.extend_from_slice(&end_start.to_le_bytes());
    zip.extend_from_slice(&1_u32.to_le_bytes());
    zip.extend_from_slice(&0x0605_4b50_u32.to_le_bytes());
    zip.extend_from_slice(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0]);
    zip
}

#[test]
fn a_zip_of_more_than_a_million_entries_is_refused_and_nothing_placed() {
    let (device, server) = (Device::new(), FileServer::start());
    let path = zip_app_blueprint(&device, &server, zip_of_empty_entries(1_000_001));
    assert_eq!(code(&device.check_in(&path, &[])), 1);
    assert_refused_and_nothing_placed(&device, "it has 1000001 entries, more than the 1000000 allowed");
}
