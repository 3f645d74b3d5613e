//! Which configuration files the agent believes: only those only root could have
//! written, as sshd's `StrictModes` does.
//!
//! The agent runs as root and its configuration names the programs it runs, the
//! tenant it obeys and where its token goes, so a file any other user could have
//! written is a way to root. A settings file, and every folder on the way to it, must
//! be owned by root (under `AGENT_ROOT`, by the agent's own user too, so tests and
//! scratch check-ins need no root) and writable by nobody else: not by its group,
//! not by others. Anything else is skipped with a warning naming it and saying why.
//!
//! The folders are checked from the top (`/`, or `AGENT_ROOT` when the file lies
//! under it) down, on the path with every symbolic link resolved, so a link cannot
//! lead past a check. The file itself is checked with `fstat` on the descriptor it
//! is then read from, so what is checked is what is read.

use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;

use crate::paths::AgentPaths;
use crate::tenant_trust::{CaCertificates, TrustProblem, read_ca_certificates};

/// Mode bits that let a group or other users write.
const WRITABLE_BY_OTHERS: u32 = 0o022;

/// Root's user id.
const ROOT: u32 = 0;

/// A settings file or folder a user who is not root may not read. The agent's
/// configuration is root's (the tenant's token lives there), so such a user's
/// agent skips it with a warning and goes on (a person's `agent run` still reaches
/// the daemon, which answers with its own configuration); for root it stays an error.
#[derive(Debug, thiserror::Error)]
#[error("skipped: only root may read it ({error})")]
pub(crate) struct ClosedToThisUser {
    error: io::Error,
}

impl ClosedToThisUser {
    /// `error` as closed to this user when it is a refused permission and this
    /// process is not root's; otherwise `error` back.
    pub(crate) fn from_error(error: io::Error) -> Result<Self, io::Error> {
        if closed_to(&error, nix::unistd::geteuid().as_raw()) { Ok(Self { error }) } else { Err(error) }
    }
}

/// Whether `error` is a permission refused to a process of user `uid` who is not root.
fn closed_to(error: &io::Error, uid: u32) -> bool {
    error.kind() == io::ErrorKind::PermissionDenied && uid != ROOT
}

/// Who may have written the configuration, and from which folder down folders are
/// checked.
#[derive(Debug, Clone)]
pub(crate) struct TrustedWriters {
    /// The agent's root with its links resolved (`/`, or `AGENT_ROOT`).
    root: PathBuf,
    /// Root, and under `AGENT_ROOT` the agent's own user.
    owners: Vec<u32>,
}

/// What makes a file or folder untrustworthy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Flaw {
    /// Its group or other users may write it.
    #[error("writable by group or others (mode {mode:04o})")]
    WritableByOthers {
        /// Its permission bits.
        mode: u32,
    },
    /// Someone other than root (or, under `AGENT_ROOT`, the agent's user) owns it.
    #[error("owned by {owner}, not {allowed}")]
    OwnedByAnother {
        /// The owner, by name and id.
        owner: String,
        /// Who may own it.
        allowed: String,
    },
    /// A folder on the way is something else.
    #[error("not a folder")]
    NotAFolder,
}

/// Why a settings file or the drop-in folder was left out; a warning, not an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Skipped {
    /// The file itself is flawed.
    #[error("skipped: {0}; only root may write the agent's configuration")]
    File(Flaw),
    /// The drop-in folder itself is flawed.
    #[error("skipped with every fragment in it: {0}; only root may write the agent's configuration")]
    Fragments(Flaw),
    /// A folder on the way is flawed.
    #[error("skipped: folder {} is {flaw}; only root may write the agent's configuration", folder.display())]
    Folder {
        /// The flawed folder, links resolved.
        folder: PathBuf,
        /// What is wrong with it.
        flaw: Flaw,
    },
}

/// A settings file opened for reading, or why not.
#[derive(Debug)]
pub(crate) enum Opened {
    /// Only root could have written it; read from this descriptor.
    Trusted(File),
    /// It does not exist: no layer, no problem.
    Missing,
    /// It exists but is not to be believed.
    Skipped(Skipped),
    /// It could not be opened or checked.
    Unreadable(io::Error),
}

impl TrustedWriters {
    /// The rule for the agent laid out as `paths`: root alone on a real Mac; under
    /// `AGENT_ROOT`, root or the user the agent runs as.
    pub(crate) fn for_paths(paths: &AgentPaths) -> Self {
        Self::for_root(&paths.root)
    }

    /// The rule for the agent whose root is `root` (`/`, or `AGENT_ROOT`).
    pub(crate) fn for_root(root: &Path) -> Self {
        let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let mut owners = vec![ROOT];
        if root != Path::new("/") {
            owners.push(nix::unistd::geteuid().as_raw());
        }
        owners.dedup();
        Self { root, owners }
    }

