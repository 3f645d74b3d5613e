//! Managed files: at every check-in each declared file is compared with the
//! blueprint (content, then mode, owner and group) and put back where it drifted.
//!
//! A file that is already right is not touched at all (same inode, same mtime).
//! New or changed content is written atomically; a wrong mode, owner or group on
//! the right content is fixed in place. Each file put back counts as re-applied.

use std::ffi::OsStr;
use std::fs::Metadata;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::sys::stat::SFlag;

use super::ParameterReport;
use super::file_system::{self, FileError, Ownership, mode_text, permission_bits};
use super::summary::Findings;
use crate::accounts::{group_name, user_name};
use crate::blueprint::{Account, ManagedFile};
use crate::safe_path::{Folder, SafePathError, is_kind};

/// The parameter's key in the blueprint.
pub(crate) const ID: &str = "managed_files";
const NAME: &str = "Managed files";
/// The mode of a file the agent creates when the blueprint gives none.
const NEW_FILE_MODE: u32 = 0o644;

/// Checks every managed file under `root`, puts back what drifted, and reports.
pub(crate) fn enforce(files: &[ManagedFile], root: &Path) -> ParameterReport {
    let mut findings = Findings::new("file", "files");
    for file in files {
        match enforce_file(file, root) {
            Ok(changes) if changes.is_empty() => findings.compliant(&file.path),
            Ok(changes) => findings.changed("re-applied", format!("{} ({})", file.path, changes.join(", "))),
            Err(reason) => findings.failed(1, format!("{}: {reason}", file.path)),
        }
    }
    let compliant = format!("{} as declared", findings.count(findings.checked()));
    let message = findings.message("re-applied", &compliant);
    findings.into_report(ID, NAME, message)
}

