//! The symbolic links inside a bundle about to be placed: each must point inside
//! the bundle, so an app cannot carry a link to `/etc/passwd` or `../../..` that
//! a root process, or a user's double-click, would later follow.
//!
//! A relative link may climb (`../Frameworks/Foo`) only at its start and never
//! above the bundle; an absolute one must name a place inside the bundle where
//! it will live. Links are read, never followed, and the walk stays inside the
//! staging folder, which only root can write.

use std::path::{Component, Path, PathBuf};

use super::error::InstallError;
use super::placement::files;

/// Where `destination` (inside the agent's `root`) is as the device sees it:
/// `/Applications/Foo.app`.
pub(super) fn placed_at(root: &Path, destination: &Path) -> PathBuf {
    Path::new("/").join(destination.strip_prefix(root).unwrap_or(destination))
}

/// Checks every link inside the bundle at `bundle`, which will live at `placed`
/// (as the device sees it: `/Applications/Foo.app`).
pub(super) fn check(bundle: &Path, placed: &Path) -> Result<(), InstallError> {
    let mut folders = vec![PathBuf::new()];
    while let Some(inside) = folders.pop() {
        let folder = bundle.join(&inside);
        for entry in std::fs::read_dir(&folder).map_err(files("read", &folder))? {
            let entry = entry.map_err(files("read", &folder))?;
            let kind = entry.file_type().map_err(files("read", &entry.path()))?;
            let relative = inside.join(entry.file_name());
            if kind.is_dir() {
                folders.push(relative);
            } else if kind.is_symlink() {
                let target = std::fs::read_link(entry.path()).map_err(files("read the link", &entry.path()))?;
                if !stays_inside(&inside, &target, placed) {
                    return Err(InstallError::LinkOutside {
                        bundle: placed.file_name().unwrap_or_default().to_string_lossy().into_owned(),
                        link: relative.display().to_string(),
                        target: target.display().to_string(),
                    });
                }
            }
        }
    }
    Ok(())
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

    #[test]
    fn a_link_out_of_the_bundle_is_named() {
        let folder = tempfile::tempdir().unwrap();
        let bundle = folder.path().join("Foo.app");
        std::fs::create_dir_all(bundle.join("Contents/Resources")).unwrap();
        std::os::unix::fs::symlink("A", bundle.join("Contents/Current")).unwrap();
        check(&bundle, Path::new("/Applications/Foo.app")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", bundle.join("Contents/Resources/link")).unwrap();
        let error = check(&bundle, Path::new("/Applications/Foo.app")).unwrap_err().to_string();
        assert_eq!(
            error,
            "refused Foo.app: its symbolic link Contents/Resources/link points to /etc/passwd, outside the bundle"
        );
    }
}
