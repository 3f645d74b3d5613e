//! Where a new bundle is prepared, how it replaces the old one, and how it is
//! found inside an unpacked zip or a mounted disk image.

use std::collections::VecDeque;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::error::InstallError;

/// How deep below an archive's or image's top the bundle is looked for.
const SEARCH_DEPTH: usize = 3;

/// A root-only folder beside the destination, removed when dropped. Being on the
/// destination's file system makes the final move a rename.
pub(super) struct Staging {
    path: PathBuf,
}

impl Staging {
    /// Creates `.endpoint-agent-staging-<uuid>` (0700) in the destination's folder,
    /// creating that folder when missing.
    pub(super) fn beside(destination: &Path) -> Result<Self, InstallError> {
        let parent = destination.parent().unwrap_or(Path::new("/"));
        std::fs::create_dir_all(parent).map_err(files("create", parent))?;
        let path = parent.join(format!(".endpoint-agent-staging-{}", uuid::Uuid::now_v7()));
        std::fs::DirBuilder::new().mode(0o700).create(&path).map_err(files("create the staging folder", &path))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
            .map_err(files("secure the staging folder", &path))?;
        Ok(Self { path })
    }

    /// The folder.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %error, "Could not remove a staging folder.");
        }
    }
}

/// Puts the bundle at `new` at `destination`: a rename when nothing is there,
/// else the old bundle is renamed aside, the new one renamed in, and the old
/// one deleted (or put back if the second rename fails).
pub(super) fn replace_bundle(new: &Path, destination: &Path) -> Result<(), InstallError> {
    if std::fs::symlink_metadata(destination).is_err() {
        return std::fs::rename(new, destination).map_err(files("move the new app to", destination));
    }
    let name = destination.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let parent = destination.parent().unwrap_or(Path::new("/"));
    let old = parent.join(format!(".{name}.replaced-{}", uuid::Uuid::now_v7()));
    std::fs::rename(destination, &old).map_err(files("move the old app aside from", destination))?;
    if let Err(source) = std::fs::rename(new, destination) {
        if let Err(error) = std::fs::rename(&old, destination) {
            tracing::error!(path = %old.display(), error = %error, "Could not put the old app back.");
        }
        return Err(InstallError::Files { action: "move the new app to", path: destination.to_path_buf(), source });
    }
    let removed = match std::fs::symlink_metadata(&old) {
        Ok(metadata) if metadata.is_dir() => std::fs::remove_dir_all(&old),
        _ => std::fs::remove_file(&old),
    };
    if let Err(error) = removed {
        tracing::warn!(path = %old.display(), error = %error, "Could not delete the replaced app.");
    }
    Ok(())
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
    move |source| InstallError::Files { action, path: path.to_path_buf(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(at: &Path, marker: &str) {
        std::fs::create_dir_all(at.join("Contents")).unwrap();
        std::fs::write(at.join("Contents/marker"), marker).unwrap();
    }

    #[test]
    fn a_new_bundle_replaces_the_old_one_whole() {
        let folder = tempfile::tempdir().unwrap();
        let destination = folder.path().join("Applications/Foo.app");
        let staging = Staging::beside(&destination).unwrap();
        assert_eq!(std::fs::metadata(staging.path()).unwrap().permissions().mode() & 0o777, 0o700);
        app(&staging.path().join("Foo.app"), "first");
        replace_bundle(&staging.path().join("Foo.app"), &destination).unwrap();
        app(&destination.join("Contents/Stale.bundle"), "old only");
        app(&staging.path().join("Foo.app"), "second");
        replace_bundle(&staging.path().join("Foo.app"), &destination).unwrap();
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
