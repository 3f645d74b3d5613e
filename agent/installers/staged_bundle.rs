//! Making a staged bundle safe before it is placed, whatever brought it there
//! (the agent's own zip unpacking, or `ditto` copying it out of a disk image,
//! which keeps every mode bit the image holds). One walk over the bundle, which
//! opens each folder from the one above it without following a link:
//!
//! - every file and folder loses its set-user-id, set-group-id, sticky and
//!   world-write bits, so an app cannot bring a root-owned set-id program or a
//!   file any user may rewrite;
//! - every entry, links included, belongs to the agent's own user and group (root
//!   and wheel on a Mac), whatever owners the image recorded (`ditto` run as root
//!   keeps them), so no user the image names can rewrite the app afterwards;
//! - every symbolic link must point inside the bundle, so an app cannot carry a
//!   link to `/etc/passwd` or `../../..` that a root process, or a user's
//!   double-click, would later follow. A relative link may climb
//!   (`../Frameworks/Foo`) only at its start and never above the bundle; an
//!   absolute one must name a place inside the bundle where it will live;
//! - no path inside it is longer or deeper than macOS could open.
//!
//! Links are read, never followed, and the walk stays inside the staging folder,
//! which only root can write.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::readlinkat;
use nix::sys::stat::{FileStat, SFlag};
use nix::unistd::{Gid, Uid};

use super::error::InstallError;
use super::placement::{Staging, files};
use crate::safe_path::{self, Folder, Missing};

/// The permission bits a staged file or folder may keep: no set-user-id,
/// set-group-id, sticky or world-write bit.
pub(super) const KEPT_MODE_BITS: u32 = 0o775;
/// The longest path inside a bundle, in bytes: macOS's `PATH_MAX`, past which
/// the system cannot open it by name anyway.
pub(super) const LONGEST_PATH: usize = 1024;
/// The most folders a path inside a bundle may pass through. Real bundles stay
/// under 30; the walk holds one folder open per level, and a daemon's default
/// limit is 256 open files.
pub(super) const DEEPEST_PATH: usize = 128;

/// Where `destination` (inside the agent's `root`) is as the device sees it:
/// `/Applications/Foo.app`.
pub(super) fn placed_at(root: &Path, destination: &Path) -> PathBuf {
    Path::new("/").join(destination.strip_prefix(root).unwrap_or(destination))
}

/// Why a path of an archive or a bundle is refused, if it is: longer than
/// [`LONGEST_PATH`] or deeper than [`DEEPEST_PATH`].
pub(super) fn path_too_long(path: &Path) -> Option<String> {
    if path.as_os_str().len() > LONGEST_PATH {
        return Some(format!("longer than {LONGEST_PATH} bytes"));
    }
    (path.components().count() > DEEPEST_PATH).then(|| format!("deeper than {DEEPEST_PATH} levels"))
}

/// A folder of the bundle being walked and the names in it not yet seen.
struct Level {
    folder: Folder,
    inside: PathBuf,
    names: Vec<OsString>,
}

/// Makes the bundle at `bundle` (in `staging`), which will live at `placed` (as
/// the device sees it: `/Applications/Foo.app`), safe to place: modes cleared,
/// links checked, paths bounded.
pub(super) fn make_safe(staging: &Staging, bundle: &Path, placed: &Path) -> Result<(), InstallError> {
    let name = placed.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let top = staging.open(bundle)?;
    let owner = Owner { user: nix::unistd::geteuid(), group: nix::unistd::getegid() };
    if let Some(stat) = top.entry(".".as_ref())? {
        owner.take(&top, ".".as_ref(), &stat)?;
        clear_mode(&top, ".".as_ref(), &stat)?;
    }
    let names = top.names()?;
    let mut levels = vec![Level { folder: top, inside: PathBuf::new(), names }];
    while let Some(level) = levels.last_mut() {
        let Some(entry) = level.names.pop() else {
            levels.pop();
            continue;
        };
        let relative = level.inside.join(&entry);
        if let Some(reason) = path_too_long(&relative) {
            return Err(InstallError::PathTooLong {
                bundle: name,
                path: shortened(&relative.to_string_lossy()),
                reason,
            });
        }
        let Some(stat) = level.folder.entry(&entry)? else { continue };
        owner.take(&level.folder, &entry, &stat)?;
        if safe_path::is_kind(&stat, SFlag::S_IFLNK) {
            let target = readlinkat(level.folder.as_fd(), entry.as_os_str())
                .map_err(|errno| files("read the link", &relative)(errno.into()))?;
            if !stays_inside(&level.inside, Path::new(&target), placed) {
                let (link, target) = (relative.display().to_string(), Path::new(&target).display().to_string());
                return Err(InstallError::LinkOutside { bundle: name, link, target });
            }
            continue;
        }
        clear_mode(&level.folder, &entry, &stat)?;
        if safe_path::is_kind(&stat, SFlag::S_IFDIR) {
            let folder = level.folder.descend(Path::new(&entry), Missing::Fail)?;
            let names = folder.names()?;
            levels.push(Level { folder, inside: relative, names });
        }
    }
    Ok(())
}

/// Who a placed bundle's files belong to: the agent's own user and group.
struct Owner {
    user: Uid,
    group: Gid,
}

impl Owner {
    /// Gives `name` in `folder` (a link itself, never its target) to this owner,
    /// unless `stat` says it has it already (what the agent unpacked itself does).
    fn take(&self, folder: &Folder, name: &std::ffi::OsStr, stat: &FileStat) -> Result<(), InstallError> {
        if stat.st_uid != self.user.as_raw() || stat.st_gid != self.group.as_raw() {
            folder.set_entry_owner(name, self.user, self.group)?;
        }
        Ok(())
    }
}