    /// Opens the settings file at `path` if it and every folder on the way to it
    /// could only have been written by a trusted owner.
    pub(crate) fn open(&self, path: &Path) -> Opened {
        let real = match std::fs::canonicalize(path) {
            Ok(real) => real,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Opened::Missing,
            Err(error) => return Opened::Unreadable(error),
        };
        if let Some(folder) = real.parent() {
            match self.check_folders(folder) {
                Ok(()) => {}
                Err(FolderCheck::Flawed { folder, flaw }) => return Opened::Skipped(Skipped::Folder { folder, flaw }),
                Err(FolderCheck::Failed(error)) => return Opened::Unreadable(error),
            }
        }
        // No link is followed now: `real` has none left, and one put there since is
        // refused rather than followed. Non-blocking, so a FIFO cannot hang the load.
        let flags = (OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits();
        let file = match std::fs::OpenOptions::new().read(true).custom_flags(flags).open(&real) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Opened::Missing,
            Err(error) => return Opened::Unreadable(error),
        };
        let metadata = match file.metadata() {
            Ok(metadata) => metadata,
            Err(error) => return Opened::Unreadable(error),
        };
        if !metadata.is_file() {
            return Opened::Unreadable(io::Error::other("not a regular file"));
        }
        match self.flaw(&metadata) {
            Some(flaw) => Opened::Skipped(Skipped::File(flaw)),
            None => Opened::Trusted(file),
        }
    }

    /// Reads `tenant.ca_file` at `path` if it and every folder on the way to it
    /// could only have been written by a trusted owner, as a settings file must.
    pub(crate) fn read_ca_file(&self, path: &Path) -> Result<CaCertificates, TrustProblem> {
        let unreadable = |reason: String| TrustProblem::Unreadable { path: path.to_path_buf(), reason };
        match self.open(path) {
            Opened::Trusted(file) => read_ca_certificates(file, path),
            Opened::Missing => Err(unreadable("no such file".to_string())),
            Opened::Skipped(skipped) => {
                let reason = match skipped {
                    Skipped::File(flaw) | Skipped::Fragments(flaw) => flaw.to_string(),
                    Skipped::Folder { folder, flaw } => format!("folder {} is {flaw}", folder.display()),
                };
                Err(TrustProblem::Untrusted { path: path.to_path_buf(), reason })
            }
            Opened::Unreadable(error) => match ClosedToThisUser::from_error(error) {
                Ok(_) => Err(TrustProblem::ClosedToThisUser { path: path.to_path_buf() }),
                Err(error) => Err(unreadable(error.to_string())),
            },
        }
    }

    /// Why the drop-in folder at `folder` must be skipped whole, if it must. A
    /// folder that is missing or cannot be checked is left to the listing, which
    /// reports it as it always has.
    pub(crate) fn skipped_folder(&self, folder: &Path) -> Option<Skipped> {
        let real = std::fs::canonicalize(folder).ok()?;
        match self.check_folders(&real) {
            Err(FolderCheck::Flawed { folder: flawed, flaw }) if flawed == real => Some(Skipped::Fragments(flaw)),
            Err(FolderCheck::Flawed { folder, flaw }) => Some(Skipped::Folder { folder, flaw }),
            Ok(()) | Err(FolderCheck::Failed(_)) => None,
        }
    }

    /// Checks `folder` (links resolved) and every folder above it, from the top:
    /// the agent's root when `folder` lies under it, else `/`.
    fn check_folders(&self, folder: &Path) -> Result<(), FolderCheck> {
        let top = if folder.starts_with(&self.root) { self.root.as_path() } else { Path::new("/") };
        let mut chain: Vec<&Path> = folder.ancestors().take_while(|ancestor| ancestor.starts_with(top)).collect();
        chain.reverse();
        for step in chain {
            let metadata = std::fs::symlink_metadata(step).map_err(FolderCheck::Failed)?;
            let flaw = if metadata.is_dir() { self.flaw(&metadata) } else { Some(Flaw::NotAFolder) };
            if let Some(flaw) = flaw {
                return Err(FolderCheck::Flawed { folder: step.to_path_buf(), flaw });
            }
        }
        Ok(())
    }

    /// What is wrong with a file or folder's owner and mode, if anything.
    fn flaw(&self, metadata: &Metadata) -> Option<Flaw> {
        if !self.owners.contains(&metadata.uid()) {
            return Some(Flaw::OwnedByAnother { owner: user_text(metadata.uid()), allowed: self.allowed_text() });
        }
        let mode = metadata.mode() & 0o7777;
        (mode & WRITABLE_BY_OTHERS != 0).then_some(Flaw::WritableByOthers { mode })
    }

    /// The trusted owners, as a warning names them.
    fn allowed_text(&self) -> String {
        match self.owners.iter().find(|owner| **owner != ROOT) {
            Some(agent) => format!("root or the agent's own user ({})", user_text(*agent)),
            None => "root".to_string(),
        }
    }
}

