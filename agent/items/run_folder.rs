//! A run's private folder (`state/scripts/<run id>`, root only, 0700): where its
//! items put what their programs need (scripts, a disk image's mount point). It is
//! made when the first item that runs needs it and removed whole at the run's end.
//!
//! Creating and deleting a file are among the dearest steps of running a short
//! script, so a run does them while a program runs rather than between two: the
//! next item's script is written ahead ([`RunFolder::write_ahead`]) and scripts
//! that ran are deleted ([`RunFolder::tidy`]) while the current program runs.
//!
//! The folder is reached once per run without following a link (see
//! [`crate::safe_path`]) and kept open: every script is then written relative to
//! it, so a link planted on the way cannot redirect a write, and no script pays
//! for a walk of its own.

use std::cell::RefCell;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;

use crate::safe_path::{Folder, Missing, SafePathError};

/// One run's private folder and the scripts in it.
#[derive(Debug)]
pub struct RunFolder {
    root: PathBuf,
    path: PathBuf,
    /// The folder, open, once made.
    made: RefCell<Option<Folder>>,
    /// Scripts written ahead that have not run yet, with what each holds.
    written_ahead: RefCell<Vec<(PathBuf, String)>>,
    /// Scripts that ran, deleted at the next tidy.
    ran: RefCell<Vec<PathBuf>>,
}

impl RunFolder {
    /// The folder at `path`, inside the agent's `root`; nothing is made until an item needs it.
    pub fn new(root: PathBuf, path: PathBuf) -> Self {
        Self { root, path, made: RefCell::default(), written_ahead: RefCell::default(), ran: RefCell::default() }
    }

    /// The path only the item at `position` of the run uses, inside the folder.
    pub fn item_path(&self, position: usize) -> PathBuf {
        self.path.join(position.to_string())
    }

    /// Makes the folder (root only, 0700) unless this run already did.
    ///
    /// # Errors
    ///
    /// The folder cannot be made, or a symbolic link is on the way to it.
    pub fn make(&self) -> Result<(), SafePathError> {
        if self.made.borrow().is_none() {
            let folder = Folder::beneath(&self.root, &self.path, Missing::Create(0o700))?;
            folder.set_mode(0o700)?;
            *self.made.borrow_mut() = Some(folder);
        }
        Ok(())
    }

    /// Makes the folder `path` inside this run's folder (0700), for an item's
    /// own use such as a disk image's mount point.
    ///
    /// # Errors
    ///
    /// The run's folder is not made, or `path` is not inside it or cannot be made.
    pub fn make_folder(&self, path: &Path) -> Result<(), SafePathError> {
        let made = self.made.borrow();
        let folder = made.as_ref().ok_or_else(|| not_made(&self.path))?;
        let relative = path
            .strip_prefix(&self.path)
            .map_err(|_| SafePathError::Escapes { path: path.to_path_buf(), start: self.path.clone() })?;
        folder.descend(relative, Missing::Create(0o700)).map(drop)
    }

    /// Writes a script an item will run later in this run. A failure is not
    /// reported here: the item writes the script itself when its turn comes and
    /// says what went wrong then.
    pub fn write_ahead(&self, path: &Path, source: &str) {
        if self.made.borrow().is_some() && self.write_script(path, source).is_ok() {
            self.written_ahead.borrow_mut().push((path.to_path_buf(), source.to_string()));
        }
    }

    /// Makes the script at `path` hold `source`, ready to run: written ahead with
    /// exactly this source, or written now.
    ///
    /// # Errors
    ///
    /// The script cannot be written.
    pub fn script(&self, path: &Path, source: &str) -> io::Result<()> {
        let mut written_ahead = self.written_ahead.borrow_mut();
        match written_ahead.iter().position(|(ahead, _)| ahead == path) {
            Some(index) if written_ahead.swap_remove(index).1 == source => Ok(()),
            _ => self.write_script(path, source),
        }
    }

