//! Secure home folders (daily check-in): every home folder under `/Users` is open
//! to its owner only.
//!
//! macOS creates home folders `0755`, so anyone on the Mac can list them. A folder
//! with any group or other permission loses those bits (`0755` → `0700`); the
//! owner's bits and the folder's contents are left alone. `Shared` (everyone's
//! drop folder), `Deleted Users` (archives of removed accounts), hidden entries
//! (`.localized`) and anything that is not a real folder (a link, a file) are not
//! home folders and are skipped. `Guest` is a home like any other.

use std::path::Path;

use super::ParameterReport;
use super::file_system::{mode_text, permission_bits, set_mode_of_examined};
use super::summary::Findings;

/// The parameter's key in the blueprint.
pub(crate) const ID: &str = "secure_home_folders";
/// What admins call it.
pub(crate) const NAME: &str = "Secure home folders";
/// Folders under `/Users` that are not anyone's home.
const NOT_HOMES: [&str; 2] = ["Shared", "Deleted Users"];
/// The group and other permission bits.
const GROUP_AND_OTHER: u32 = 0o077;

/// Takes group and other permissions off every home folder under `root`/Users.
pub(crate) fn enforce(root: &Path) -> ParameterReport {
    let users = root.join("Users");
    let mut findings = Findings::new("home folder", "home folders");
    let names = match home_folder_names(&users) {
        Ok(names) => names,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return findings.into_report(ID, NAME, "compliant: there is no /Users folder".into());
        }
        Err(error) => {
            findings.failed(1, format!("/Users: cannot be read: {error}"));
            let message = format!("failed: /Users cannot be read: {error}");
            return findings.into_report(ID, NAME, message);
        }
    };
    for name in names {
        secure(&users.join(&name), &format!("/Users/{name}"), &mut findings);
    }
    let compliant = match findings.checked() {
        0 => "no home folders under /Users".to_string(),
        count => format!("{} open to their owner only", findings.count(count)),
    };
    let message = findings.message("secured", &compliant);
    findings.into_report(ID, NAME, message)
}

/// The names under `users` that may be home folders, in byte order.
fn home_folder_names(users: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(users)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && !NOT_HOMES.contains(&name.as_str()) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Takes group and other permissions off one home folder, if it is a real folder.
fn secure(path: &Path, shown: &str, findings: &mut Findings) {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return,
        Err(error) => return findings.failed(1, format!("{shown}: cannot be read: {error}")),
    };
    if !metadata.is_dir() {
        findings.note(format!("skipped: {shown} (not a folder)"));
        return;
    }
    let mode = permission_bits(&metadata);
    if mode & GROUP_AND_OTHER == 0 {
        return findings.compliant(format!("{shown} ({})", mode_text(mode)));
    }
    let secured = mode & !GROUP_AND_OTHER;
    match set_mode_of_examined(path, &metadata, secured) {
        Ok(()) => findings.changed("secured", format!("{shown} ({} → {})", mode_text(mode), mode_text(secured))),
        Err(error) => findings.failed(1, format!("{shown}: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::state::ItemStatus;

    fn folder(root: &Path, relative: &str, mode: u32) {
        let path = root.join(relative);
        std::fs::create_dir_all(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn mode_of(root: &Path, relative: &str) -> u32 {
        permission_bits(&std::fs::symlink_metadata(root.join(relative)).unwrap())
    }

    #[test]
    fn open_home_folders_are_closed_and_other_entries_skipped() {
        /// Builds the tree; the message; how many re-applied; modes afterwards.
        type Case = (fn(&Path), &'static str, u32, &'static [(&'static str, u32)]);
        let cases: [Case; 5] = [
            (|_| {}, "compliant: there is no /Users folder", 0, &[]),
            (|root| folder(root, "Users", 0o755), "compliant: no home folders under /Users", 0, &[]),
            (
                |root| {
                    folder(root, "Users/alice", 0o700);
                    folder(root, "Users/bob", 0o500);
                },
                "compliant: 2 home folders open to their owner only",
                0,
                &[("Users/alice", 0o700), ("Users/bob", 0o500)],
            ),
            (
                |root| {
                    folder(root, "Users/alice", 0o755);
                    folder(root, "Users/bob", 0o700);
                    folder(root, "Users/Guest", 0o1777);
                    folder(root, "Users/Shared", 0o1777);
                    folder(root, "Users/Deleted Users", 0o755);
                    folder(root, "Users/.hidden", 0o777);
                    std::fs::write(root.join("Users/.localized"), "").unwrap();
                    std::os::unix::fs::symlink(root.join("Users/Shared"), root.join("Users/link")).unwrap();
                },
                "secured 2 of 3 home folders: /Users/Guest (1777 → 1700), /Users/alice (0755 → 0700)",
                2,
                &[
                    ("Users/alice", 0o700),
                    ("Users/bob", 0o700),
                    ("Users/Guest", 0o1700),
                    ("Users/Shared", 0o1777),
                    ("Users/Deleted Users", 0o755),
                    ("Users/.hidden", 0o777),
                ],
            ),
            (
                |root| folder(root, "Users/carol", 0o711),
                "secured 1 of 1 home folder: /Users/carol (0711 → 0700)",
                1,
                &[],
            ),
        ];
        for (prepare, message, reapplied, modes) in cases {
            let scratch = tempfile::tempdir().unwrap();
            prepare(scratch.path());
            let report = enforce(scratch.path());
            assert_eq!(report.report.message, message);
            assert_eq!(report.report.status, ItemStatus::Succeeded, "{message}");
            assert_eq!(report.reapplied, reapplied, "{message}");
            for (relative, mode) in modes {
                assert_eq!(mode_of(scratch.path(), relative), *mode, "{relative} after: {message}");
            }
        }
    }

    #[test]
    fn the_second_pass_finds_nothing_to_do() {
        let scratch = tempfile::tempdir().unwrap();
        folder(scratch.path(), "Users/alice", 0o755);
        assert_eq!(enforce(scratch.path()).reapplied, 1);
        let again = enforce(scratch.path());
        assert_eq!(
            (again.reapplied, again.report.message.as_str()),
            (0, "compliant: 1 home folder open to their owner only")
        );
    }
}
