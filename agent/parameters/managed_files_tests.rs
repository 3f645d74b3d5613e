//! Managed files on a scratch root: what is found, what is done, what is reported.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::*;
use crate::blueprint::DevicePath;
use crate::state::ItemStatus;

fn managed(path: &str, content: &str, mode: Option<u32>) -> ManagedFile {
    ManagedFile {
        path: DevicePath::parse(path).unwrap(),
        content: content.as_bytes().to_vec(),
        mode,
        owner: None,
        group: None,
    }
}

fn write(root: &Path, relative: &str, content: &str, mode: u32) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, content).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn current_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid()).unwrap().unwrap().name
}

fn current_group() -> String {
    nix::unistd::Group::from_gid(nix::unistd::getegid()).unwrap().unwrap().name
}

struct Case {
    prepare: fn(&Path),
    file: ManagedFile,
    message: String,
    status: ItemStatus,
    reapplied: u32,
}

#[test]
fn each_file_is_audited_then_put_back_only_where_it_drifted() {
    let owned = ManagedFile {
        owner: Some(Account::Name(current_user())),
        group: Some(Account::Name(current_group())),
        ..managed("/etc/owned", "x", Some(0o600))
    };
    let cases = [
        Case {
            prepare: |_| {},
            file: managed("/etc/new/motd", "hello\n", Some(0o640)),
            message: "re-applied 1 of 1 file: /etc/new/motd (missing)".into(),
            status: ItemStatus::Succeeded,
            reapplied: 1,
        },
        Case {
            prepare: |root| write(root, "etc/motd", "hello\n", 0o644),
            file: managed("/etc/motd", "hello\n", Some(0o644)),
            message: "compliant: 1 file as declared".into(),
            status: ItemStatus::Succeeded,
            reapplied: 0,
        },
        Case {
            prepare: |root| write(root, "etc/motd", "edited by hand\n", 0o644),
            file: managed("/etc/motd", "hello\n", Some(0o644)),
            message: "re-applied 1 of 1 file: /etc/motd (content changed)".into(),
            status: ItemStatus::Succeeded,
            reapplied: 1,
        },
        Case {
            prepare: |root| write(root, "etc/motd", "hello\n", 0o600),
            file: managed("/etc/motd", "hello\n", Some(0o644)),
            message: "re-applied 1 of 1 file: /etc/motd (mode 0600 → 0644)".into(),
            status: ItemStatus::Succeeded,
            reapplied: 1,
        },
        Case {
            prepare: |root| write(root, "etc/motd", "other\n", 0o600),
            file: managed("/etc/motd", "hello\n", None),
            message: "re-applied 1 of 1 file: /etc/motd (content changed)".into(),
            status: ItemStatus::Succeeded,
            reapplied: 1,
        },
        Case {
            prepare: |root| std::fs::create_dir_all(root.join("etc/motd")).unwrap(),
            file: managed("/etc/motd", "hello\n", None),
            message: "failed 1 of 1 file: /etc/motd: a folder is in the way; the agent does not remove folders".into(),
            status: ItemStatus::Failed,
            reapplied: 0,
        },
        Case {
            prepare: |_| {},
            file: ManagedFile {
                owner: Some(Account::Name("no-such-user-here".into())),
                ..managed("/etc/motd", "", None)
            },
            message: "failed 1 of 1 file: /etc/motd: unknown user \"no-such-user-here\"".into(),
            status: ItemStatus::Failed,
            reapplied: 0,
        },
        Case {
            prepare: |_| {},
            file: ManagedFile {
                group: Some(Account::Name("no-such-group-here".into())),
                ..managed("/etc/motd", "", None)
            },
            message: "failed 1 of 1 file: /etc/motd: unknown group \"no-such-group-here\"".into(),
            status: ItemStatus::Failed,
            reapplied: 0,
        },
        Case {
            prepare: |root| write(root, "etc/owned", "x", 0o600),
            file: owned,
            message: "compliant: 1 file as declared".into(),
            status: ItemStatus::Succeeded,
            reapplied: 0,
        },
    ];
    for case in cases {
        let scratch = tempfile::tempdir().unwrap();
        (case.prepare)(scratch.path());
        let report = enforce(std::slice::from_ref(&case.file), scratch.path());
        assert_eq!(report.report.message, case.message);
        assert_eq!(report.report.status, case.status, "{}", case.message);
        assert_eq!(report.reapplied, case.reapplied, "{}", case.message);
        if case.status == ItemStatus::Succeeded {
            let path = case.file.path.under(scratch.path());
            assert_eq!(std::fs::read(&path).unwrap(), case.file.content, "{}", case.message);
            if let Some(mode) = case.file.mode {
                assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o7777, mode, "{}", case.message);
            }
        }
    }
}

