//! Log files readable by their owner and group only (0640), whatever the umask.
//!
//! Log lines name the items, scripts and hosts of a device's management, so other
//! users have no business reading them. The rolling appender creates each day's
//! file with the process's umask and no say in its mode; so each day's file is
//! created here first, 0640, and the appender then only opens it. The folder is
//! 0750 as well, so even a file that appeared a moment early cannot be opened by
//! another user.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Utc};
use tracing_appender::rolling::RollingFileAppender;

use super::{FILE_NAME_PREFIX, FILE_NAME_SUFFIX};

/// Each log file's mode: the owner (root) writes, its group (admins on a Mac) reads.
pub(crate) const FILE_MODE: u32 = 0o640;

/// A daily rolling appender whose files are created with [`FILE_MODE`].
pub(crate) struct PrivateDailyFiles {
    /// Writes the lines, rotating at midnight UTC.
    appender: RollingFileAppender,
    /// The log folder.
    folder: PathBuf,
    /// The day whose file was last created here, so a check costs one clock read.
    prepared_day: Option<NaiveDate>,
}

impl PrivateDailyFiles {
    /// Creates today's file in `folder` with [`FILE_MODE`], then `open`s the
    /// appender, which finds it there.
    pub(crate) fn new<E>(folder: &Path, open: impl FnOnce() -> Result<RollingFileAppender, E>) -> Result<Self, E> {
        let today = Utc::now().date_naive();
        let prepared_day = prepare(folder, today).ok().map(|()| today);
        Ok(Self { appender: open()?, folder: folder.to_path_buf(), prepared_day })
    }
}

impl Write for PrivateDailyFiles {
    /// Creates a new day's file before the appender rotates to it, then writes.
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let today = Utc::now().date_naive();
        if self.prepared_day != Some(today) && prepare(&self.folder, today).is_ok() {
            self.prepared_day = Some(today);
        }
        self.appender.write(line)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.appender.flush()
    }
}

/// The file the appender writes on `day`: `agent.YYYY-MM-DD.log`.
fn file_name(day: NaiveDate) -> String {
    format!("{FILE_NAME_PREFIX}.{}.{FILE_NAME_SUFFIX}", day.format("%Y-%m-%d"))
}

/// Creates `day`'s file in `folder` with [`FILE_MODE`], or narrows the mode of the
/// one already there. A link in its place is refused, not followed.
fn prepare(folder: &Path, day: NaiveDate) -> io::Result<()> {
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(FILE_MODE)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(folder.join(file_name(day)))?;
    if file.metadata()?.permissions().mode() & 0o777 != FILE_MODE {
        file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_named_as_the_appender_names_it() {
        let day = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        assert_eq!(file_name(day), "agent.2026-01-05.log");
    }

    #[test]
    fn a_wider_file_left_from_before_is_narrowed() {
        let folder = tempfile::tempdir().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let path = folder.path().join(file_name(day));
        std::fs::write(&path, "line\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        prepare(folder.path(), day).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, FILE_MODE);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "line\n", "kept, not truncated");
    }
}
