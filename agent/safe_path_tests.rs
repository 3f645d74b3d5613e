use std::os::unix::fs::{PermissionsExt, symlink};

use super::*;

#[test]
fn missing_folders_are_made_with_the_mode_asked_for() {
    let root = tempfile::tempdir().unwrap();
    let folder = Folder::beneath(root.path(), &root.path().join("a/b"), Missing::Create(0o700)).unwrap();
    assert_eq!(folder.path(), root.path().join("a/b"));
    let mode = std::fs::metadata(root.path().join("a/b")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & !0o700, 0, "at most 0700, got {mode:o}");
    let error = Folder::beneath(root.path(), &root.path().join("c"), Missing::Fail).unwrap_err();
    assert!(matches!(&error, SafePathError::Io { error, .. } if error.kind() == io::ErrorKind::NotFound), "{error}");
}

#[test]
fn a_link_anywhere_on_the_way_is_refused_and_nothing_made_beyond_it() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("a")).unwrap();
    symlink(outside.path(), root.path().join("a/link")).unwrap();
    for missing in [Missing::Fail, Missing::Create(0o755)] {
        let error = Folder::beneath(root.path(), &root.path().join("a/link/b"), missing).unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, SafePathError::SymbolicLink { .. }), "{message}");
        assert!(message.contains(&format!("{}/a/link", root.path().display())), "{message}");
        assert!(message.contains("symbolic link"), "{message}");
    }
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}

#[test]
fn paths_that_climb_or_leave_the_start_are_refused() {
    let root = tempfile::tempdir().unwrap();
    for path in [root.path().join("a/../../x"), PathBuf::from("/elsewhere"), PathBuf::from("../x")] {
        let error = Folder::beneath(root.path(), &path, Missing::Create(0o755)).unwrap_err();
        assert!(matches!(error, SafePathError::Escapes { .. }), "{}: {error}", path.display());
    }
}

#[test]
fn the_macos_system_links_at_the_top_lead_into_private_under_the_root() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("private/etc")).unwrap();
    symlink("private/etc", root.path().join("etc")).unwrap();
    symlink("/private/etc", root.path().join("var")).unwrap();
    std::fs::create_dir_all(root.path().join("private/var")).unwrap();
    let etc = Folder::beneath(root.path(), &root.path().join("etc"), Missing::Fail).unwrap();
    assert!(etc.entry(OsStr::new(".")).unwrap().is_some());
    // `var` pointing at `private/etc` is not the system link: refused.
    let error = Folder::beneath(root.path(), &root.path().join("var"), Missing::Fail).unwrap_err();
    assert!(matches!(error, SafePathError::SymbolicLink { .. }), "{error}");
    // Deeper down, the same name is an ordinary link.
    std::fs::create_dir(root.path().join("deep")).unwrap();
    symlink("private/etc", root.path().join("deep/etc")).unwrap();
    let error = Folder::beneath(root.path(), &root.path().join("deep/etc"), Missing::Fail).unwrap_err();
    assert!(matches!(error, SafePathError::SymbolicLink { .. }), "{error}");
    let deep = Folder::beneath(root.path(), &root.path().join("deep"), Missing::Fail).unwrap();
    let error = deep.descend(Path::new("etc"), Missing::Fail).unwrap_err();
    assert!(matches!(error, SafePathError::SymbolicLink { .. }), "only at the root: {error}");
}

#[test]
fn files_are_made_exclusively_and_never_through_a_link() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "kept").unwrap();
    symlink(&victim, root.path().join("name")).unwrap();
    let folder = Folder::trusted(root.path()).unwrap();
    assert!(folder.create_file(OsStr::new("name"), 0o600).is_err());
    let error = folder.open_file(OsStr::new("name"), OFlag::O_WRONLY, 0).unwrap_err();
    assert!(matches!(error, SafePathError::SymbolicLink { .. }), "{error}");
    let stat = folder.entry(OsStr::new("name")).unwrap().unwrap();
    assert!(is_kind(&stat, SFlag::S_IFLNK));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "kept");
}

#[test]
fn a_refused_step_says_why_once_in_a_chain() {
    let error = SafePathError::Io {
        action: "write",
        path: PathBuf::from("/state/file"),
        error: io::Error::from_raw_os_error(nix::libc::EACCES),
    };
    let wrapped = anyhow::Error::from(std::io::Error::from(error)).context("cannot save the file");
    let text = format!("{wrapped:#}");
    assert_eq!(text.matches("os error").count(), 1, "{text}");
    assert!(text.contains("cannot write /state/file"), "{text}");
}