#[test]
fn a_compliant_file_is_not_rewritten() {
    let scratch = tempfile::tempdir().unwrap();
    write(scratch.path(), "etc/motd", "hello\n", 0o644);
    let before = std::fs::metadata(scratch.path().join("etc/motd")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let report = enforce(&[managed("/etc/motd", "hello\n", Some(0o644))], scratch.path());
    assert_eq!(report.reapplied, 0);
    let after = std::fs::metadata(scratch.path().join("etc/motd")).unwrap();
    assert_eq!(
        (before.ino(), before.mtime_nsec(), before.ctime_nsec()),
        (after.ino(), after.mtime_nsec(), after.ctime_nsec())
    );
}

#[test]
fn a_wrong_mode_is_fixed_in_place_and_changed_content_replaces_the_file() {
    let scratch = tempfile::tempdir().unwrap();
    write(scratch.path(), "etc/a", "same", 0o600);
    write(scratch.path(), "etc/b", "old", 0o4711);
    let inode = |name: &str| std::fs::metadata(scratch.path().join("etc").join(name)).unwrap().ino();
    let (a_before, b_before) = (inode("a"), inode("b"));
    let report = enforce(&[managed("/etc/a", "same", Some(0o644)), managed("/etc/b", "new", None)], scratch.path());
    assert_eq!(report.report.message, "re-applied 2 of 2 files: /etc/a (mode 0600 → 0644), /etc/b (content changed)");
    assert_eq!(inode("a"), a_before, "a mode is fixed on the file itself");
    assert_ne!(inode("b"), b_before, "new content arrives by rename");
    let b = std::fs::metadata(scratch.path().join("etc/b")).unwrap();
    assert_eq!(b.mode() & 0o7777, 0o4711, "an undeclared mode is kept across a rewrite");
}

#[test]
fn a_link_in_the_way_is_replaced_and_its_target_left_alone() {
    let scratch = tempfile::tempdir().unwrap();
    write(scratch.path(), "elsewhere", "precious", 0o600);
    std::fs::create_dir_all(scratch.path().join("etc")).unwrap();
    std::os::unix::fs::symlink(scratch.path().join("elsewhere"), scratch.path().join("etc/motd")).unwrap();
    let report = enforce(&[managed("/etc/motd", "hello\n", None)], scratch.path());
    assert_eq!(report.report.message, "re-applied 1 of 1 file: /etc/motd (was a symbolic link)");
    assert_eq!(std::fs::read_to_string(scratch.path().join("elsewhere")).unwrap(), "precious");
    let motd = std::fs::symlink_metadata(scratch.path().join("etc/motd")).unwrap();
    assert!(motd.is_file());
    assert_eq!(motd.mode() & 0o7777, 0o644, "a new file gets 0644 when no mode is declared");
}

#[test]
fn binary_content_is_written_byte_for_byte() {
    let scratch = tempfile::tempdir().unwrap();
    let bytes = vec![0_u8, 159, 146, 150, 255];
    let file = ManagedFile { content: bytes.clone(), ..managed("/usr/local/share/blob", "", Some(0o600)) };
    assert_eq!(enforce(std::slice::from_ref(&file), scratch.path()).reapplied, 1);
    assert_eq!(std::fs::read(scratch.path().join("usr/local/share/blob")).unwrap(), bytes);
    assert_eq!(enforce(&[file], scratch.path()).reapplied, 0, "identical bytes are compliant");
}

#[test]
fn a_wrong_owner_is_put_back_by_root_and_refused_clearly_otherwise() {
    let scratch = tempfile::tempdir().unwrap();
    write(scratch.path(), "etc/owned", "x", 0o4755);
    let path = scratch.path().join("etc/owned");
    let root = nix::unistd::geteuid().is_root();
    if root {
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
    }
    let declared = if root { Account::Name(current_user()) } else { Account::Id(0) };
    let file = ManagedFile {
        owner: Some(declared.clone()),
        group: root.then(|| Account::Name(current_group())),
        ..managed("/etc/owned", "x", Some(0o4755))
    };
    let report = enforce(&[file], scratch.path());
    let message = &report.report.message;
    if root {
        assert!(message.contains(&format!(" → {declared}")), "{message}");
        let metadata = std::fs::metadata(&path).unwrap();
        assert_eq!((metadata.uid(), metadata.gid()), (0, nix::unistd::getegid().as_raw()));
        assert_eq!(metadata.mode() & 0o7777, 0o4755, "the set-uid bit survives the owner change");
        assert_eq!(report.reapplied, 1);
    } else {
        assert!(message.contains("cannot change its owner to 0"), "{message}");
        assert!(message.contains("only root can give a file away"), "{message}");
        assert_eq!(report.report.status, ItemStatus::Failed);
    }
}
