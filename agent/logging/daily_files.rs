//! Each day's log file, opened through the log folder the agent reached without
//! following a link, readable by its owner and group only (0640), in parts that
//! keep the folder within its budget (see `budget`).
//!
//! The folder is held open (see [`crate::safe_path`]); each file is opened
//! relative to it with `O_NOFOLLOW`, so neither a link on the way to the folder nor
//! one at a file's name makes the agent, as root, write or chmod a file elsewhere.
//! A link (or a hard link, a second name of some other file) at the file's name
//! is removed, never followed, and a fresh file made in its place: the day's
//! lines stay in the log, and what the link pointed at is left untouched. Old files
//! are pruned with `unlinkat` relative to the folder, which removes a link at a
//! file's name rather than what it points at.
//!
//! A day's first file is `agent.YYYY-MM-DD.log`; when it reaches the part size the
//! day goes on in `agent.YYYY-MM-DD.1.log`, `.2.log`, and so on. Files sort by the
//! day, then the part number, in their names. A process starting, or moving on,
//! takes the day's newest part while it has room, so the daemon and an `agent run`
//! writing at once share parts rather than each starting its own.
//!
//! A write costs one clock read to notice midnight (UTC), one comparison of a
//! running byte count against the part size, and the write itself; the folder is
//! listed and pruned only when a part or a day begins.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;

use chrono::{NaiveDate, Utc};
use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, SFlag, fchmod, fstat};

use super::budget::{Limits, LogFile, files_to_remove};
use super::{FILE_NAME_PREFIX, FILE_NAME_SUFFIX};
use crate::safe_path::{Folder, SafePathError, is_kind};

/// Each log file's mode: the owner (root) writes, its group (admins on a Mac) reads.
pub(crate) const FILE_MODE: u32 = 0o640;

/// The day's current log file in the open log folder, moved on at midnight UTC
/// and whenever it reaches the part size.
pub(crate) struct DailyFiles {
    /// The log folder, reached without following a link.
    folder: Folder,
    /// How many days and bytes the folder keeps.
    limits: Limits,
    /// The day `file` is for.
    day: NaiveDate,
    /// Which part of the day `file` is.
    part: u32,
    /// Where lines go.
    file: File,
    /// The bytes in `file` when opened plus what this process wrote since.
    part_bytes: u64,
}

impl DailyFiles {
    /// Opens today's newest part with room in `folder` (and prunes the oldest
    /// files); also says which link or second name at its name was replaced, if any.
    pub(crate) fn open(folder: Folder, limits: Limits) -> Result<(Self, Option<String>), SafePathError> {
        let day = Utc::now().date_naive();
        let opened = open_part_with_room(&folder, &limits, day, None)?;
        let files = Self { folder, limits, day, part: opened.part, file: opened.file, part_bytes: opened.bytes };
        Ok((files, opened.replaced))
    }

    /// Moves to `day`'s part with room (after `full`, the part just filled, when
    /// given); if it cannot be opened, lines go on into the current file, and
    /// stderr says why (once a part size or once a day at most).
    fn move_on(&mut self, day: NaiveDate, full: Option<u32>) {
        match open_part_with_room(&self.folder, &self.limits, day, full) {
            Ok(opened) => {
                (self.day, self.part, self.file, self.part_bytes) = (day, opened.part, opened.file, opened.bytes);
                if let Some(replaced) = opened.replaced {
                    crate::terminal::print_error(&format!("WARN {replaced}"));
                }
            }
            Err(error) => {
                // Tried again after another part's worth of lines, not at every line.
                (self.day, self.part_bytes) = (day, 0);
                crate::terminal::print_error(&format!(
                    "WARN Cannot open the next log file; writing on into the current one. error={error}"
                ));
            }
        }
    }
}

