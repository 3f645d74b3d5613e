//! Following the log files as they grow, for `agent logs --follow`.
//!
//! The follower reads each file from where it left off and hands back the whole
//! lines added since; a line still being written waits for its end. When a newer
//! file appears (the daily rotation), the current one is read to its end first:
//! the writer never returns to a file once it has moved on, so nothing is lost
//! or read twice. A file that shrank was replaced and is read again from its start.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{LogReadError, LogRecord, log_files, open_log_file, parse_line};

/// Where the follower is in the log folder.
#[derive(Debug)]
pub struct LogFollower {
    log_dir: PathBuf,
    current: Option<PathBuf>,
    offset: u64,
    partial: Vec<u8>,
}

impl LogFollower {
    /// A follower at the start of the oldest file, so its first read returns
    /// everything there is.
    pub fn from_start(log_dir: &Path) -> Self {
        Self { log_dir: log_dir.to_path_buf(), current: None, offset: 0, partial: Vec::new() }
    }

    /// The records written since the last call, oldest first; lines that are not
    /// records are skipped.
    pub fn read_new(&mut self) -> Result<Vec<LogRecord>, LogReadError> {
        let mut records = Vec::new();
        loop {
            let files = log_files(&self.log_dir)?;
            let Some(current) = self.current.clone().or_else(|| files.first().cloned()) else {
                return Ok(records);
            };
            if self.current.as_ref() != Some(&current) {
                self.switch_to(current.clone());
            }
            // Looked up before reading, so a line written just before the rotation
            // is still read from the current file.
            let newer = newer_file(&files, &current);
            self.read_current(&mut records)?;
            match newer {
                Some(newer) => {
                    self.take_partial(&mut records);
                    self.switch_to(newer);
                }
                None => return Ok(records),
            }
        }
    }

    fn switch_to(&mut self, path: PathBuf) {
        self.current = Some(path);
        self.offset = 0;
        self.partial.clear();
    }

    /// Reads the current file from the offset to its end.
    fn read_current(&mut self, records: &mut Vec<LogRecord>) -> Result<(), LogReadError> {
        let Some(path) = self.current.clone() else {
            return Ok(());
        };
        let read_error = |source| LogReadError::ReadFile { path: path.clone(), source };
        // A link at a log file's name is never followed (see `open_log_file`).
        let mut file = match open_log_file(&path) {
            Ok(Some(file)) => file,
            Ok(None) => return Ok(()),
            // Removed by the retention between the listing and now.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(read_error(error)),
        };
        let length = file.metadata().map_err(read_error)?.len();
        if length < self.offset {
            self.offset = 0;
            self.partial.clear();
        }
        file.seek(SeekFrom::Start(self.offset)).map_err(read_error)?;
        let mut added = Vec::new();
        file.read_to_end(&mut added).map_err(read_error)?;
        self.offset += added.len() as u64;
        self.partial.extend_from_slice(&added);
        let Some(last_break) = self.partial.iter().rposition(|&byte| byte == b'\n') else {
            return Ok(());
        };
        let rest = self.partial.split_off(last_break + 1);
        let complete = std::mem::replace(&mut self.partial, rest);
        records.extend(complete.split(|&byte| byte == b'\n').filter_map(record_in));
        Ok(())
    }

    /// A file's last line without its newline is complete once a newer file exists.
    fn take_partial(&mut self, records: &mut Vec<LogRecord>) {
        let partial = std::mem::take(&mut self.partial);
        records.extend(record_in(&partial));
    }
}

/// The record on one line, if it holds one.
fn record_in(line: &[u8]) -> Option<LogRecord> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    parse_line(line).0
}

/// The file after `current` in log order; when `current` is gone, the oldest file
/// that sorts after it.
fn newer_file(files: &[PathBuf], current: &Path) -> Option<PathBuf> {
    match files.iter().position(|file| file == current) {
        Some(index) => files.get(index + 1).cloned(),
        None => files.iter().find(|file| file.file_name() > current.file_name()).cloned(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn line(message: &str) -> String {
        format!("{{\"timestamp\":\"2026-11-25T10:00:00Z\",\"level\":\"INFO\",\"message\":\"{message}\"}}\n")
    }

    fn append(path: &Path, text: &str) {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    fn messages(follower: &mut LogFollower) -> Vec<String> {
        follower.read_new().unwrap().into_iter().map(|record| record.message).collect()
    }

    #[test]
    fn new_lines_are_read_once_and_a_half_written_line_waits_for_its_end() {
        let folder = tempfile::tempdir().unwrap();
        let today = folder.path().join("agent.2026-11-25.log");
        let mut follower = LogFollower::from_start(folder.path());
        assert!(messages(&mut follower).is_empty(), "no files yet");
        append(&today, &line("one"));
        assert_eq!(messages(&mut follower), ["one"]);
        assert!(messages(&mut follower).is_empty());
        let two = line("two");
        let (head, tail) = two.split_at(20);
        append(&today, head);
        assert!(messages(&mut follower).is_empty());
        append(&today, tail);
        append(&today, "not a record\n");
        assert_eq!(messages(&mut follower), ["two"]);
    }

    #[test]
    fn the_rotation_is_followed_without_losing_the_old_files_last_lines() {
        let folder = tempfile::tempdir().unwrap();
        let yesterday = folder.path().join("agent.2026-11-24.log");
        let today = folder.path().join("agent.2026-11-25.log");
        append(&yesterday, &line("old"));
        let mut follower = LogFollower::from_start(folder.path());
        assert_eq!(messages(&mut follower), ["old"]);
        append(&yesterday, &line("last before midnight"));
        append(&yesterday, line("torn at midnight").trim_end());
        append(&today, &line("first after midnight"));
        assert_eq!(messages(&mut follower), ["last before midnight", "torn at midnight", "first after midnight"]);
        append(&today, &line("later"));
        assert_eq!(messages(&mut follower), ["later"]);
    }

    #[test]
    fn a_replaced_file_is_read_from_its_start() {
        let folder = tempfile::tempdir().unwrap();
        let today = folder.path().join("agent.2026-11-25.log");
        append(&today, &line("a long first line that makes the file long"));
        let mut follower = LogFollower::from_start(folder.path());
        assert_eq!(messages(&mut follower).len(), 1);
        std::fs::write(&today, line("new")).unwrap();
        assert_eq!(messages(&mut follower), ["new"]);
    }
}
