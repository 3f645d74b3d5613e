//! Following the log files as they grow, for `agent logs --follow`.
//!
//! The follower reads each file from where it left off, a block at a time, and
//! hands on the whole lines added since; a line still being written waits for its
//! end. It starts either at the oldest file's start or a little before the newest
//! file's end ([`LogFollower::near_end`]), never reading what is before. When a
//! newer file appears (the daily rotation, or the day's next part), the current
//! one is read to its end first: the writer never returns to a file once it has
//! moved on, so nothing is lost or read twice. A file that shrank was replaced and
//! is read again from its start. Lines past [`MAX_LINE_BYTES`] are dropped, never
//! held whole.

use std::io::{Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use super::files::READ_BLOCK_BYTES;
use super::lines::LineSplitter;
use super::{LogReadError, LogRecord, MAX_LINE_BYTES, file_order, log_files, open_log_file, record_in_line};

/// Where the follower is in the log folder.
#[derive(Debug)]
pub struct LogFollower {
    log_dir: PathBuf,
    current: Option<PathBuf>,
    offset: u64,
    splitter: LineSplitter,
}

impl LogFollower {
    /// A follower at the start of the oldest file, so its first read returns
    /// everything there is.
    pub fn from_start(log_dir: &Path) -> Self {
        Self { log_dir: log_dir.to_path_buf(), current: None, offset: 0, splitter: LineSplitter::new(MAX_LINE_BYTES) }
    }

    /// A follower `tail_bytes` before the end of the newest file: its first read
    /// returns the whole lines in that tail, and nothing before it is read.
    pub fn near_end(log_dir: &Path, tail_bytes: u64) -> Result<Self, LogReadError> {
        let mut follower = Self::from_start(log_dir);
        let Some(newest) = log_files(log_dir)?.pop() else {
            return Ok(follower);
        };
        let length = match open_log_file(&newest) {
            Ok(Some(file)) => file.metadata().map_or(0, |metadata| metadata.len()),
            _ => 0,
        };
        let start = length.saturating_sub(tail_bytes);
        if start > 0 {
            // One byte early: a line break there means the tail starts with a whole line.
            (follower.offset, follower.splitter) = (start - 1, LineSplitter::mid_line(MAX_LINE_BYTES));
        }
        follower.current = Some(newest);
        Ok(follower)
    }

    /// Hands each record written since the last call to `visit`, oldest first,
    /// until it says stop; lines that are not records are skipped.
    pub fn read_new(&mut self, visit: &mut dyn FnMut(LogRecord) -> ControlFlow<()>) -> Result<(), LogReadError> {
        let mut on_line = |line: &[u8]| match record_in_line(line).0 {
            Some(record) => visit(record),
            None => ControlFlow::Continue(()),
        };
        loop {
            let files = log_files(&self.log_dir)?;
            let Some(current) = self.current.clone().or_else(|| files.first().cloned()) else {
                return Ok(());
            };
            if self.current.as_ref() != Some(&current) {
                self.switch_to(current.clone());
            }
            // Looked up before reading, so a line written just before the rotation
            // is still read from the current file.
            let newer = newer_file(&files, &current);
            if self.read_current(&mut on_line)?.is_break() {
                return Ok(());
            }
            let Some(newer) = newer else {
                return Ok(());
            };
            // A file's last line without its newline is complete once a newer file exists.
            if self.splitter.finish(&mut on_line).is_break() {
                return Ok(());
            }
            self.switch_to(newer);
        }
    }

    fn switch_to(&mut self, path: PathBuf) {
        self.current = Some(path);
        self.offset = 0;
        self.splitter = LineSplitter::new(MAX_LINE_BYTES);
    }

    /// Reads the current file from the offset to its end, a block at a time.
    fn read_current(
        &mut self,
        on_line: &mut dyn FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, LogReadError> {
        let Some(path) = self.current.clone() else {
            return Ok(ControlFlow::Continue(()));
        };
        let read_error = |source| LogReadError::ReadFile { path: path.clone(), source };
        // A link at a log file's name is never followed (see `open_log_file`).
        let mut file = match open_log_file(&path) {
            Ok(Some(file)) => file,
            Ok(None) => return Ok(ControlFlow::Continue(())),
            // Removed by the retention between the listing and now.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(ControlFlow::Continue(())),
            Err(error) => return Err(read_error(error)),
        };
        let length = file.metadata().map_err(read_error)?.len();
        if length < self.offset {
            self.offset = 0;
            self.splitter = LineSplitter::new(MAX_LINE_BYTES);
        }
        file.seek(SeekFrom::Start(self.offset)).map_err(read_error)?;
        let mut block = vec![0; READ_BLOCK_BYTES];
        loop {
            let read = match file.read(&mut block) {
                Ok(0) => return Ok(ControlFlow::Continue(())),
                Ok(read) => read,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(read_error(error)),
            };
            self.offset += read as u64;
            if self.splitter.feed(&block[..read], on_line).is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
    }
}

/// The file after `current` in log order; when `current` is gone, the oldest file
/// that sorts after it.
fn newer_file(files: &[PathBuf], current: &Path) -> Option<PathBuf> {
    let order = |path: &Path| path.file_name().and_then(|name| name.to_str()).and_then(file_order);
    match files.iter().position(|file| file == current) {
        Some(index) => files.get(index + 1).cloned(),
        None => files.iter().find(|file| order(file) > order(current)).cloned(),
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
        let mut messages = Vec::new();
        let mut visit = |record: LogRecord| {
            messages.push(record.message);
            ControlFlow::Continue(())
        };
        follower.read_new(&mut visit).unwrap();
        messages
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

    #[test]
    fn the_days_next_part_is_followed_after_the_first() {
        let folder = tempfile::tempdir().unwrap();
        let first = folder.path().join("agent.2026-11-25.log");
        append(&first, &line("one"));
        let mut follower = LogFollower::from_start(folder.path());
        assert_eq!(messages(&mut follower), ["one"]);
        append(&first, &line("two"));
        append(&folder.path().join("agent.2026-11-25.1.log"), &line("three"));
        assert_eq!(messages(&mut follower), ["two", "three"]);
        append(&folder.path().join("agent.2026-11-25.2.log"), &line("four"));
        assert_eq!(messages(&mut follower), ["four"]);
    }

    #[test]
    fn near_the_end_reads_only_the_newest_files_last_whole_lines() {
        let folder = tempfile::tempdir().unwrap();
        append(&folder.path().join("agent.2026-11-24.log"), &line("yesterday"));
        let today = folder.path().join("agent.2026-11-25.log");
        for number in 0..100 {
            append(&today, &line(&format!("line {number:02}")));
        }
        let tail = (line("line 98").len() * 2) as u64;
        let mut follower = LogFollower::near_end(folder.path(), tail).unwrap();
        assert_eq!(messages(&mut follower), ["line 98", "line 99"]);
        let mut follower = LogFollower::near_end(folder.path(), tail + 5).unwrap();
        assert_eq!(messages(&mut follower), ["line 98", "line 99"], "a torn first line is dropped");
        append(&today, &line("new"));
        assert_eq!(messages(&mut follower), ["new"]);
    }
}