impl Write for DailyFiles {
    /// Moves to a new day's file when the day changed, or to the day's next part
    /// when this line would take the current one past the part size, then writes.
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let today = Utc::now().date_naive();
        let length = line.len() as u64;
        if today != self.day {
            self.move_on(today, None);
        } else if self.part_bytes > 0 && self.part_bytes.saturating_add(length) > self.limits.part_size() {
            self.move_on(today, Some(self.part));
        }
        let written = self.file.write(line)?;
        self.part_bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// The file for `part` of `day`: `agent.YYYY-MM-DD.log` for the first,
/// `agent.YYYY-MM-DD.<part>.log` for the others.
pub(crate) fn file_name(day: NaiveDate, part: u32) -> String {
    let day = day.format("%Y-%m-%d");
    match part {
        0 => format!("{FILE_NAME_PREFIX}.{day}.{FILE_NAME_SUFFIX}"),
        part => format!("{FILE_NAME_PREFIX}.{day}.{part}.{FILE_NAME_SUFFIX}"),
    }
}

/// The day and part in a log file's name; `None` for any other name.
pub(crate) fn day_and_part(name: &str) -> Option<(NaiveDate, u32)> {
    let stem = name.strip_prefix(FILE_NAME_PREFIX)?.strip_prefix('.')?.strip_suffix(FILE_NAME_SUFFIX)?;
    let stem = stem.strip_suffix('.')?;
    let (day, part) = match stem.split_once('.') {
        Some((day, part)) if !part.starts_with(['0', '+']) => (day, part.parse().ok()?),
        Some(_) => return None,
        None => (stem, 0),
    };
    Some((NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?, part))
}

/// The file a writer moved on to.
struct OpenedPart {
    part: u32,
    file: File,
    /// Its size when opened.
    bytes: u64,
    /// What was replaced at its name, to warn about.
    replaced: Option<String>,
}

/// Opens `day`'s newest part if it has room (and is not `full`), else the next
/// one, then prunes the folder to `limits` around it.
fn open_part_with_room(
    folder: &Folder,
    limits: &Limits,
    day: NaiveDate,
    full: Option<u32>,
) -> Result<OpenedPart, SafePathError> {
    let files = log_files(folder).unwrap_or_default();
    let newest = files.iter().filter(|(file, _)| file.day == day).map(|(file, _)| file).max_by_key(|file| file.part);
    let part = match (newest, full) {
        (Some(newest), Some(full)) if newest.part <= full => full.saturating_add(1),
        (Some(newest), _) if newest.bytes < limits.part_size() => newest.part,
        (Some(newest), _) => newest.part.saturating_add(1),
        (None, full) => full.map_or(0, |full| full.saturating_add(1)),
    };
    let (file, replaced) = open_part(folder, day, part)?;
    let bytes = file.metadata().map_or(0, |metadata| metadata.len());
    let mut listed: Vec<LogFile> =
        files.into_iter().map(|(file, _)| file).filter(|file| file.order() != (day, part)).collect();
    listed.push(LogFile { day, part, bytes });
    for file in files_to_remove(&listed, (day, part), limits) {
        let _ = folder.remove_file(OsString::from(file_name(file.day, file.part)).as_ref());
    }
    Ok(OpenedPart { part, file, bytes, replaced })
}

/// Opens `part` of `day`'s file for appending, made with [`FILE_MODE`] or narrowed to it. A
/// link or a second name of another file at its name is replaced by a new file
/// (the returned note says so); a folder, FIFO or device there is an error.
fn open_part(folder: &Folder, day: NaiveDate, part: u32) -> Result<(File, Option<String>), SafePathError> {
    let name = OsString::from(file_name(day, part));
    // Non-blocking, so a FIFO at the name cannot hold the writer; a regular file ignores it.
    let flags = OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_CREAT | OFlag::O_NONBLOCK;
    let path = folder.path().join(&name);
    let examine = |error| SafePathError::Io { action: "examine", path: path.clone(), error: io::Error::from(error) };
    let opened = match folder.open_file(&name, flags, FILE_MODE) {
        Err(SafePathError::SymbolicLink { .. }) => None,
        Ok(file) => {
            let stat = fstat(file.as_fd()).map_err(examine)?;
            if !is_kind(&stat, SFlag::S_IFREG) {
                return Err(SafePathError::Io { action: "write", path, error: io::Error::other("not a plain file") });
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
            error: io::Error::from(error),
        })?;
    }
    Ok((file, replaced))
}

/// The log files in `folder` (and links at such names, counted at their own
/// size), with their names, in no order.
fn log_files(folder: &Folder) -> Result<Vec<(LogFile, OsString)>, SafePathError> {
    let mut files = Vec::new();
    for name in folder.names()? {
        let Some((day, part)) = name.to_str().and_then(day_and_part) else {
            continue;
        };
        let Some(stat) = folder.entry(&name)? else {
            continue;
        };
        let bytes = u64::try_from(stat.st_size).unwrap_or(0);
        files.push((LogFile { day, part, bytes }, name));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::*;
    use crate::safe_path::Missing;

    fn day(number: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, number).unwrap()
    }

    fn limits(retention_days: u32, max_size: u64) -> Limits {
        Limits { retention_days, max_size }
    }

    #[test]
    fn a_file_is_named_by_its_day_and_part_and_only_such_names_are_pruned() {
        assert_eq!(file_name(day(5), 0), "agent.2026-01-05.log");
        assert_eq!(file_name(day(5), 12), "agent.2026-01-05.12.log");
        let cases = [
            ("agent.2026-01-05.log", Some((day(5), 0))),
            ("agent.2026-01-05.12.log", Some((day(5), 12))),
            ("agent.2026-01-05.0.log", None),
            ("agent.2026-01-05.012.log", None),
            ("agent.2026-01-05.+1.log", None),
            ("agent.2026-01-05.x.log", None),
            ("agent.log", None),
            ("agent.notes.log", None),
            ("other.2026-01-05.log", None),
            ("agent.2026-01-05.log.gz", None),
        ];
        for (name, expected) in cases {
            assert_eq!(day_and_part(name), expected, "{name}");
        }
    }

    /// The names in `folder`, sorted, with their sizes.
    fn listing(folder: &Path) -> Vec<(String, u64)> {
        let mut names: Vec<(String, u64)> = std::fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap())
            .map(|entry| (entry.file_name().into_string().unwrap(), entry.metadata().unwrap().len()))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_full_part_moves_the_day_on_and_the_oldest_parts_go_past_the_budget() {
        let folder = tempfile::tempdir().unwrap();
        let opened = Folder::beneath(folder.path(), Path::new(""), Missing::Fail).unwrap();
        // Parts of 100 bytes; the folder keeps at most 800.
        let (mut files, _) = DailyFiles::open(opened, limits(14, 800)).unwrap();
        let line = [b'x'; 49].iter().chain(b"\n").copied().collect::<Vec<u8>>();
        for _ in 0..40 {
            files.write_all(&line).unwrap();
        }
        let today = Utc::now().date_naive();
        let kept = listing(folder.path());
        let total: u64 = kept.iter().map(|(_, bytes)| bytes).sum();
        assert!(total <= 800, "{kept:?}");
        assert!(kept.iter().all(|(_, bytes)| *bytes <= 100), "{kept:?}");
        let newest = file_name(today, 19);
        assert!(kept.iter().any(|(name, bytes)| *name == newest && *bytes == 100), "{kept:?}");
        assert!(!folder.path().join(file_name(today, 0)).exists(), "the oldest part went first");
    }

    #[test]
    fn a_new_process_takes_the_days_newest_part_while_it_has_room() {
        let folder = tempfile::tempdir().unwrap();
        let today = Utc::now().date_naive();
        std::fs::write(folder.path().join(file_name(today, 0)), [b'a'; 100]).unwrap();
        std::fs::write(folder.path().join(file_name(today, 1)), [b'b'; 10]).unwrap();
        let opened = Folder::beneath(folder.path(), Path::new(""), Missing::Fail).unwrap();
        let (mut files, _) = DailyFiles::open(opened, limits(14, 800)).unwrap();
        files.write_all(b"c\n").unwrap();
        assert_eq!(std::fs::read(folder.path().join(file_name(today, 1))).unwrap().len(), 12);
        std::fs::write(folder.path().join(file_name(today, 2)), [b'd'; 100]).unwrap();
        let opened = Folder::beneath(folder.path(), Path::new(""), Missing::Fail).unwrap();
        let (mut files, _) = DailyFiles::open(opened, limits(14, 800)).unwrap();
        files.write_all(b"e\n").unwrap();
        assert_eq!(std::fs::read(folder.path().join(file_name(today, 3))).unwrap(), b"e\n");
    }

    #[test]
    fn a_wider_file_left_from_before_is_narrowed_and_kept() {
        let folder = tempfile::tempdir().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let path = folder.path().join(file_name(day, 0));
        std::fs::write(&path, "line\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let opened = Folder::beneath(folder.path(), Path::new(""), Missing::Fail).unwrap();
        let (_file, replaced) = open_part(&opened, day, 0).unwrap();
        assert_eq!(replaced, None);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, FILE_MODE);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "line\n", "kept, not truncated");
    }

