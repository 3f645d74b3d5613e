//! Where a new bundle is prepared, how it replaces the old one, and how it is
//! found inside an unpacked zip or a mounted disk image.
//!
//! The destination's folder is reached from the agent's root without following
//! a symbolic link ([`crate::safe_path`]) and kept open: the staging folder is
//! made in it and the bundle renamed into it relative to that open folder, so a
//! linked `Applications` never sends an app elsewhere.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::error::InstallError;
use crate::safe_path::{self, Folder, Missing};

/// How deep below an archive's or image's top the bundle is looked for.
const SEARCH_DEPTH: usize = 3;

/// A root-only folder beside the destination, removed when dropped. Being on the
/// destination's file system makes the final move a rename.
pub(super) struct Staging {
    /// The destination's folder, open.
    parent: Folder,
    /// The destination's name in it.
    name: OsString,
    /// The staging folder, open.
    folder: Folder,
}

impl Staging {
    /// Creates `.endpoint-agent-staging-<uuid>` (0700) in the folder of
    /// `destination` (inside the agent's `root`), creating that folder when missing.
    pub(super) fn beside(root: &Path, destination: &Path) -> Result<Self, InstallError> {
        let (parent, name) = safe_path::parent_of(root, destination, Missing::Create(0o755))?;
        let staging = format!(".endpoint-agent-staging-{}", uuid::Uuid::now_v7());
        let folder = parent.descend(Path::new(&staging), Missing::Create(0o700))?;
        folder.set_mode(0o700)?;
        Ok(Self { parent, name, folder })
    }

    /// The folder's path, for tools that take one.
    pub(super) fn path(&self) -> &Path {
        self.folder.path()
    }

    /// The folder, open.
    pub(super) fn folder(&self) -> &Folder {
        &self.folder
    }

    /// Opens the folder at `path` (inside the staging folder, or relative to it)
    /// without following a link.
    pub(super) fn open(&self, path: &Path) -> Result<Folder, InstallError> {
        Ok(self.folder.descend(path.strip_prefix(self.path()).unwrap_or(path), Missing::Fail)?)
    }

    /// Where the bundle goes, as a path.
    pub(super) fn destination(&self) -> PathBuf {
        self.parent.path().join(&self.name)
    }

