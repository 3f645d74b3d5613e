//! Installing from a zip: unpacked by the agent itself into a root-only staging
//! folder, checked, then swapped into place.
//!
//! Every entry is written relative to the open staging folder without following
//! a link (an entry that would pass through one, or climb out with `..`, is
//! refused). Modes are kept, less what an archive must not give: set-user-id,
//! set-group-id, sticky and world-write bits are cleared as each entry is
//! written, and again by the walk every staged bundle gets
//! ([`super::staged_bundle`]). Symbolic links are kept, and the bundle is
//! refused if one points outside it. The zip is held to [`super::zip_limits`].
//! When the item names a team, the staged bundle's signature is checked
//! ([`super::signature`]) before it is swapped in.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::unistd::symlinkat;

use super::error::InstallError;
use super::placement::{Staging, files, find_bundle};
use super::signature::{self, SignatureCheck};
use super::staged_bundle::{self, KEPT_MODE_BITS};
use super::tools::Tools;
use super::zip_limits;
use crate::safe_path::{Folder, Missing};

/// The mode of a folder the archive implies without an entry of its own; the
/// staging folder around it is root-only until the bundle is placed.
const FOLDER_MODE: u32 = 0o755;
/// Links are short paths; a longer target is not a link an app needs.
const LONGEST_LINK_TARGET: u64 = 4096;

/// One zip install: the zip, and the bundle it must put where.
pub(super) struct Archive<'a> {
    /// The verified zip, in the download cache.
    pub archive: &'a Path,
    /// Where the bundle goes (inside the agent's root).
    pub destination: &'a Path,
    /// The bundle's name in the zip, such as `Foo.app`.
    pub bundle: &'a str,
    /// The bytes the app's volume keeps free after unpacking (`downloads.min_free_space`).
    pub left_free: u64,
}

/// Unpacks the zip beside its destination (inside the root `tools` run from)
/// and puts its bundle there, once it passes `check` when there is one.
///
/// Unpacking a verified local file is not interrupted part way; the item's
/// deadline is checked by the steps around it.
pub(super) async fn install(
    tools: &mut Tools<'_>,
    zip: &Archive<'_>,
    check: Option<SignatureCheck<'_>>,
) -> Result<(), InstallError> {
    let (archive, root, destination, bundle, left_free) =
        (zip.archive, tools.root(), zip.destination, zip.bundle, zip.left_free);
    let staging = Staging::beside(root, destination)?;
    let unpacked = staging.folder().descend(Path::new("unpacked"), Missing::Create(0o700))?;
    let folder = unpacked.path().to_path_buf();
    let archive_path = archive.to_path_buf();
    tokio::task::spawn_blocking(move || unpack(&archive_path, &unpacked, left_free))
        .await
        .map_err(|error| InstallError::Unpack { reason: error.to_string() })??;
    let found = find_bundle(&folder, bundle, "zip")?;
    staged_bundle::make_safe(&staging, &found, &staged_bundle::placed_at(root, destination))?;
    if let Some(check) = check {
        signature::check_app(tools, check, &found).await?;
    }
    staging.replace_bundle(&found)
}

/// Extracts every entry of `archive` into the open `folder`.
fn unpack(archive: &Path, folder: &Folder, left_free: u64) -> Result<(), InstallError> {
    let file = std::fs::File::open(archive).map_err(files("open", archive))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(unpack_error)?;
    zip_limits::check_declared(&mut zip, archive, folder, left_free)?;
    let mut folder_modes = Vec::new();
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).map_err(unpack_error)?;
        let name = entry.name().to_string();
        let relative = entry
            .enclosed_name()
            .ok_or_else(|| InstallError::Unpack { reason: format!("the entry {name:?} escapes the folder") })?;
        let mode = entry.unix_mode().map(|mode| mode & KEPT_MODE_BITS);
        if entry.is_dir() {
            folder.descend(&relative, Missing::Create(FOLDER_MODE)).map_err(unpack_error)?;
            folder_modes.push((relative, mode.unwrap_or(FOLDER_MODE)));
            continue;
        }
        let (Some(parent), Some(file_name)) = (relative.parent(), relative.file_name()) else { continue };
        let holder = folder.descend(parent, Missing::Create(FOLDER_MODE)).map_err(unpack_error)?;
        if entry.is_symlink() {
            let mut target = Vec::new();
            (&mut entry).take(LONGEST_LINK_TARGET).read_to_end(&mut target).map_err(files("read", archive))?;
            let target = OsStr::from_bytes(&target);
            symlinkat(target, holder.as_fd(), file_name)
                .map_err(|errno| unpack_error(format!("cannot make the link {name:?}: {errno}")))?;
        } else {
            let mut written = holder.create_file(file_name, 0o600).map_err(unpack_error)?;
            let declared = entry.size();
            zip_limits::copy_entry(&mut entry, &mut written, &name, declared, archive)?;
            let permissions = std::fs::Permissions::from_mode(mode.unwrap_or(0o644));
            written.set_permissions(permissions).map_err(|error| unpack_error(format!("{name:?}: {error}")))?;
        }
    }
    // Folder modes last, so a read-only folder does not stop its own entries.
    for (relative, mode) in folder_modes.into_iter().rev() {
        folder.descend(&relative, Missing::Fail).and_then(|opened| opened.set_mode(mode)).map_err(unpack_error)?;
    }
    Ok(())
}

