//! The file operations parameters share: atomic writes, and mode and owner changes
//! that never follow a symbolic link.
//!
//! A managed file is replaced, never edited in place, by the agent's one atomic
//! writer ([`crate::atomic_file`]): the new content goes into a temporary file in
//! the same folder, is flushed to disk, gets its mode and owner, and is renamed
//! over the old one, so a crash leaves either the old file or the new one, never
//! half of one. Its folder is reached from the agent's root without following a
//! link ([`crate::safe_path`]), so a linked parent folder is refused rather than
//! written through. Permission fixes open the entry without following links and
//! check it is still the one that was examined, so an entry swapped for a link to
//! `/etc/passwd` between the check and the fix is left alone.

use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use nix::fcntl::OFlag;

use crate::safe_path::{self, Folder, Missing, SafePathError};

/// Why a file could not be put in line; the caller names the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileError {
    /// A folder on the way is a symbolic link, or could not be reached, made or written.
    #[error(transparent)]
    Path(#[from] SafePathError),
    /// The permission bits could not be set.
    #[error("cannot set its mode: {0}")]
    Mode(io::Error),
    /// The owner or group could not be changed.
    #[error("cannot change its {what} to {target}: {reason}")]
    Owner {
        /// `owner` or `group`.
        what: &'static str,
        /// The account asked for, as the blueprint names it.
        target: String,
        /// Why, with a hint when the agent is not root.
        reason: String,
    },
    /// The entry was replaced between its check and its fix.
    #[error("it changed while being checked; it is looked at again at the next check-in")]
    Replaced,
}

/// The owner and group a file must end up with; `None` leaves the one it gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Ownership {
    /// The user id.
    pub(crate) uid: Option<u32>,
    /// The group id.
    pub(crate) gid: Option<u32>,
}

/// The permission bits of `metadata`: mode without the file type.
pub(crate) fn permission_bits(metadata: &Metadata) -> u32 {
    metadata.mode() & 0o7777
}

/// A mode as admins write it: `0644`.
pub(crate) fn mode_text(mode: u32) -> String {
    format!("{mode:04o}")
}

/// Opens `path` for reading without following a final symbolic link (and without
/// blocking on a FIFO), with its metadata as it is now.
pub(crate) fn open_without_following(path: &Path) -> io::Result<(File, Metadata)> {
    let flags = nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC;
    let file = OpenOptions::new().read(true).custom_flags(flags).open(path)?;
    let metadata = file.metadata()?;
    Ok((file, metadata))
}

/// Sets the mode of `path` to `mode`, provided it is still the entry `examined`
/// (same device and inode); symbolic links are never followed.
pub(crate) fn set_mode_of_examined(path: &Path, examined: &Metadata, mode: u32) -> Result<(), FileError> {
    let (file, now) = open_without_following(path).map_err(FileError::Mode)?;
    if (now.dev(), now.ino()) != (examined.dev(), examined.ino()) {
        return Err(FileError::Replaced);
    }
    file.set_permissions(std::fs::Permissions::from_mode(mode)).map_err(FileError::Mode)
}

/// Changes the owner and group of the open `file` where they differ from `ownership`,
/// then sets `mode` (a change of owner clears set-id bits, so the mode comes last).
pub(crate) fn apply_ownership_and_mode(
    file: &File,
    ownership: Ownership,
    names: (&str, &str),
    mode: u32,
) -> Result<(), FileError> {
    let metadata = file.metadata().map_err(FileError::Mode)?;
    let uid = ownership.uid.filter(|uid| *uid != metadata.uid());
    let gid = ownership.gid.filter(|gid| *gid != metadata.gid());
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::fchown(file, uid, gid).map_err(|error| {
            let (what, target) = if uid.is_some() { ("owner", names.0) } else { ("group", names.1) };
            FileError::Owner {
                what,
                target: target.to_string(),
                reason: ownership_failure(&error, nix::unistd::geteuid().as_raw()),
            }
        })?;
    }
    if metadata.mode() & 0o7777 != mode || uid.is_some() || gid.is_some() {
        file.set_permissions(std::fs::Permissions::from_mode(mode)).map_err(FileError::Mode)?;
    }
    Ok(())
}

/// Says why an owner change by the user `effective_uid` failed; not being root is
/// the usual reason.
pub(crate) fn ownership_failure(error: &io::Error, effective_uid: u32) -> String {
    if error.kind() == io::ErrorKind::PermissionDenied && effective_uid != 0 {
        format!("{error}; only root can give a file away, and the agent runs as uid {effective_uid}")
    } else {
        error.to_string()
    }
}