    /// Puts the bundle at `new` (inside the staging folder) at the destination: a
    /// rename when nothing is there, else the old bundle is renamed aside, the new
    /// one renamed in, and the old one deleted (or put back if the second rename
    /// fails). Every rename is relative to the open folders.
    pub(super) fn replace_bundle(&self, new: &Path) -> Result<(), InstallError> {
        let inside = new.strip_prefix(self.path()).unwrap_or(new);
        let holder = self.open(inside.parent().unwrap_or(Path::new("")))?;
        let new_name = inside.file_name().unwrap_or_default();
        let destination = self.destination();
        if self.parent.entry(&self.name)?.is_none() {
            return Ok(holder.rename(new_name, &self.parent, &self.name)?);
        }
        // Aside into the staging folder, which goes when this is dropped.
        let old = OsString::from("replaced");
        self.parent.rename(&self.name, &self.folder, &old)?;
        if let Err(error) = holder.rename(new_name, &self.parent, &self.name) {
            if let Err(error) = self.folder.rename(&old, &self.parent, &self.name) {
                tracing::error!(path = %destination.display(), error = %error, "Could not put the old app back.");
            }
            return Err(error.into());
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // `remove_dir_all` never follows a link inside the folder it removes.
        if let Err(error) = std::fs::remove_dir_all(self.path()) {
            tracing::warn!(path = %self.path().display(), error = %error, "Could not remove a staging folder.");
        }
    }
}

/// Finds the folder named `bundle` under `top` (breadth first, a few levels
/// deep, never following symlinks or entering other bundles, skipping
/// `__MACOSX`). When it is not there, the error lists the bundles that are.
pub(super) fn find_bundle(top: &Path, bundle: &str, container: &'static str) -> Result<PathBuf, InstallError> {
    let mut queue = VecDeque::from([(top.to_path_buf(), 0)]);
    let mut others = Vec::new();
    while let Some((folder, depth)) = queue.pop_front() {
        let entries = std::fs::read_dir(&folder).map_err(files("read", &folder))?;
        let mut names: Vec<_> = entries.filter_map(Result::ok).collect();
        names.sort_by_key(|entry| entry.file_name());
        for entry in names {
            let is_folder = entry.file_type().is_ok_and(|kind| kind.is_dir());
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_folder || name == "__MACOSX" {
                continue;
            }
            if name == bundle {
                return Ok(entry.path());
            }
            if name.ends_with(".app") {
                others.push(name);
            } else if depth + 1 < SEARCH_DEPTH {
                queue.push_back((entry.path(), depth + 1));
            }
        }
    }
    let found = if others.is_empty() { "no app".to_string() } else { others.join(", ") };
    Err(InstallError::BundleNotFound { bundle: bundle.to_string(), container, found })
}

/// Maps an I/O error while doing `action` on `path`.
pub(super) fn files<'path>(action: &'static str, path: &'path Path) -> impl Fn(std::io::Error) -> InstallError + 'path {
    move |error| InstallError::Files { action, path: path.to_path_buf(), error }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn app(at: &Path, marker: &str) {
        std::fs::create_dir_all(at.join("Contents")).unwrap();
        std::fs::write(at.join("Contents/marker"), marker).unwrap();
    }

    #[test]
    fn a_new_bundle_replaces_the_old_one_whole() {
        let folder = tempfile::tempdir().unwrap();
        let destination = folder.path().join("Applications/Foo.app");
        let staging = Staging::beside(folder.path(), &destination).unwrap();
        assert_eq!(std::fs::metadata(staging.path()).unwrap().permissions().mode() & 0o777, 0o700);
        app(&staging.path().join("Foo.app"), "first");
        staging.replace_bundle(&staging.path().join("Foo.app")).unwrap();
        app(&destination.join("Contents/Stale.bundle"), "old only");
        app(&staging.path().join("deeper/Foo.app"), "second");
        staging.replace_bundle(&staging.path().join("deeper/Foo.app")).unwrap();
        assert_eq!(std::fs::read_to_string(destination.join("Contents/marker")).unwrap(), "second");
        assert!(!destination.join("Contents/Stale.bundle").exists(), "nothing of the old bundle is left");
        let staging_path = staging.path().to_path_buf();
        drop(staging);
        let left: Vec<_> =
            std::fs::read_dir(folder.path().join("Applications")).unwrap().filter_map(Result::ok).collect();
        assert_eq!(left.len(), 1, "only Foo.app remains: {left:?}");
        assert!(!staging_path.exists());
    }

    #[test]
    fn a_linked_applications_folder_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("Applications")).unwrap();
        let error = Staging::beside(root.path(), &root.path().join("Applications/Foo.app")).err().unwrap();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn bundles_are_found_where_installers_put_them() {
        let folder = tempfile::tempdir().unwrap();
        let top = folder.path();
        app(&top.join("__MACOSX/Foo.app"), "resource forks");
        app(&top.join("Foo 2.1/Foo.app"), "the one");
        app(&top.join("Foo 2.1/Foo.app/Contents/Helpers/Foo.app"), "a helper inside");
        std::os::unix::fs::symlink("/", top.join("Applications")).unwrap();
        assert_eq!(find_bundle(top, "Foo.app", "zip").unwrap(), top.join("Foo 2.1/Foo.app"));
        let missing = find_bundle(top, "Bar.app", "disk image").unwrap_err().to_string();
        assert_eq!(missing, "Bar.app is not in the disk image (found: Foo.app)");
    }
}
