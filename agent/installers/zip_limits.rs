//! The limits every zip is held to before and while the agent unpacks it, so a
//! zip bomb (millions of entries, a few kilobytes that inflate to terabytes, or
//! a header that understates what follows) fills neither the disk nor the
//! agent's time. A disk image's bundle is held to the same limits before `ditto`
//! copies it ([`check_image_bundle`]): a small compressed image can hold a huge one.
//!
//! The central directory is checked before anything is written: the number of
//! entries, the unpacked size it declares, each entry's path, and that the
//! declared size fits in the free space of the app's volume. While unpacking,
//! an entry may not yield one byte more than its header declared, so what is
//! written can never pass what was checked.

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::error::InstallError;
use super::staged_bundle;
use crate::safe_path::{Folder, free_bytes};

/// The most entries a zip may hold. The largest app bundles hold some hundred
/// thousand files (Xcode about 250,000).
pub(super) const MOST_ENTRIES: usize = 1_000_000;
/// The most bytes a zip may unpack to: 32 GiB. The largest apps installed from a
/// zip or a disk image (Xcode, at some 10 to 20 GB) stay well under it; bigger
/// payloads (games, audio libraries) come as pkgs.
pub(super) const MOST_BYTES: u64 = 32 << 30;

/// Checks what the zip's central directory declares against the limits and the
/// free space of `staging` (open), which must keep `left_free` bytes
/// (`downloads.min_free_space`); answers the unpacked size it declares.
pub(super) fn check_declared<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    archive: &Path,
    staging: &Folder,
    left_free: u64,
) -> Result<u64, InstallError> {
    let refused = |reason: String| InstallError::ZipLimit { archive: archive.to_path_buf(), reason };
    if zip.len() > MOST_ENTRIES {
        return Err(refused(format!("it has {} entries, more than the {MOST_ENTRIES} allowed", zip.len())));
    }
    let mut declared: u64 = 0;
    for index in 0..zip.len() {
        let entry = zip.by_index_raw(index).map_err(|error| refused(error.to_string()))?;
        if let Some(reason) = staged_bundle::path_too_long(Path::new(entry.name())) {
            return Err(refused(format!(
                "the path of its entry {:?} is {reason}",
                staged_bundle::shortened(entry.name())
            )));
        }
        declared = declared.saturating_add(entry.size());
    }
    if declared > MOST_BYTES {
        return Err(refused(format!("it unpacks to {declared} bytes, more than the {MOST_BYTES} (32 GiB) allowed")));
    }
    room_for(declared, staging, left_free).map_err(|reason| refused(format!("it unpacks to {reason}")))?;
    Ok(declared)
}

/// Checks the bundle at `source` in a mounted disk image (`image`, as downloaded)
/// against the zip limits and the free space of `staging` (keeping `left_free`
/// bytes), before it is copied:
/// its entries are counted and its files' sizes added up without following a
/// link, stopping at the first limit crossed.
pub(super) fn check_image_bundle(
    source: &Path,
    image: &Path,
    staging: &Folder,
    left_free: u64,
) -> Result<(), InstallError> {
    let refused = |reason: String| InstallError::ImageLimit { image: image.to_path_buf(), reason };
    let unreadable = |path: &Path, error: std::io::Error| refused(format!("cannot read {}: {error}", path.display()));
    let (mut entries, mut bytes): (usize, u64) = (0, 0);
    let mut folders: Vec<PathBuf> = vec![source.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).map_err(|error| unreadable(&folder, error))? {
            let entry = entry.map_err(|error| unreadable(&folder, error))?;
            let metadata = std::fs::symlink_metadata(entry.path()).map_err(|error| unreadable(&entry.path(), error))?;
            entries += 1;
            if entries > MOST_ENTRIES {
                return Err(refused(format!("its bundle has more than the {MOST_ENTRIES} entries allowed")));
            }
            if metadata.is_dir() {
                folders.push(entry.path());
            } else if metadata.is_file() {
                bytes = bytes.saturating_add(metadata.size());
                if bytes > MOST_BYTES {
                    return Err(refused(format!("its bundle holds more than the {MOST_BYTES} bytes (32 GiB) allowed")));
                }
            }
        }
    }
    room_for(bytes, staging, left_free).map_err(|reason| refused(format!("its bundle holds {reason}")))
}

/// Whether `bytes` fit on the volume of `staging` with `left_free` to spare; if
/// not, why (`N bytes, and … has only M bytes free …`, or the free space unknown).
fn room_for(bytes: u64, staging: &Folder, left_free: u64) -> Result<(), String> {
    let free = free_bytes(staging.as_fd())
        .map_err(|errno| format!("{bytes} bytes, and the free space is unknown: {errno}"))?;
    if bytes.saturating_add(left_free) > free {
        return Err(format!(
            "{bytes} bytes, and {} has only {free} bytes free ({left_free} are kept free: downloads.min_free_space)",
            staging.path().display()
        ));
    }
    Ok(())
}

/// Copies the entry `name` into `written`, refusing it once it yields more than
/// the `declared` bytes of its header; answers the bytes written.
pub(super) fn copy_entry(
    entry: &mut impl Read,
    written: &mut impl Write,
    name: &str,
    declared: u64,
    archive: &Path,
) -> Result<u64, InstallError> {
    let copied = std::io::copy(&mut entry.take(declared.saturating_add(1)), written)
        .map_err(|error| InstallError::Unpack { reason: format!("{name:?}: {error}") })?;
    if copied > declared {
        let reason = format!(
            "its entry {:?} holds more than the {declared} bytes its header declares",
            staged_bundle::shortened(name)
        );
        return Err(InstallError::ZipLimit { archive: archive.to_path_buf(), reason });
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use zip::write::SimpleFileOptions;

    use super::*;

    #[test]
    fn an_entry_may_yield_what_its_header_declares_and_not_one_byte_more() {
        let archive = Path::new("/cache/foo.zip");
        let mut written = Vec::new();
        assert_eq!(copy_entry(&mut &b"hello"[..], &mut written, "Foo.app/a", 5, archive).unwrap(), 5);
        assert_eq!(written, b"hello");
        let error = copy_entry(&mut &b"hello!"[..], &mut Vec::new(), "Foo.app/a", 5, archive).unwrap_err();
        let expected =
            "refused the zip /cache/foo.zip: its entry \"Foo.app/a\" holds more than the 5 bytes its header declares";
        assert_eq!(error.to_string(), expected);
    }

    #[test]
    fn an_entry_path_past_macos_path_max_is_refused_before_anything_is_written() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("long.zip");
        let mut writer = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        writer.start_file(format!("Foo.app/{}", "x".repeat(1020)), SimpleFileOptions::default()).unwrap();
        writer.write_all(b"x").unwrap();
        writer.finish().unwrap();
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        let staging = Folder::trusted(folder.path()).unwrap();
        let error = check_declared(&mut zip, &path, &staging, 0).unwrap_err().to_string();
        assert!(error.ends_with("xxx…\" is longer than 1024 bytes"), "{error}");
    }
}
