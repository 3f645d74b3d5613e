//! The one atomic writer: a file is replaced so that readers see the old bytes or
//! the new ones, never a mix, even after a crash, and never through a link.
//!
//! A temporary file is created beside the target (`O_EXCL | O_NOFOLLOW`, in a
//! folder reached by [`crate::safe_path`]), written, given its mode and owner,
//! flushed, renamed over the target with `renameat` (a link at the target's name
//! is replaced, not followed), and the folder flushed. A file that must pass a
//! check first (the saved blueprint) is checked at its temporary name, before the
//! rename ([`replace_checked`]).

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::safe_path::{self, Folder, Missing, SafePathError};

/// Replaces `path` (inside the agent's `root`) with `bytes`, readable and writable
/// by its owner only (0600); missing folders on the way are made root-only (0700).
pub(crate) fn replace_private(root: &Path, path: &Path, bytes: &[u8]) -> Result<(), SafePathError> {
    let (folder, name) = safe_path::parent_of(root, path, Missing::Create(0o700))?;
    replace_in(&folder, &name, bytes, |_| Ok::<(), SafePathError>(()))
}

/// Replaces `name` in `folder` with `bytes`. The new file is made 0600; `prepare`
/// then gives it its mode and owner before it takes the name.
pub(crate) fn replace_in<E: From<SafePathError>>(
    folder: &Folder,
    name: &OsStr,
    bytes: &[u8],
    prepare: impl FnOnce(&File) -> Result<(), E>,
) -> Result<(), E> {
    let temporary = write_beside(folder, name, bytes, prepare)?;
    rename_over(folder, &temporary, name)?;
    Ok(())
}

/// Replaces `name` in `folder` (0600) with `bytes` only when `check`, reading the
/// new file at its temporary path, accepts it; otherwise the old file stays and
/// the check's verdict is returned inside `Ok`. The outer error is the write's.
pub(crate) fn replace_checked<T, C>(
    folder: &Folder,
    name: &OsStr,
    bytes: &[u8],
    check: impl FnOnce(&Path) -> Result<T, C>,
) -> Result<Result<T, C>, SafePathError> {
    let temporary = write_beside(folder, name, bytes, |_| Ok::<(), SafePathError>(()))?;
    match check(&folder.path().join(&temporary)) {
        Ok(checked) => rename_over(folder, &temporary, name).map(|()| Ok(checked)),
        Err(refused) => {
            folder.remove_file(&temporary)?;
            Ok(Err(refused))
        }
    }
}

/// Writes `bytes` into the temporary file beside `name` (see [`temporary_name`])
/// and returns its name; nothing is left behind when that fails.
fn write_beside<E: From<SafePathError>>(
    folder: &Folder,
    name: &OsStr,
    bytes: &[u8],
    prepare: impl FnOnce(&File) -> Result<(), E>,
) -> Result<OsString, E> {
    let temporary = temporary_name(name);
    // A leftover of a crash, or anything a user put there: removed, never followed.
    folder.remove_file(&temporary)?;
    if let Err(error) = write_temporary(folder, &temporary, bytes, prepare) {
        let _ = folder.remove_file(&temporary);
        return Err(error);
    }
    Ok(temporary)
}

/// Renames the written `temporary` over `name` and flushes the folder, so the
/// new name survives a crash; the temporary is removed when the rename fails.
fn rename_over(folder: &Folder, temporary: &OsStr, name: &OsStr) -> Result<(), SafePathError> {
    if let Err(error) = folder.rename(temporary, folder, name) {
        let _ = folder.remove_file(temporary);
        return Err(error);
    }
    folder.sync()
}

/// Creates `temporary` (0600, never through a link), writes `bytes`, lets
/// `prepare` set its mode and owner, and flushes it.
fn write_temporary<E: From<SafePathError>>(
    folder: &Folder,
    temporary: &OsStr,
    bytes: &[u8],
    prepare: impl FnOnce(&File) -> Result<(), E>,
) -> Result<(), E> {
    let failed = |error| SafePathError::Io { action: "write", path: folder.path().join(temporary), error };
    let mut file = folder.create_file(temporary, 0o600)?;
    file.write_all(bytes).map_err(failed)?;
    prepare(&file)?;
    file.sync_all().map_err(failed)?;
    Ok(())
}

/// `.<name>.incoming`: hidden, beside the target, the same at every attempt.
fn temporary_name(name: &OsStr) -> OsString {
    let mut temporary = OsString::from(".");
    temporary.push(name);
    temporary.push(".incoming");
    temporary
}

impl From<SafePathError> for std::io::Error {
    fn from(error: SafePathError) -> Self {
        let kind = match &error {
            SafePathError::Io { error, .. } => error.kind(),
            _ => std::io::ErrorKind::PermissionDenied,
        };
        std::io::Error::new(kind, error)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_file_is_replaced_whole_and_owner_only() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("fragment.plist");
        std::fs::write(&path, "old").unwrap();
        replace_private(folder.path(), &path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(folder.path()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    fn a_link_at_the_name_is_replaced_and_a_linked_folder_refused() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        std::fs::write(&victim, "kept").unwrap();
        let path = root.path().join("state/file");
        std::fs::create_dir(root.path().join("state")).unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        // A link planted at the temporary name is removed, not written through.
        std::os::unix::fs::symlink(&victim, root.path().join("state/.file.incoming")).unwrap();
        replace_private(root.path(), &path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert!(!std::fs::symlink_metadata(&path).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "kept");

        std::os::unix::fs::symlink(outside.path(), root.path().join("linked")).unwrap();
        let error = replace_private(root.path(), &root.path().join("linked/victim"), b"x").unwrap_err();
        assert!(matches!(error, SafePathError::SymbolicLink { .. }), "{error}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "kept");
    }

    #[test]
    fn a_checked_file_takes_the_name_only_when_the_check_accepts_it() {
        let root = tempfile::tempdir().unwrap();
        let folder = Folder::beneath(root.path(), root.path(), Missing::Fail).unwrap();
        std::fs::write(root.path().join("saved"), "old").unwrap();
        let read = |path: &Path| std::fs::read_to_string(path).map_err(|error| error.to_string());
        let refused = replace_checked(&folder, OsStr::new("saved"), b"bad", |path| match read(path)? {
            text if text == "bad" => Err("refused".to_string()),
            text => Ok(text),
        });
        assert_eq!(refused.unwrap(), Err("refused".to_string()));
        assert_eq!(std::fs::read_to_string(root.path().join("saved")).unwrap(), "old");
        let accepted = replace_checked(&folder, OsStr::new("saved"), b"new", read);
        assert_eq!(accepted.unwrap(), Ok("new".to_string()));
        assert_eq!(std::fs::read_to_string(root.path().join("saved")).unwrap(), "new");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1, "no temporary file left");
    }
}
