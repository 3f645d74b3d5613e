//! Reaching a folder the agent writes into without following a symbolic link.
//!
//! A path such as `/Library/Application Support/EndpointAgent/state/scripts` is
//! walked one name at a time from a trusted starting folder (the agent's root:
//! `/`, or `AGENT_ROOT`), each step an `openat` with `O_NOFOLLOW | O_DIRECTORY`
//! relative to the folder opened before it. A symbolic link anywhere on the way
//! is refused, and since every step holds the folder it came from open, nothing
//! swapped in after a check can redirect the walk: there is no check apart from
//! the use. What is then written goes in relative to the open folder
//! ([`Folder`]): created with `O_NOFOLLOW | O_EXCL`, renamed with `renameat`
//! (which replaces a link at the final name, never follows it).
//!
//! One exception keeps macOS's own layout working: at the top of the root the
//! system links `etc`, `tmp` and `var`, which point at `private/etc`, `private/tmp`
//! and `private/var`, are walked as those folders (under the root, never out of it).

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, readlinkat, renameat};
use nix::sys::stat::{FchmodatFlags, FileStat, Mode, SFlag, fchmod, fchmodat, fstat, fstatat, mkdirat};
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchown, fchownat, geteuid, unlinkat};

/// The links macOS keeps at the top of `/` into `/private`.
const SYSTEM_LINKS: [&str; 3] = ["etc", "tmp", "var"];

/// Why a folder or file on the way to a write was not reached.
#[derive(Debug, thiserror::Error)]
pub enum SafePathError {
    /// A symbolic link is on the way.
    #[error("refused {}: it is a symbolic link, and the agent never follows one on the way to a write", path.display())]
    SymbolicLink {
        /// The link.
        path: PathBuf,
    },
    /// The path leaves the folder it must stay in (`..`, or another absolute path).
    #[error("refused {}: it is not inside {}", path.display(), start.display())]
    Escapes {
        /// The path asked for.
        path: PathBuf,
        /// The folder it must stay in.
        start: PathBuf,
    },
    /// Something other than a folder is where a folder is needed.
    #[error("{} is not a folder", path.display())]
    NotAFolder {
        /// The entry.
        path: PathBuf,
    },
    /// The system refused a step.
    #[error("cannot {action} {}: {error}", path.display())]
    Io {
        /// `open`, `create`, `write`, …
        action: &'static str,
        /// The path of the step.
        path: PathBuf,
        /// Why, as the system said it; part of the message, so not a source
        /// (a chain printed with `{:#}` says it once).
        error: io::Error,
    },
}

impl SafePathError {
    fn io<'path>(action: &'static str, path: &'path Path) -> impl Fn(Errno) -> Self + 'path {
        move |errno| Self::Io { action, path: path.to_path_buf(), error: io::Error::from(errno) }
    }
}

/// An open folder, reached without following a link, and its path for messages.
#[derive(Debug)]
pub struct Folder {
    fd: OwnedFd,
    path: PathBuf,
    /// The trusted starting folder itself, where macOS's system links are walked.
    is_start: bool,
}

/// Whether and how missing folders are made on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// A missing folder is an error (`NotFound`).
    Fail,
    /// Missing folders are made with this mode (before the umask).
    Create(u32),
}