/// Why the folders on the way to a file did not pass.
enum FolderCheck {
    /// This folder is flawed.
    Flawed { folder: PathBuf, flaw: Flaw },
    /// A folder could not be examined.
    Failed(io::Error),
}

/// A user as an admin reads it: `nobody (uid 65534)`, or `uid 501` without a name.
fn user_text(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(user)) => format!("{} (uid {uid})", user.name),
        _ => format!("uid {uid}"),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A root folder, the rule for it, and `config.d` with one fragment in it.
    fn layout() -> (tempfile::TempDir, TrustedWriters, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let writers = TrustedWriters::for_paths(&AgentPaths::under(root.path()));
        let fragment = root.path().join("config.d/10-a.json");
        std::fs::create_dir_all(fragment.parent().unwrap()).unwrap();
        std::fs::set_permissions(fragment.parent().unwrap(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(&fragment, "{}").unwrap();
        std::fs::set_permissions(&fragment, std::fs::Permissions::from_mode(0o644)).unwrap();
        (root, writers, fragment)
    }

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_file_only_its_owner_writes_in_such_folders_is_trusted() {
        let (_root, writers, fragment) = layout();
        assert!(matches!(writers.open(&fragment), Opened::Trusted(_)));
        assert!(matches!(writers.open(&fragment.with_file_name("absent.json")), Opened::Missing));
        assert_eq!(writers.skipped_folder(fragment.parent().unwrap()), None);
    }

    #[test]
    fn a_file_others_may_write_is_skipped_saying_why() {
        let (_root, writers, fragment) = layout();
        for mode in [0o666, 0o664, 0o646] {
            chmod(&fragment, mode);
            let Opened::Skipped(skipped) = writers.open(&fragment) else { panic!("{mode:o} was trusted") };
            assert_eq!(
                skipped.to_string(),
                format!(
                    "skipped: writable by group or others (mode {mode:04o}); only root may write the agent's configuration"
                )
            );
        }
    }

    #[test]
    fn a_folder_others_may_write_skips_what_is_in_it() {
        let (root, writers, fragment) = layout();
        let folder = fragment.parent().unwrap();
        chmod(folder, 0o777);
        let real = std::fs::canonicalize(folder).unwrap();
        let Opened::Skipped(skipped) = writers.open(&fragment) else { panic!("trusted") };
        assert_eq!(skipped, Skipped::Folder { folder: real, flaw: Flaw::WritableByOthers { mode: 0o777 } });
        assert_eq!(writers.skipped_folder(folder), Some(Skipped::Fragments(Flaw::WritableByOthers { mode: 0o777 })));
        chmod(folder, 0o755);
        chmod(root.path(), 0o1777);
        assert!(matches!(writers.skipped_folder(folder), Some(Skipped::Folder { .. })), "the root is on the way");
    }

    #[test]
    fn a_file_owned_by_another_user_is_skipped() {
        let (_root, writers, fragment) = layout();
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
        if nix::unistd::chown(&fragment, Some(nobody.uid), None).is_err() {
            return; // Not root: cannot give the file away; the integration tests cover it as root.
        }
        let Opened::Skipped(Skipped::File(Flaw::OwnedByAnother { owner, .. })) = writers.open(&fragment) else {
            panic!("a file of nobody's was trusted")
        };
        assert!(owner.contains(&format!("uid {}", nobody.uid)), "{owner}");
    }

    #[test]
    fn a_link_is_judged_by_what_it_leads_to() {
        let (root, writers, fragment) = layout();
        let elsewhere = tempfile::tempdir().unwrap();
        chmod(elsewhere.path(), 0o777);
        let target = elsewhere.path().join("target.json");
        std::fs::write(&target, "{}").unwrap();
        let link = root.path().join("config.d/20-link.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(writers.open(&link), Opened::Skipped(Skipped::Folder { .. })));
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink(&fragment, &link).unwrap();
        assert!(matches!(writers.open(&link), Opened::Trusted(_)));
    }

    #[test]
    fn a_folder_or_fifo_in_place_of_the_file_cannot_be_read() {
        let (root, writers, _fragment) = layout();
        assert!(matches!(writers.open(&root.path().join("config.d")), Opened::Unreadable(_)));
        let fifo = root.path().join("config.d/30-fifo.json");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(matches!(writers.open(&fifo), Opened::Unreadable(_)));
    }

    #[test]
    fn only_a_refused_permission_seen_by_someone_not_root_is_closed_to_that_user() {
        let denied = || io::Error::from(io::ErrorKind::PermissionDenied);
        assert!(closed_to(&denied(), 501));
        assert!(!closed_to(&denied(), ROOT), "root is refused nothing it should read: an error");
        assert!(!closed_to(&io::Error::from(io::ErrorKind::InvalidData), 501));
    }
}