    /// Creates the script file in the open folder (0700 whatever the umask),
    /// writes it, and closes it before it runs: a file still open for writing
    /// cannot be executed. It is not synced to disk: it runs from the page cache
    /// and is deleted after, and a crash in between leaves nothing worth keeping.
    fn write_script(&self, path: &Path, source: &str) -> io::Result<()> {
        let made = self.made.borrow();
        let folder = made.as_ref().ok_or_else(|| not_made(&self.path))?;
        let name = self.name_in_folder(path)?;
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC;
        let mut file = folder.open_file(name, flags, 0o700)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o700))?;
        file.write_all(source.as_bytes())
    }

    /// The name of `path`, which must lie directly in the run's folder.
    fn name_in_folder<'path>(&self, path: &'path Path) -> Result<&'path std::ffi::OsStr, SafePathError> {
        match (path.parent(), path.file_name()) {
            (Some(parent), Some(name)) if parent == self.path => Ok(name),
            _ => Err(SafePathError::Escapes { path: path.to_path_buf(), start: self.path.clone() }),
        }
    }

    /// Notes that the script at `path` has run; it is deleted at the next tidy.
    pub fn ran(&self, path: PathBuf) {
        self.ran.borrow_mut().push(path);
    }

    /// Deletes the scripts that have run.
    pub fn tidy(&self) {
        let made = self.made.borrow();
        for path in self.ran.take() {
            match (made.as_ref(), self.name_in_folder(&path)) {
                (Some(folder), Ok(name)) => drop(folder.remove_file(name)),
                _ => drop(std::fs::remove_file(path)),
            }
        }
    }

    /// Removes the folder and all in it, at the run's end.
    pub fn remove(&self) {
        if self.made.take().is_some() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
        self.written_ahead.take();
        self.ran.take();
    }
}

fn not_made(path: &Path) -> SafePathError {
    let error = io::Error::new(io::ErrorKind::NotFound, "the run's folder is not made yet");
    SafePathError::Io { action: "write in", path: path.to_path_buf(), error }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    fn made() -> (tempfile::TempDir, RunFolder) {
        let parent = tempfile::tempdir().unwrap();
        let folder = RunFolder::new(parent.path().to_path_buf(), parent.path().join("run-1"));
        folder.make().unwrap();
        (parent, folder)
    }

    #[test]
    fn a_script_written_ahead_is_used_as_is_and_one_not_written_ahead_is_written() {
        let (_parent, folder) = made();
        let ahead = folder.item_path(3).with_extension("audit");
        folder.write_ahead(&ahead, "#!/bin/sh\nexit 0\n");
        // Changed behind the run's back: proof that `script` does not write it again.
        std::fs::write(&ahead, "changed").unwrap();
        folder.script(&ahead, "#!/bin/sh\nexit 0\n").unwrap();
        assert_eq!(std::fs::read_to_string(&ahead).unwrap(), "changed");
        // Used once: asked again, it is written again.
        folder.script(&ahead, "#!/bin/sh\nexit 0\n").unwrap();
        assert_eq!(std::fs::read_to_string(&ahead).unwrap(), "#!/bin/sh\nexit 0\n");
        let now = folder.item_path(4).with_extension("audit");
        folder.script(&now, "#!/bin/sh\nexit 1\n").unwrap();
        let metadata = std::fs::metadata(&now).unwrap();
        assert_eq!(metadata.mode() & 0o777, 0o700);
        assert_eq!(std::fs::read_to_string(&now).unwrap(), "#!/bin/sh\nexit 1\n");
    }

    #[test]
    fn a_script_written_ahead_with_other_source_is_written_again() {
        let (_parent, folder) = made();
        let path = folder.item_path(0).with_extension("audit");
        folder.write_ahead(&path, "#!/bin/sh\nexit 0\n");
        folder.script(&path, "#!/bin/sh\nexit 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "#!/bin/sh\nexit 2\n");
    }

    #[test]
    fn nothing_is_written_ahead_before_the_folder_is_made() {
        let parent = tempfile::tempdir().unwrap();
        let folder = RunFolder::new(parent.path().to_path_buf(), parent.path().join("run-1"));
        folder.write_ahead(&folder.item_path(0).with_extension("audit"), "#!/bin/sh\n");
        assert!(!parent.path().join("run-1").exists());
    }

    #[test]
    fn scripts_that_ran_go_at_the_tidy_and_the_folder_at_the_end() {
        let (parent, folder) = made();
        let ran = folder.item_path(0).with_extension("audit");
        let waiting = folder.item_path(1).with_extension("audit");
        folder.script(&ran, "#!/bin/sh\n").unwrap();
        folder.write_ahead(&waiting, "#!/bin/sh\n");
        folder.ran(ran.clone());
        assert!(ran.exists(), "kept until the tidy");
        folder.tidy();
        assert!(!ran.exists());
        assert!(waiting.exists(), "a script that has not run stays");
        folder.remove();
        assert!(!parent.path().join("run-1").exists());
    }
}