impl Folder {
    /// Opens the trusted starting folder itself (the agent's root); links in its
    /// own path are the administrator's and are followed.
    pub fn trusted(start: &Path) -> Result<Self, SafePathError> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let fd = nix::fcntl::open(start, flags, Mode::empty()).map_err(SafePathError::io("open", start))?;
        Ok(Self { fd, path: start.to_path_buf(), is_start: true })
    }

    /// Opens `path` (absolute and inside `start`, or relative to it) by walking
    /// down from `start` without following links, making what is missing as `missing` says.
    pub fn beneath(start: &Path, path: &Path, missing: Missing) -> Result<Self, SafePathError> {
        let relative = if path.is_absolute() {
            path.strip_prefix(start)
                .map_err(|_| SafePathError::Escapes { path: path.to_path_buf(), start: start.to_path_buf() })?
        } else {
            path
        };
        Self::trusted(start)?.descend(relative, missing)
    }

    /// Opens the folder `relative` below this one, without following links.
    pub fn descend(&self, relative: &Path, missing: Missing) -> Result<Self, SafePathError> {
        let escapes = || SafePathError::Escapes { path: self.path.join(relative), start: self.path.clone() };
        let mut names = Vec::new();
        for component in relative.components() {
            match component {
                Component::Normal(name) => names.push(name.to_os_string()),
                Component::CurDir => {}
                Component::ParentDir | Component::RootDir | Component::Prefix(_) => return Err(escapes()),
            }
        }
        let Some((first, rest)) = names.split_first() else {
            let fd = self.fd.try_clone().map_err(|source| io_error("open", &self.path, source))?;
            return Ok(Self { fd, path: self.path.clone(), is_start: self.is_start });
        };
        let mut folder = match self.child(first, missing) {
            Err(SafePathError::SymbolicLink { path }) if self.is_start => {
                self.system_link(first).ok_or(SafePathError::SymbolicLink { path })??
            }
            other => other?,
        };
        for name in rest {
            folder = folder.child(name, missing)?;
        }
        Ok(folder)
    }

    /// The folder `name` in this one, made when missing and allowed.
    fn child(&self, name: &OsStr, missing: Missing) -> Result<Self, SafePathError> {
        let path = self.path.join(name);
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let opened = match openat(self.fd.as_fd(), name, flags, Mode::empty()) {
            Err(Errno::ENOENT) => match missing {
                Missing::Fail => return Err(SafePathError::io("open", &path)(Errno::ENOENT)),
                Missing::Create(mode) => {
                    match mkdirat(self.fd.as_fd(), name, Mode::from_bits_truncate(mode as _)) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(errno) => return Err(SafePathError::io("create", &path)(errno)),
                    }
                    openat(self.fd.as_fd(), name, flags, Mode::empty())
                }
            },
            other => other,
        };
        match opened {
            Ok(fd) => Ok(Self { fd, path, is_start: false }),
            Err(errno @ (Errno::ELOOP | Errno::ENOTDIR | Errno::EMLINK)) => match self.entry(name) {
                Ok(Some(stat)) if is_kind(&stat, SFlag::S_IFLNK) => Err(SafePathError::SymbolicLink { path }),
                Ok(Some(_)) => Err(SafePathError::NotAFolder { path }),
                _ => Err(SafePathError::io("open", &path)(errno)),
            },
            Err(errno) => Err(SafePathError::io("open", &path)(errno)),
        }
    }

    /// For macOS's `etc`, `tmp` and `var` links at the top of the root, pointing
    /// at `private/<name>`: that folder under the root (walked without following
    /// links, never made). `None` for any other link.
    fn system_link(&self, name: &OsStr) -> Option<Result<Self, SafePathError>> {
        let text = name.to_str().filter(|text| SYSTEM_LINKS.contains(text))?;
        let target = readlinkat(self.fd.as_fd(), name).ok()?;
        let into_private = target.to_str()?.trim_start_matches('/').strip_prefix("private/") == Some(text);
        into_private.then(|| self.child(OsStr::new("private"), Missing::Fail)?.child(name, Missing::Fail))
    }

    /// The folder's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open folder, for `*at` calls of other modules.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Sets the folder's own mode.
    pub fn set_mode(&self, mode: u32) -> Result<(), SafePathError> {
        fchmod(self.fd.as_fd(), Mode::from_bits_truncate(mode as _))
            .map_err(SafePathError::io("set the mode of", &self.path))
    }

    /// Makes the folder's owner the agent's own user (its group is left as it is), so
    /// a folder someone else made before the agent cannot be written by them.
    pub fn make_own(&self) -> Result<(), SafePathError> {
        let user = geteuid();
        let stat = fstat(self.fd.as_fd()).map_err(SafePathError::io("examine", &self.path))?;
        if stat.st_uid != user.as_raw() {
            fchown(self.fd.as_fd(), Some(user), None).map_err(SafePathError::io("set the owner of", &self.path))?;
        }
        Ok(())
    }

    /// What is at `name` in this folder, never following a link; `None` when nothing.
    pub fn entry(&self, name: &OsStr) -> Result<Option<FileStat>, SafePathError> {
        match fstatat(self.fd.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(Some(stat)),
            Err(Errno::ENOENT) => Ok(None),
            Err(errno) => Err(SafePathError::io("examine", &self.path.join(name))(errno)),
        }
    }

    /// The names of the entries in this folder (without `.` and `..`).
    pub fn names(&self) -> Result<Vec<OsString>, SafePathError> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let mut listing =
            Dir::openat(self.fd.as_fd(), ".", flags, Mode::empty()).map_err(SafePathError::io("read", &self.path))?;
        let mut names = Vec::new();
        for entry in listing.iter() {
            let name = entry.map_err(SafePathError::io("read", &self.path))?.file_name().to_bytes().to_vec();
            if name != b"." && name != b".." {
                names.push(OsString::from_vec(name));
            }
        }
        Ok(names)
    }

    /// Sets the mode of `name` in this folder, which must not be a symbolic link
    /// (a link there is never followed: the call fails).
    pub fn set_entry_mode(&self, name: &OsStr, mode: u32) -> Result<(), SafePathError> {
        fchmodat(self.fd.as_fd(), name, Mode::from_bits_truncate(mode as _), FchmodatFlags::NoFollowSymlink)
            .map_err(SafePathError::io("set the mode of", &self.path.join(name)))
    }

    /// Gives `name` in this folder to `owner` and `group`; a symbolic link there is
    /// changed itself, never what it points at.
    pub fn set_entry_owner(&self, name: &OsStr, owner: Uid, group: Gid) -> Result<(), SafePathError> {
        fchownat(self.fd.as_fd(), name, Some(owner), Some(group), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(SafePathError::io("set the owner of", &self.path.join(name)))
    }

    /// Opens the file `name` with `flags` (plus `O_NOFOLLOW | O_CLOEXEC`); a new
    /// one gets `mode` before the umask.
    pub fn open_file(&self, name: &OsStr, flags: OFlag, mode: u32) -> Result<File, SafePathError> {
        let path = self.path.join(name);
        let flags = flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        match openat(self.fd.as_fd(), name, flags, Mode::from_bits_truncate(mode as _)) {
            Ok(fd) => Ok(File::from(fd)),
            Err(Errno::ELOOP) => Err(SafePathError::SymbolicLink { path }),
            Err(errno) => Err(SafePathError::io("open", &path)(errno)),
        }
    }

    /// Creates the file `name`, which must not exist yet, for writing.
    pub fn create_file(&self, name: &OsStr, mode: u32) -> Result<File, SafePathError> {
        self.open_file(name, OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL, mode)
    }

    /// Renames `from` in this folder to `to` in `into` (replacing, never following, what is there).
    pub fn rename(&self, from: &OsStr, into: &Folder, to: &OsStr) -> Result<(), SafePathError> {
        renameat(self.fd.as_fd(), from, into.fd.as_fd(), to)
            .map_err(SafePathError::io("rename to", &into.path.join(to)))
    }

    /// Removes the file or link `name`; a missing one is no error.
    pub fn remove_file(&self, name: &OsStr) -> Result<(), SafePathError> {
        match unlinkat(self.fd.as_fd(), name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(errno) => Err(SafePathError::io("remove", &self.path.join(name))(errno)),
        }
    }

    /// Flushes the folder itself, so renames in it survive a crash.
    pub fn sync(&self) -> Result<(), SafePathError> {
        let file = File::from(self.fd.try_clone().map_err(|source| io_error("flush", &self.path, source))?);
        file.sync_all().map_err(|source| io_error("flush", &self.path, source))
    }
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> SafePathError {
    SafePathError::Io { action, path: path.to_path_buf(), error: source }
}

/// The bytes a process may still write on the volume holding the open `fd` (a
/// folder or a file in it): `fstatvfs`, so it is the volume of what is open.
#[allow(clippy::useless_conversion)] // the field types differ between Linux and macOS
pub fn free_bytes(fd: impl AsFd) -> nix::Result<u64> {
    let volume = nix::sys::statvfs::fstatvfs(fd)?;
    Ok(u64::from(volume.blocks_available()).saturating_mul(u64::from(volume.fragment_size())))
}

/// Whether `stat` is of the file type `kind`.
pub fn is_kind(stat: &FileStat, kind: SFlag) -> bool {
    SFlag::from_bits_truncate(stat.st_mode as _) & SFlag::S_IFMT == kind
}

/// The folder holding `path` and the final name, opened beneath `start`.
pub fn parent_of(start: &Path, path: &Path, missing: Missing) -> Result<(Folder, OsString), SafePathError> {
    let name = path
        .file_name()
        .filter(|name| !name.as_bytes().is_empty())
        .ok_or_else(|| SafePathError::Escapes { path: path.to_path_buf(), start: start.to_path_buf() })?;
    let folder = Folder::beneath(start, path.parent().unwrap_or(start), missing)?;
    Ok((folder, name.to_os_string()))
}

#[cfg(test)]
#[path = "safe_path_tests.rs"]
mod tests;
