//! The world-writable search on scratch trees: what is found, fixed, skipped, bounded.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use super::*;
use crate::blueprint::DevicePath;

fn settings(folders: &[&str], fix: bool, max_depth: u32, max_entries: u32) -> FolderPermissions {
    let folders = folders.iter().map(|folder| DevicePath::parse(folder).unwrap()).collect();
    FolderPermissions { folders, fix, max_depth, max_entries }
}

fn running() -> Stop {
    Stop { deadline: Instant::now() + Duration::from_secs(60), cancel: CancellationToken::new() }
}

fn make(root: &Path, relative: &str, mode: u32) {
    let path = root.join(relative);
    if relative.ends_with('/') {
        std::fs::create_dir_all(&path).unwrap();
    } else {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "").unwrap();
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode_of(root: &Path, relative: &str) -> u32 {
    permission_bits(&std::fs::symlink_metadata(root.join(relative)).unwrap())
}

/// An Applications folder with one world-writable app, file, drop box and link.
fn applications(root: &Path) {
    make(root, "Applications/", 0o775);
    make(root, "Applications/Good.app/Contents/MacOS/good", 0o755);
    make(root, "Applications/Open.app/", 0o777);
    make(root, "Applications/Open.app/Contents/MacOS/open", 0o757);
    make(root, "Applications/Open.app/Contents/Info.plist", 0o644);
    make(root, "Applications/Public/Drop Box/", 0o733);
    make(root, "outside", 0o666);
    std::os::unix::fs::symlink(root.join("outside"), root.join("Applications/link")).unwrap();
}

#[test]
fn world_writable_files_and_folders_are_fixed_and_nothing_else_is_touched() {
    let scratch = tempfile::tempdir().unwrap();
    applications(scratch.path());
    let report = check(&settings(&["/Applications"], true, 5, 1000), scratch.path(), &running());
    assert_eq!(
        report.report.message,
        "fixed 2 of 13 entries: /Applications/Open.app (0777 → 0775), /Applications/Open.app/Contents/MacOS/open (0757 → 0755)"
    );
    assert_eq!((report.report.status, report.reapplied), (ItemStatus::Succeeded, 2));
    let root = scratch.path();
    assert_eq!(mode_of(root, "Applications/Open.app"), 0o775);
    assert_eq!(mode_of(root, "Applications/Open.app/Contents/MacOS/open"), 0o755);
    assert_eq!(mode_of(root, "Applications/Public/Drop Box"), 0o733, "a drop box is world-writable by design");
    assert_eq!(mode_of(root, "outside"), 0o666, "links are not followed");
    let again = check(&settings(&["/Applications"], true, 5, 1000), root, &running());
    assert_eq!(again.report.message, "compliant: none of 13 entries in /Applications is world-writable");
    assert_eq!(again.reapplied, 0);
}

#[test]
fn the_search_is_bounded_and_absent_folders_are_noted() {
    let cases = [
        (
            settings(&["/Applications"], true, 1, 1000),
            "fixed 1 of 5 entries: /Applications/Open.app (0777 → 0775)",
            ItemStatus::Succeeded,
        ),
        (
            settings(&["/Applications"], false, 5, 1000),
            "not compliant: 2 of 13 entries world-writable, left as they are (fix is off): /Applications/Open.app (0777), /Applications/Open.app/Contents/MacOS/open (0757)",
            ItemStatus::Failed,
        ),
        (
            settings(&["/Applications"], false, 5, 2),
            "compliant: none of 2 entries in /Applications is world-writable (stopped at the 2-entry limit in /Applications)",
            ItemStatus::Succeeded,
        ),
        (
            settings(&["/Nowhere", "/outside"], true, 5, 1000),
            "compliant: none of the folders exists (/Nowhere, /outside)",
            ItemStatus::Succeeded,
        ),
    ];
    for (settings, message, status) in cases {
        let scratch = tempfile::tempdir().unwrap();
        applications(scratch.path());
        let report = check(&settings, scratch.path(), &running());
        assert_eq!(report.report.message, message);
        assert_eq!(report.report.status, status, "{message}");
        assert_eq!(mode_of(scratch.path(), "Applications/Open.app/Contents/MacOS/open"), 0o757, "{message}");
    }
}

#[test]
fn the_output_lists_skipped_folders_and_every_fix() {
    let scratch = tempfile::tempdir().unwrap();
    applications(scratch.path());
    let report = check(&settings(&["/Applications", "/Nowhere"], true, 5, 1000), scratch.path(), &running());
    let output = report.report.output;
    assert!(output.contains("fixed: /Applications/Open.app (0777 → 0775)\n"), "{output}");
    assert!(output.contains("skipped: /Nowhere (not present)\n"), "{output}");
}

#[test]
fn a_spent_budget_or_a_shutdown_stops_the_search() {
    let scratch = tempfile::tempdir().unwrap();
    applications(scratch.path());
    let spent = Stop { deadline: Instant::now(), cancel: CancellationToken::new() };
    let cancelled = running();
    cancelled.cancel.cancel();
    let cases = [
        (spent, ItemStatus::TimedOut, "stopped while searching /Applications: the run's budget ran out"),
        (cancelled, ItemStatus::Failed, "stopped while searching /Applications: the agent is shutting down"),
    ];
    for (stop, status, message) in cases {
        let report = check(&settings(&["/Applications"], true, 5, 1000), scratch.path(), &stop);
        assert_eq!(report.report.status, status);
        assert!(report.report.message.starts_with(message), "{}", report.report.message);
    }
}