fn unpack_error(reason: impl ToString) -> InstallError {
    InstallError::Unpack { reason: reason.to_string() }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    use zip::write::SimpleFileOptions;

    use super::*;

    /// Installs `bundle` from `archive` under `root` with no signature to check.
    async fn unzip(
        archive: &Path,
        root: &Path,
        destination: &Path,
        bundle: &str,
        left_free: u64,
    ) -> Result<(), InstallError> {
        let cancel = tokio_util::sync::CancellationToken::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        let grace = std::time::Duration::from_secs(1);
        let runner = crate::tool_runner::ToolRunner { root, environment: &[], deadline, grace, cancel: &cancel };
        let mut transcript = crate::tool_runner::Transcript::default();
        let zip = Archive { archive, destination, bundle, left_free };
        install(&mut Tools::new(runner, &mut transcript), &zip, None).await
    }

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
        unzip(&path, folder.path(), &destination, "Foo.app", 0).await.unwrap();
        let mode = |relative: &str| std::fs::metadata(destination.join(relative)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("Contents/MacOS/Foo"), 0o755);
        assert_eq!(mode("Contents/MacOS") & 0o555, 0o555, "implied folders are open to every user");
        assert_eq!(mode("Contents/Info.plist"), 0o644);
        let link = destination.join("Contents/Frameworks/Bar.framework/Versions/Current");
        assert_eq!(std::fs::read_link(link).unwrap(), Path::new("A"));
        let applications: Vec<_> = std::fs::read_dir(destination.parent().unwrap()).unwrap().collect();
        assert_eq!(applications.len(), 1, "the staging folder is gone");
    }

    #[tokio::test]
    async fn special_and_world_write_bits_are_cleared() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("foo.zip");
        archive(&path, |writer| {
            writer
                .add_directory("Foo.app/Contents/Shared", SimpleFileOptions::default().unix_permissions(0o1777))
                .unwrap();
            writer
                .start_file("Foo.app/Contents/MacOS/Foo", SimpleFileOptions::default().unix_permissions(0o6777))
                .unwrap();
            writer.write_all(b"#!/bin/sh\n").unwrap();
        });
        let destination = folder.path().join("Applications/Foo.app");
        unzip(&path, folder.path(), &destination, "Foo.app", 0).await.unwrap();
        let mode =
            |relative: &str| std::fs::metadata(destination.join(relative)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode("Contents/MacOS/Foo"), 0o775);
        assert_eq!(mode("Contents/Shared"), 0o775);
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
        let error = unzip(&path, folder.path(), &destination, "Foo.app", 0).await.unwrap_err();
        assert!(error.to_string().starts_with("cannot unpack the zip"), "{error}");
        assert!(!folder.path().join("escaped").exists() && !destination.exists());

        let other = folder.path().join("other.zip");
        archive(&other, |writer| writer.add_directory("Other.app/Contents", SimpleFileOptions::default()).unwrap());
        let error = unzip(&other, folder.path(), &destination, "Foo.app", 0).await.unwrap_err();
        assert_eq!(error.to_string(), "Foo.app is not in the zip (found: Other.app)");
        std::fs::write(folder.path().join("junk.zip"), "not a zip").unwrap();
        let error =
            unzip(&folder.path().join("junk.zip"), folder.path(), &destination, "Foo.app", 0).await.unwrap_err();
        assert!(error.to_string().starts_with("cannot unpack the zip"), "{error}");
    }
}
