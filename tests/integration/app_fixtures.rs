//! What the app tests build: app bundles (on disk, zipped with the `zip` crate,
//! or tarred for the stand-ins), blueprint items, stand-ins for the macOS
//! install tools that record their arguments, and readers for the results.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

use crate::support::Device;

/// The bundle identifier every test app has.
pub const BUNDLE_ID: &str = "com.example.foo";

/// The `Info.plist` of a test app, as XML.
fn info_plist(identifier: &str, version: &str) -> Vec<u8> {
    let mut dictionary = plist::Dictionary::new();
    dictionary.insert("CFBundleIdentifier".into(), identifier.into());
    dictionary.insert("CFBundleShortVersionString".into(), version.into());
    dictionary.insert("CFBundleExecutable".into(), "Foo".into());
    let mut bytes = Vec::new();
    plist::Value::Dictionary(dictionary).to_writer_xml(&mut bytes).unwrap();
    bytes
}

/// A zip of `Foo.app` at `version`: an executable (0755), its `Info.plist`, a
/// framework `Current` symlink, and `padding` bytes of stored data so a
/// download can be cut part way.
pub fn app_zip(version: &str, padding: usize) -> Vec<u8> {
    app_zip_with(version, padding, |_| {})
}

/// [`app_zip`] with more entries added by `extra`.
pub fn app_zip_with(
    version: &str,
    padding: usize,
    extra: impl FnOnce(&mut zip::ZipWriter<std::io::Cursor<Vec<u8>>>),
) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let executable = SimpleFileOptions::default().unix_permissions(0o755);
    let plain = SimpleFileOptions::default().unix_permissions(0o644);
    writer.add_directory("Foo.app/Contents/Frameworks/Bar.framework/Versions/A", executable).unwrap();
    writer.add_symlink("Foo.app/Contents/Frameworks/Bar.framework/Versions/Current", "A", executable).unwrap();
    writer.start_file("Foo.app/Contents/MacOS/Foo", executable).unwrap();
    writer.write_all(b"#!/bin/sh\necho Foo\n").unwrap();
    writer.start_file("Foo.app/Contents/Info.plist", plain).unwrap();
    writer.write_all(&info_plist(BUNDLE_ID, version)).unwrap();
    let stored = plain.compression_method(zip::CompressionMethod::Stored);
    writer.start_file("Foo.app/Contents/Resources/padding.bin", stored).unwrap();
    let noise: Vec<u8> = (0..padding).map(|index| (index * 7 % 251) as u8).collect();
    writer.write_all(&noise).unwrap();
    extra(&mut writer);
    writer.finish().unwrap().into_inner()
}

