//! Each day's log file, opened through the log folder the agent reached without
//! following a link, readable by its owner and group only (0640).
//!
//! The folder is held open (see [`crate::safe_path`]); each day's file is opened
//! relative to it with `O_NOFOLLOW`, so neither a link on the way to the folder nor
//! one at a file's name makes the agent, as root, write or chmod a file elsewhere.
//! A link (or a hard link, a second name of some other file) at the day's file
//! name is removed, never followed, and a fresh file made in its place: the day's
//! lines stay in the log, and what the link pointed at is left untouched. Old files
//! are pruned with `unlinkat` relative to the folder, which removes a link at a
//! file's name rather than what it points at.
//!
//! A write costs one clock read to notice midnight (UTC), and the write itself.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;

use chrono::{NaiveDate, Utc};
use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, SFlag, fchmod, fstat};

use super::{FILE_NAME_PREFIX, FILE_NAME_SUFFIX};
use crate::safe_path::{Folder, SafePathError, is_kind};

/// Each log file's mode: the owner (root) writes, its group (admins on a Mac) reads.
pub(crate) const FILE_MODE: u32 = 0o640;

/// The day's log file in the open log folder, rotated at midnight UTC.
pub(crate) struct DailyFiles {
    /// The log folder, reached without following a link.
    folder: Folder,
    /// How many daily files to keep; `0` keeps them all.
    retention_days: u32,
    /// The day `file` is for.
    day: NaiveDate,
    /// Where lines go.
    file: File,
}

impl DailyFiles {
    /// Opens today's file in `folder` (and prunes the oldest files); also says
    /// which link or second name at its name was replaced, if any.
    pub(crate) fn open(folder: Folder, retention_days: u32) -> Result<(Self, Option<String>), SafePathError> {
        let day = Utc::now().date_naive();
        let (file, replaced) = open_day(&folder, day)?;
        prune(&folder, retention_days);
        Ok((Self { folder, retention_days, day, file }, replaced))
    }

    /// Moves to `today`'s file; if it cannot be opened, lines go on into the
    /// previous day's file, and stderr says why (once: this is tried once a day).
    fn rotate(&mut self, today: NaiveDate) {
        self.day = today;
        match open_day(&self.folder, today) {
            Ok((file, replaced)) => {
                self.file = file;
                prune(&self.folder, self.retention_days);
                if let Some(replaced) = replaced {
                    crate::terminal::print_error(&format!("WARN {replaced}"));
                }
            }
            Err(error) => crate::terminal::print_error(&format!(
                "WARN Cannot open the new day's log file; writing on into the previous one. error={error}"
            )),
        }
    }
}

impl Write for DailyFiles {
    /// Moves to a new day's file when the day changed, then writes.
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let today = Utc::now().date_naive();
        if today != self.day {
            self.rotate(today);
        }
        self.file.write(line)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// The file written on `day`: `agent.YYYY-MM-DD.log`.
fn file_name(day: NaiveDate) -> String {
    format!("{FILE_NAME_PREFIX}.{}.{FILE_NAME_SUFFIX}", day.format("%Y-%m-%d"))
}

/// Opens `day`'s file for appending, made with [`FILE_MODE`] or narrowed to it. A
/// link or a second name of another file at its name is replaced by a new file
/// (the returned note says so); a folder, FIFO or device there is an error.
fn open_day(folder: &Folder, day: NaiveDate) -> Result<(File, Option<String>), SafePathError> {
    let name = OsString::from(file_name(day));
    // Non-blocking, so a FIFO at the name cannot hold the writer; a regular file ignores it.
    let flags = OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_CREAT | OFlag::O_NONBLOCK;
    let path = folder.path().join(&name);
    let examine = |error| SafePathError::Io { action: "examine", path: path.clone(), source: io::Error::from(error) };
    let opened = match folder.open_file(&name, flags, FILE_MODE) {
        Err(SafePathError::SymbolicLink { .. }) => None,
        Ok(file) => {
            let stat = fstat(file.as_fd()).map_err(examine)?;
            if !is_kind(&stat, SFlag::S_IFREG) {
                return Err(SafePathError::Io { action: "write", path, source: io::Error::other("not a plain file") });
            }
            (stat.st_nlink <= 1).then_some((file, stat.st_mode))
        }
        Err(error) => return Err(error),
    };
    let (file, mode, replaced) = match opened {
        Some((file, mode)) => (file, mode, None),
        None => {
            folder.remove_file(&name)?;
            let file = folder.open_file(&name, flags | OFlag::O_EXCL, FILE_MODE)?;
            let mode = fstat(file.as_fd()).map_err(examine)?.st_mode;
            let note = format!(
                "Replaced {}: a symbolic link or a second name of another file, never followed by the agent; \
                 what it pointed at is untouched.",
                path.display()
            );
            (file, mode, Some(note))
        }
    };
    if mode & 0o777 != FILE_MODE as nix::libc::mode_t {
        fchmod(file.as_fd(), Mode::from_bits_truncate(FILE_MODE as _)).map_err(|error| SafePathError::Io {
            action: "set the mode of",
            path,
            source: io::Error::from(error),
        })?;
    }
    Ok((file, replaced))
}

/// Removes all but the newest `retention_days` daily files (`0` keeps them all),
/// by the date in their names; a file that cannot be removed is left.
fn prune(folder: &Folder, retention_days: u32) {
    if retention_days == 0 {
        return;
    }
    let Ok(mut names) = daily_file_names(folder) else {
        return;
    };
    names.sort();
    let keep = usize::try_from(retention_days).unwrap_or(usize::MAX);
    for name in names.iter().rev().skip(keep) {
        let _ = folder.remove_file(name.as_ref());
    }
}

/// The names in `folder` of the form `agent.YYYY-MM-DD.log`.
fn daily_file_names(folder: &Folder) -> nix::Result<Vec<String>> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let mut listing = nix::dir::Dir::openat(folder.as_fd(), ".", flags, Mode::empty())?;
    let names = listing
        .iter()
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str().ok().map(str::to_string))
        .filter(|name| is_daily_file_name(name))
        .collect();
    Ok(names)
}