/// The folder holding `target` (inside the agent's `root`), reached without
/// following a link, and the target's name; `None` when a folder on the way is missing.
pub(crate) fn open_parent(root: &Path, target: &Path) -> Result<Option<(Folder, OsString)>, SafePathError> {
    match safe_path::parent_of(root, target, Missing::Fail) {
        Ok(found) => Ok(Some(found)),
        Err(SafePathError::Io { error, .. }) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Opens the entry `name` in `folder` for reading without following a link (and
/// without blocking on a FIFO), with its metadata as it is now.
pub(crate) fn open_in(folder: &Folder, name: &OsStr) -> Result<(File, Metadata), SafePathError> {
    let file = folder.open_file(name, OFlag::O_RDONLY | OFlag::O_NONBLOCK, 0)?;
    let metadata =
        file.metadata().map_err(|error| SafePathError::Io { action: "read", path: folder.path().join(name), error })?;
    Ok((file, metadata))
}

/// Replaces `target` (inside the agent's `root`) with `bytes` atomically: its
/// folders are reached without following a link (missing ones made `0755`), a
/// temporary file beside it is written, flushed, given `mode` and `ownership`,
/// then renamed over `target`. `names` are the owner and group as the blueprint
/// names them, for messages.
pub(crate) fn write_atomically(
    root: &Path,
    target: &Path,
    bytes: &[u8],
    mode: u32,
    ownership: Ownership,
    names: (&str, &str),
) -> Result<(), FileError> {
    let (folder, name) = safe_path::parent_of(root, target, Missing::Create(0o755))?;
    crate::atomic_file::replace_in(&folder, &name, bytes, |file| apply_ownership_and_mode(file, ownership, names, mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_creates_folders_and_leaves_no_temporary_file() {
        let scratch = tempfile::tempdir().unwrap();
        let target = scratch.path().join("a/b/file.txt");
        write_atomically(scratch.path(), &target, b"one", 0o640, Ownership::default(), ("", "")).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"one");
        assert_eq!(permission_bits(&std::fs::metadata(&target).unwrap()), 0o640);
        let folder_mode = permission_bits(&std::fs::metadata(scratch.path().join("a/b")).unwrap());
        assert_eq!(folder_mode & 0o755, folder_mode, "folders are at most 0755");
        write_atomically(scratch.path(), &target, b"two", 0o4755, Ownership::default(), ("", "")).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
        assert_eq!(permission_bits(&std::fs::metadata(&target).unwrap()), 0o4755, "set-id bits survive");
        let names: Vec<_> =
            std::fs::read_dir(scratch.path().join("a/b")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("file.txt")]);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary_file() {
        let scratch = tempfile::tempdir().unwrap();
        let target = scratch.path().join("folder");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("inside"), "kept").unwrap();
        let error = write_atomically(scratch.path(), &target, b"x", 0o644, Ownership::default(), ("", "")).unwrap_err();
        assert!(matches!(error, FileError::Path(SafePathError::Io { .. })), "{error}");
        assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 1, "the temporary file is removed");
        assert_eq!(std::fs::read_to_string(target.join("inside")).unwrap(), "kept");
    }

    #[test]
    fn a_linked_folder_is_refused_and_its_target_untouched() {
        let scratch = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("file"), "kept").unwrap();
        std::os::unix::fs::symlink(outside.path(), scratch.path().join("etc")).unwrap();
        let target = scratch.path().join("etc/file");
        let error = write_atomically(scratch.path(), &target, b"x", 0o666, Ownership::default(), ("", "")).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert_eq!(std::fs::read_to_string(outside.path().join("file")).unwrap(), "kept");
        assert!(open_parent(scratch.path(), &target).is_err());
        assert!(open_parent(scratch.path(), &scratch.path().join("missing/file")).unwrap().is_none());
    }

    #[test]
    fn a_mode_fix_refuses_an_entry_swapped_for_a_link() {
        let scratch = tempfile::tempdir().unwrap();
        let examined = scratch.path().join("examined");
        let victim = scratch.path().join("victim");
        std::fs::write(&examined, "").unwrap();
        std::fs::write(&victim, "").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o666)).unwrap();
        let metadata = std::fs::symlink_metadata(&examined).unwrap();
        std::fs::remove_file(&examined).unwrap();
        std::os::unix::fs::symlink(&victim, &examined).unwrap();
        assert!(set_mode_of_examined(&examined, &metadata, 0o644).is_err());
        assert_eq!(permission_bits(&std::fs::metadata(&victim).unwrap()), 0o666, "the link's target is untouched");
    }

    #[test]
    fn a_mode_fix_applies_to_the_examined_entry() {
        let scratch = tempfile::tempdir().unwrap();
        let path = scratch.path().join("file");
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let metadata = std::fs::symlink_metadata(&path).unwrap();
        set_mode_of_examined(&path, &metadata, 0o664).unwrap();
        assert_eq!(permission_bits(&std::fs::metadata(&path).unwrap()), 0o664);
    }

    #[test]
    fn an_owner_change_that_is_not_permitted_says_why() {
        let not_permitted = io::Error::from_raw_os_error(nix::libc::EPERM);
        let cases = [
            (&not_permitted, 501, Some("only root can give a file away, and the agent runs as uid 501")),
            (&not_permitted, 0, None),
        ];
        for (error, uid, hint) in cases {
            let message = ownership_failure(error, uid);
            match hint {
                Some(hint) => assert_eq!(message, format!("{error}; {hint}")),
                None => assert_eq!(message, error.to_string()),
            }
        }
    }
}