/// Clears the bits [`KEPT_MODE_BITS`] leaves out from `name` in `folder`, as `stat` found it.
fn clear_mode(folder: &Folder, name: &std::ffi::OsStr, stat: &FileStat) -> Result<(), InstallError> {
    let mode: u32 = stat.st_mode as _;
    let kept = mode & 0o7777 & KEPT_MODE_BITS;
    if kept != mode & 0o7777 {
        folder.set_entry_mode(name, kept)?;
    }
    Ok(())
}

/// The start of a path or name too long to show whole.
pub(super) fn shortened(text: &str) -> String {
    match text.char_indices().nth(120) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// Whether a link in the bundle's folder `inside` pointing at `target` stays in
/// the bundle that will live at `placed`.
fn stays_inside(inside: &Path, target: &Path, placed: &Path) -> bool {
    let (mut depth, rest) = match target.strip_prefix("/") {
        Ok(absolute) => match absolute.strip_prefix(placed.strip_prefix("/").unwrap_or(placed)) {
            Ok(rest) => (0, rest),
            Err(_) => return false,
        },
        Err(_) => (inside.components().count(), target),
    };
    let mut climbing = true;
    for component in rest.components() {
        match component {
            Component::ParentDir if climbing && depth > 0 => depth -= 1,
            Component::Normal(_) => climbing = false,
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn links_must_stay_in_the_bundle() {
        let placed = Path::new("/Applications/Foo.app");
        let cases = [
            ("Contents/Frameworks/Bar.framework/Versions", "A", true),
            ("Contents/Frameworks/Bar.framework", "Versions/Current/Bar", true),
            ("Contents/MacOS", "../Frameworks/Bar.framework/Bar", true),
            ("Contents/MacOS", "../../Contents/Info.plist", true),
            ("Contents/MacOS", "../../../Other.app", false),
            ("", "..", false),
            ("Contents", "Resources/../../..", false),
            ("Contents", "Resources/./x/../y", false),
            ("Contents/Resources", "/etc/passwd", false),
            ("Contents/Resources", "/Applications/Foo.app/Contents/Info.plist", true),
            ("Contents/Resources", "/Applications/Foo.app/../Bar.app", false),
            ("Contents/Resources", "/Applications/Foo.application", false),
        ];
        for (inside, target, expected) in cases {
            assert_eq!(stays_inside(Path::new(inside), Path::new(target), placed), expected, "{inside} -> {target}");
        }
    }

    /// A staging folder for `Foo.app` under a scratch root, and the bundle's path in it.
    fn staged() -> (tempfile::TempDir, Staging, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let staging = Staging::beside(root.path(), &root.path().join("Applications/Foo.app")).unwrap();
        let bundle = staging.path().join("Foo.app");
        std::fs::create_dir_all(bundle.join("Contents/Resources")).unwrap();
        (root, staging, bundle)
    }

    const PLACED: &str = "/Applications/Foo.app";

    #[test]
    fn a_link_out_of_the_bundle_is_named() {
        let (_root, staging, bundle) = staged();
        std::os::unix::fs::symlink("A", bundle.join("Contents/Current")).unwrap();
        make_safe(&staging, &bundle, Path::new(PLACED)).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", bundle.join("Contents/Resources/link")).unwrap();
        let error = make_safe(&staging, &bundle, Path::new(PLACED)).unwrap_err().to_string();
        assert_eq!(
            error,
            "refused Foo.app: its symbolic link Contents/Resources/link points to /etc/passwd, outside the bundle"
        );
    }

    #[test]
    fn special_and_world_write_bits_are_cleared_everywhere_and_links_left_alone() {
        let (_root, staging, bundle) = staged();
        let set = |relative: &str, mode: u32| {
            std::fs::set_permissions(bundle.join(relative), std::fs::Permissions::from_mode(mode)).unwrap()
        };
        std::fs::write(bundle.join("Contents/Resources/tool"), "#!/bin/sh\n").unwrap();
        std::fs::write(bundle.join("Contents/Resources/plain"), "").unwrap();
        std::os::unix::fs::symlink("tool", bundle.join("Contents/Resources/link")).unwrap();
        set("Contents/Resources/tool", 0o6777);
        set("Contents/Resources/plain", 0o644);
        set("Contents/Resources", 0o1777);
        set("", 0o2777);
        make_safe(&staging, &bundle, Path::new(PLACED)).unwrap();
        let mode = |relative: &str| std::fs::metadata(bundle.join(relative)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode("Contents/Resources/tool"), 0o775);
        assert_eq!(mode("Contents/Resources/plain"), 0o644);
        assert_eq!(mode("Contents/Resources"), 0o775);
        assert_eq!(mode(""), 0o775);
        let link = std::fs::symlink_metadata(bundle.join("Contents/Resources/link")).unwrap();
        assert!(link.file_type().is_symlink(), "the link is kept as a link");
    }

    #[test]
    fn a_path_too_deep_is_refused() {
        let (_root, staging, bundle) = staged();
        let deep: PathBuf = std::iter::repeat_n("d", DEEPEST_PATH + 1).collect();
        std::fs::create_dir_all(bundle.join(&deep)).unwrap();
        let error = make_safe(&staging, &bundle, Path::new(PLACED)).unwrap_err().to_string();
        assert!(error.starts_with("refused Foo.app: its path d/d/d/"), "{error}");
        assert!(error.ends_with("is deeper than 128 levels"), "{error}");
        assert_eq!(path_too_long(&Path::new("a").join("b".repeat(LONGEST_PATH))).unwrap(), "longer than 1024 bytes");
    }
}