/// Whether `name` is a daily file's: `agent.`, a date, `.log`.
fn is_daily_file_name(name: &str) -> bool {
    let date = name
        .strip_prefix(FILE_NAME_PREFIX)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_suffix(FILE_NAME_SUFFIX))
        .and_then(|rest| rest.strip_suffix('.'));
    date.is_some_and(|date| NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::*;
    use crate::safe_path::Missing;

    #[test]
    fn a_file_is_named_by_its_day_and_only_such_names_are_pruned() {
        let day = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        assert_eq!(file_name(day), "agent.2026-01-05.log");
        let cases = [
            ("agent.2026-01-05.log", true),
            ("agent.log", false),
            ("agent.notes.log", false),
            ("other.2026-01-05.log", false),
            ("agent.2026-01-05.log.gz", false),
        ];
        for (name, expected) in cases {
            assert_eq!(is_daily_file_name(name), expected, "{name}");
        }
    }

    #[test]
    fn a_wider_file_left_from_before_is_narrowed_and_kept() {
        let folder = tempfile::tempdir().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let path = folder.path().join(file_name(day));
        std::fs::write(&path, "line\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let opened = Folder::beneath(folder.path(), Path::new(""), Missing::Fail).unwrap();
        let (_file, replaced) = open_day(&opened, day).unwrap();
        assert_eq!(replaced, None);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, FILE_MODE);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "line\n", "kept, not truncated");
    }

    #[test]
    fn lines_move_to_the_new_days_file_at_midnight() {
        let folder = tempfile::tempdir().unwrap();
        let opened = Folder::beneath(folder.path(), Path::new(""), Missing::Fail).unwrap();
        let yesterday = Utc::now().date_naive().pred_opt().unwrap();
        let (file, _) = open_day(&opened, yesterday).unwrap();
        let mut files = DailyFiles { folder: opened, retention_days: 1, day: yesterday, file };
        files.write_all(b"today\n").unwrap();
        let today = folder.path().join(file_name(Utc::now().date_naive()));
        assert_eq!(std::fs::read_to_string(today).unwrap(), "today\n");
        assert!(!folder.path().join(file_name(yesterday)).exists(), "pruned to one day");
    }

    #[test]
    fn a_link_or_a_second_name_at_the_days_name_is_replaced_never_followed() {
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("target");
        std::fs::write(&target, "keep\n").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let plant: [fn(&Path, &Path); 2] = [
            |target, at| std::os::unix::fs::symlink(target, at).unwrap(),
            |target, at| std::fs::hard_link(target, at).unwrap(),
        ];
        for plant in plant {
            let folder = tempfile::tempdir().unwrap();
            plant(&target, &folder.path().join(file_name(day)));
            let opened = Folder::beneath(folder.path(), Path::new(""), Missing::Fail).unwrap();
            let (mut file, replaced) = open_day(&opened, day).unwrap();
            file.write_all(b"line\n").unwrap();
            assert!(replaced.is_some_and(|note| note.contains("Replaced")));
            assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep\n");
            assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o644);
            assert_eq!(std::fs::read_to_string(folder.path().join(file_name(day))).unwrap(), "line\n");
        }
    }
}