/// Writes `Foo.app` at `version` into `folder`, as an installed copy would be.
pub fn write_app(folder: &Path, identifier: &str, version: &str) -> PathBuf {
    let app = folder.join("Foo.app");
    std::fs::create_dir_all(app.join("Contents/MacOS")).unwrap();
    std::fs::write(app.join("Contents/Info.plist"), info_plist(identifier, version)).unwrap();
    std::fs::write(app.join("Contents/MacOS/Foo"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(app.join("Contents/MacOS/Foo"), std::fs::Permissions::from_mode(0o755)).unwrap();
    app
}

/// A tar of everything under `folder`: what the installer and hdiutil stand-ins unpack.
pub fn tar_of(folder: &Path) -> Vec<u8> {
    let output = std::process::Command::new("tar").arg("-cf").arg("-").arg("-C").arg(folder).arg(".").output().unwrap();
    assert!(output.status.success(), "tar: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

/// The sha256 of `bytes`, in lowercase hex.
pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A custom app item installing `Foo.app` from `url`.
pub fn custom_app(source: &str, url: &str, sha256: &str, enforcement: &str, version: Option<&str>) -> Value {
    let mut item = json!({
        "id": "li-foo", "name": "Foo", "type": "custom_app", "source": source, "url": url,
        "sha256": sha256, "app_name": "Foo.app", "bundle_id": BUNDLE_ID, "enforcement": enforcement,
    });
    if let Some(version) = version {
        item["version"] = json!(version);
    }
    item
}

/// An auto app item for the catalog's `Foo` at `version`.
pub fn auto_app(version: &str, url: &str, sha256: &str) -> Value {
    json!({ "id": "li-auto-foo", "name": "Foo (auto)", "type": "auto_app", "catalog": {
        "name": "Foo", "bundle_id": BUNDLE_ID, "version": version, "url": url, "sha256": sha256,
        "install_type": "zip", "app_name": "Foo.app" } })
}

/// The installed `Foo.app` on `device`.
pub fn installed_app(device: &Device) -> PathBuf {
    device.root().join("Applications/Foo.app")
}

/// The `CFBundleShortVersionString` of the installed `Foo.app`, if it is there.
pub fn installed_version(device: &Device) -> Option<String> {
    let value = plist::Value::from_file(installed_app(device).join("Contents/Info.plist")).ok()?;
    value.as_dictionary()?.get("CFBundleShortVersionString")?.as_string().map(str::to_string)
}

/// The download cache folder of `device`.
pub fn cache_dir(device: &Device) -> PathBuf {
    device.state_dir().join("downloads")
}

/// The names of the files in the download cache.
pub fn cache_files(device: &Device) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(cache_dir(device)) else {
        return Vec::new();
    };
    let mut names: Vec<String> =
        entries.filter_map(Result::ok).map(|entry| entry.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// Everything in the device's Applications folder, hidden entries included.
pub fn applications_entries(device: &Device) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(device.root().join("Applications")) else {
        return Vec::new();
    };
    let mut names: Vec<String> =
        entries.filter_map(Result::ok).map(|entry| entry.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// Writes a stand-in for a macOS tool at `tools/<name>`: it appends its
/// arguments, one invocation a line, to `tools/<name>.log`, then runs `body`.
pub fn stand_in(device: &Device, name: &str, body: &str) -> PathBuf {
    let log = device.root().join(format!("tools/{name}.log"));
    let script = format!("#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\n{body}", log.display());
    let path = device.write_file(&format!("tools/{name}"), &script);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The invocations a stand-in recorded, one per line.
pub fn recorded(device: &Device, name: &str) -> Vec<String> {
    let log = device.root().join(format!("tools/{name}.log"));
    std::fs::read_to_string(log).unwrap_or_default().lines().map(str::to_string).collect()
}

/// `installer -pkg FILE -target ROOT`: unpacks the "package" (a tar) onto the target.
pub const INSTALLER: &str = r#"[ "$1" = "-pkg" ] && [ "$3" = "-target" ] || { echo "installer: bad arguments"; exit 2; }
echo "installer: Package name is Foo"
tar -xf "$2" -C "$4" || { echo "installer: Error - the package is damaged"; exit 1; }
echo "installer: The install was successful."
"#;

/// `hdiutil attach … -mountpoint DIR IMAGE` "mounts" the image (a tar) by
/// unpacking it into DIR; `hdiutil detach [-force] DIR` empties DIR again.
pub const HDIUTIL: &str = r#"for last; do :; done
case "$1" in
attach)
    tar -xf "$last" -C "$5" || { echo "hdiutil: attach failed - image not recognized"; exit 1; }
    printf '/dev/disk4\tGUID_partition_scheme\t\n/dev/disk4s1\tApple_HFS\t%s\n' "$5" ;;
detach)
    find "$last" -mindepth 1 -delete && echo '"disk4" ejected.' ;;
*) echo "hdiutil: unknown verb $1"; exit 1 ;;
esac
"#;

/// `ditto SOURCE DESTINATION`: a copy that keeps modes and symlinks.
pub const DITTO: &str = "cp -a \"$1\" \"$2\"\n";