/// What is at a managed file's path now.
enum Found {
    Missing,
    Folder,
    /// A symbolic link, socket or other non-file, replaced by the file.
    Other(&'static str),
    File {
        metadata: Metadata,
        same_content: bool,
    },
}

/// Puts one file in line; the changes made (none when compliant), or why not.
fn enforce_file(file: &ManagedFile, root: &Path) -> Result<Vec<String>, String> {
    let uid = file.owner.as_ref().map(user_id).transpose()?;
    let gid = file.group.as_ref().map(group_id).transpose()?;
    let target = file.path.under(root);
    let parent = file_system::open_parent(root, &target).map_err(|error| error.to_string())?;
    let found = match &parent {
        None => Found::Missing,
        Some((folder, name)) => examine(folder, name, &file.content).map_err(|error| error.to_string())?,
    };
    let (metadata, same_content) = match found {
        Found::Folder => return Err("a folder is in the way; the agent does not remove folders".into()),
        Found::Missing | Found::Other(_) => {
            let mode = file.mode.unwrap_or(NEW_FILE_MODE);
            let names = (account_text(file.owner.as_ref()), account_text(file.group.as_ref()));
            let names = (names.0.as_str(), names.1.as_str());
            file_system::write_atomically(root, &target, &file.content, mode, Ownership { uid, gid }, names)
                .map_err(|error| error.to_string())?;
            return Ok(vec![match found {
                Found::Other(kind) => format!("was {kind}"),
                _ => "missing".to_string(),
            }]);
        }
        Found::File { metadata, same_content } => (metadata, same_content),
    };
    // What the blueprint leaves out stays as it is, even when the content is rewritten.
    let ownership = Ownership { uid: uid.or(Some(metadata.uid())), gid: gid.or(Some(metadata.gid())) };
    let mode = file.mode.unwrap_or(permission_bits(&metadata));
    let owner = file.owner.as_ref().map_or_else(|| user_name(metadata.uid()), ToString::to_string);
    let group = file.group.as_ref().map_or_else(|| group_name(metadata.gid()), ToString::to_string);
    let mut changes = Vec::new();
    if !same_content {
        changes.push("content changed".to_string());
    }
    if mode != permission_bits(&metadata) {
        changes.push(format!("mode {} → {}", mode_text(permission_bits(&metadata)), mode_text(mode)));
    }
    if ownership.uid != Some(metadata.uid()) {
        changes.push(format!("owner {} → {owner}", user_name(metadata.uid())));
    }
    if ownership.gid != Some(metadata.gid()) {
        changes.push(format!("group {} → {group}", group_name(metadata.gid())));
    }
    if changes.is_empty() {
        return Ok(changes);
    }
    let names = (owner.as_str(), group.as_str());
    let applied = match &parent {
        Some((folder, name)) if same_content => fix_in_place(folder, name, &metadata, ownership, names, mode),
        _ => file_system::write_atomically(root, &target, &file.content, mode, ownership, names),
    };
    applied.map(|()| changes).map_err(|error| error.to_string())
}

/// Looks at `name` in `folder` without following a link; for a regular file,
/// whether its content is `expected` (read only as far as needed to tell).
fn examine(folder: &Folder, name: &OsStr, expected: &[u8]) -> Result<Found, SafePathError> {
    let Some(stat) = folder.entry(name)? else {
        return Ok(Found::Missing);
    };
    if is_kind(&stat, SFlag::S_IFDIR) {
        return Ok(Found::Folder);
    }
    if is_kind(&stat, SFlag::S_IFLNK) {
        return Ok(Found::Other("a symbolic link"));
    }
    if !is_kind(&stat, SFlag::S_IFREG) {
        return Ok(Found::Other("not a regular file"));
    }
    let (file, metadata) = file_system::open_in(folder, name)?;
    if metadata.len() != expected.len() as u64 {
        return Ok(Found::File { metadata, same_content: false });
    }
    let mut content = Vec::with_capacity(expected.len());
    file.take(expected.len() as u64 + 1).read_to_end(&mut content).map_err(|error| SafePathError::Io {
        action: "read",
        path: folder.path().join(name),
        error,
    })?;
    Ok(Found::File { metadata, same_content: content == expected })
}

/// Fixes owner, group and mode of the file still at `name` in `folder`.
fn fix_in_place(
    folder: &Folder,
    name: &OsStr,
    examined: &Metadata,
    ownership: Ownership,
    names: (&str, &str),
    mode: u32,
) -> Result<(), FileError> {
    let (file, now) = file_system::open_in(folder, name)?;
    if (now.dev(), now.ino()) != (examined.dev(), examined.ino()) {
        return Err(FileError::Replaced);
    }
    file_system::apply_ownership_and_mode(&file, ownership, names, mode)
}

/// The uid of `account`; an unknown name is an error naming it.
fn user_id(account: &Account) -> Result<u32, String> {
    match account {
        Account::Id(id) => Ok(*id),
        Account::Name(name) => match nix::unistd::User::from_name(name) {
            Ok(Some(user)) => Ok(user.uid.as_raw()),
            Ok(None) => Err(format!("unknown user {name:?}")),
            Err(error) => Err(format!("cannot look up the user {name:?}: {error}")),
        },
    }
}

/// The gid of `account`; an unknown name is an error naming it.
fn group_id(account: &Account) -> Result<u32, String> {
    match account {
        Account::Id(id) => Ok(*id),
        Account::Name(name) => match nix::unistd::Group::from_name(name) {
            Ok(Some(group)) => Ok(group.gid.as_raw()),
            Ok(None) => Err(format!("unknown group {name:?}")),
            Err(error) => Err(format!("cannot look up the group {name:?}: {error}")),
        },
    }
}

/// The account as the blueprint names it, for messages (only used when one is declared).
fn account_text(account: Option<&Account>) -> String {
    account.map(ToString::to_string).unwrap_or_default()
}

#[cfg(test)]
#[path = "managed_files_tests.rs"]
mod tests;