    #[test]
    fn lines_move_to_the_new_days_file_at_midnight() {
        let folder = tempfile::tempdir().unwrap();
        let opened = Folder::beneath(folder.path(), Path::new(""), Missing::Fail).unwrap();
        let yesterday = Utc::now().date_naive().pred_opt().unwrap();
        let (file, _) = open_part(&opened, yesterday, 0).unwrap();
        let limits = limits(1, 1 << 20);
        let mut files = DailyFiles { folder: opened, limits, day: yesterday, part: 0, file, part_bytes: 0 };
        files.write_all(b"today\n").unwrap();
        let today = folder.path().join(file_name(Utc::now().date_naive(), 0));
        assert_eq!(std::fs::read_to_string(today).unwrap(), "today\n");
        assert!(!folder.path().join(file_name(yesterday, 0)).exists(), "pruned to one day");
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
            plant(&target, &folder.path().join(file_name(day, 0)));
            let opened = Folder::beneath(folder.path(), Path::new(""), Missing::Fail).unwrap();
            let (mut file, replaced) = open_part(&opened, day, 0).unwrap();
            file.write_all(b"line\n").unwrap();
            assert!(replaced.is_some_and(|note| note.contains("Replaced")));
            assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep\n");
            assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o644);
            assert_eq!(std::fs::read_to_string(folder.path().join(file_name(day, 0))).unwrap(), "line\n");
        }
    }
}
