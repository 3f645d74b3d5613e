//! Installing from a zip: unpacked by the agent itself (modes and symlinks kept,
//! entries that would escape the folder refused), then swapped into place.

use std::path::Path;

use super::error::InstallError;
use super::placement::{Staging, files, find_bundle, replace_bundle};

/// Unpacks `archive` beside `destination` and puts its `bundle` there.
///
/// Unpacking a verified local file is not interrupted part way; the item's
/// deadline is checked by the steps around it.
pub(super) async fn install(archive: &Path, destination: &Path, bundle: &str) -> Result<(), InstallError> {
    let staging = Staging::beside(destination)?;
    let folder = staging.path().join("unpacked");
    let (archive_path, unpack_into) = (archive.to_path_buf(), folder.clone());
    tokio::task::spawn_blocking(move || unpack(&archive_path, &unpack_into))
        .await
        .map_err(|error| InstallError::Unpack { reason: error.to_string() })??;
    let found = find_bundle(&folder, bundle, "zip")?;
    replace_bundle(&found, destination)
}

/// Extracts every entry of `archive` into `folder`.
fn unpack(archive: &Path, folder: &Path) -> Result<(), InstallError> {
    let file = std::fs::File::open(archive).map_err(files("open", archive))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|error| InstallError::Unpack { reason: error.to_string() })?;
    zip.extract(folder).map_err(|error| InstallError::Unpack { reason: error.to_string() })
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    use zip::write::SimpleFileOptions;

    use super::*;

    fn archive(path: &Path, entries: impl FnOnce(&mut zip::ZipWriter<std::fs::File>)) {
        let mut writer = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        entries(&mut writer);
        writer.finish().unwrap();
    }

    #[tokio::test]
    async fn modes_and_symlinks_survive_and_the_bundle_lands_whole() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("foo.zip");
        archive(&path, |writer| {
            let executable = SimpleFileOptions::default().unix_permissions(0o755);
            writer.add_directory("Foo.app/Contents/Frameworks/Bar.framework/Versions/A", executable).unwrap();
            writer.start_file("Foo.app/Contents/MacOS/Foo", executable).unwrap();
            writer.write_all(b"#!/bin/sh\n").unwrap();
            writer
                .start_file("Foo.app/Contents/Info.plist", SimpleFileOptions::default().unix_permissions(0o644))
                .unwrap();
            writer.write_all(b"<plist/>").unwrap();
            writer.add_symlink("Foo.app/Contents/Frameworks/Bar.framework/Versions/Current", "A", executable).unwrap();
            writer.start_file("__MACOSX/Foo.app/._Info.plist", SimpleFileOptions::default()).unwrap();
        });
        let destination = folder.path().join("Applications/Foo.app");
        install(&path, &destination, "Foo.app").await.unwrap();
        let mode = |relative: &str| std::fs::metadata(destination.join(relative)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("Contents/MacOS/Foo"), 0o755);
        assert_eq!(mode("Contents/Info.plist"), 0o644);
        let link = destination.join("Contents/Frameworks/Bar.framework/Versions/Current");
        assert_eq!(std::fs::read_link(link).unwrap(), Path::new("A"));
        let applications: Vec<_> = std::fs::read_dir(destination.parent().unwrap()).unwrap().collect();
        assert_eq!(applications.len(), 1, "the staging folder is gone");
    }

    #[tokio::test]
    async fn escaping_entries_and_missing_bundles_are_refused() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("evil.zip");
        archive(&path, |writer| {
            writer.add_symlink("Foo.app/Contents", "../../..", SimpleFileOptions::default()).unwrap();
            writer.start_file("Foo.app/Contents/escaped", SimpleFileOptions::default()).unwrap();
        });
        let destination = folder.path().join("Applications/Foo.app");
        let error = install(&path, &destination, "Foo.app").await.unwrap_err();
        assert!(error.to_string().starts_with("cannot unpack the zip"), "{error}");
        assert!(!folder.path().join("escaped").exists() && !destination.exists());

        let other = folder.path().join("other.zip");
        archive(&other, |writer| writer.add_directory("Other.app/Contents", SimpleFileOptions::default()).unwrap());
        let error = install(&other, &destination, "Foo.app").await.unwrap_err();
        assert_eq!(error.to_string(), "Foo.app is not in the zip (found: Other.app)");
        std::fs::write(folder.path().join("junk.zip"), "not a zip").unwrap();
        let error = install(&folder.path().join("junk.zip"), &destination, "Foo.app").await.unwrap_err();
        assert!(error.to_string().starts_with("cannot unpack the zip"), "{error}");
    }
}
