//! Which files make up the log, in what order, and reading them a block at a time.

use std::fs::File;
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use super::lines::{LineSplitter, MAX_LINE_BYTES};
use super::{LogFilter, LogRecord, parse_line};
use crate::logging::{FILE_NAME_PREFIX, FILE_NAME_SUFFIX};

/// How much of a log file is read at a time.
pub(crate) const READ_BLOCK_BYTES: usize = 64 << 10;

/// What one pass over the log folder found besides the records.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadSummary {
    /// Lines that were not a log record (torn, not JSON, or missing a time or level).
    pub skipped_lines: usize,
    /// Lines longer than [`MAX_LINE_BYTES`], skipped without being held whole.
    pub overlong_lines: usize,
    /// How many log files were read; `0` means nothing has been logged yet.
    pub files_read: usize,
    /// Symbolic links (or other entries that are not plain files) at a log file's
    /// name: never followed, never read, since what they point at could be any file.
    pub links_skipped: Vec<PathBuf>,
}

/// Why the log folder or one of its files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LogReadError {
    /// The folder exists but could not be listed.
    #[error("cannot list the log folder {path}")]
    ListFolder {
        /// The log folder.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A log file could not be opened or read.
    #[error("cannot read the log file {path}")]
    ReadFile {
        /// The log file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}

#[cfg(test)]
/// The records in `log_dir` that pass `filter`, oldest first. A folder that does not
/// exist holds no records yet. Holds them all: for a whole log, use [`for_each_record`].
pub fn read_records(log_dir: &Path, filter: &LogFilter) -> Result<Vec<LogRecord>, LogReadError> {
    let mut records = Vec::new();
    for_each_record(log_dir, filter, |record| {
        records.push(record);
        ControlFlow::Continue(())
    })?;
    Ok(records)
}

/// Hands each record in `log_dir` that passes `filter` to `visit` as it is read,
/// oldest file first, lines in file order, until `visit` says stop; says what
/// else it found. Memory stays at a read block and one line of at most
/// [`MAX_LINE_BYTES`], whatever the log's size.
pub fn for_each_record(
    log_dir: &Path,
    filter: &LogFilter,
    mut visit: impl FnMut(LogRecord) -> ControlFlow<()>,
) -> Result<ReadSummary, LogReadError> {
    let mut summary = ReadSummary::default();
    for path in log_files(log_dir)? {
        let file = match open_log_file(&path) {
            Ok(Some(file)) => file,
            Ok(None) => {
                summary.links_skipped.push(path);
                continue;
            }
            Err(source) => return Err(LogReadError::ReadFile { path, source }),
        };
        summary.files_read += 1;
        if read_file(&path, file, filter, &mut summary, &mut visit)?.is_break() {
            break;
        }
    }
    Ok(summary)
}

/// Opens a log file for reading without following a link at its name: `None` for
/// a link, a FIFO or anything else that is not a plain file (a FIFO would also
/// hold the reader, so it is opened without waiting).
pub(crate) fn open_log_file(path: &Path) -> std::io::Result<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    let flags = nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_NONBLOCK;
    let file = match std::fs::OpenOptions::new().read(true).custom_flags(flags.bits()).open(path) {
        Ok(file) => file,
        Err(error) if error.raw_os_error() == Some(nix::libc::ELOOP) => return Ok(None),
        Err(error) => return Err(error),
    };
    Ok(file.metadata()?.is_file().then_some(file))
}

/// The log files in `log_dir` (and links at such names), oldest first: the plain
/// `agent.log` (what a set-up without rotation writes), then every
/// `agent.<date>.log` and `agent.<date>.<part>.log` by the date, then the part
/// number, in its name (see [`file_order`]).
pub fn log_files(log_dir: &Path) -> Result<Vec<PathBuf>, LogReadError> {
    let list_error = |source| LogReadError::ListFolder { path: log_dir.to_path_buf(), source };
    let entries = match std::fs::read_dir(log_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(list_error(error)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(list_error)?;
        // Links are listed too, so a reader can say it skipped them.
        let kind = entry.file_type().map_err(list_error)?;
        let is_file = kind.is_file() || kind.is_symlink();
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if let (true, Some(order)) = (is_file, file_order(&name)) {
            files.push((order, entry.path()));
        }
    }
    files.sort();
    Ok(files.into_iter().map(|(_, path)| path).collect())
}

/// Where a log file sorts among the others, from its name.
pub type FileOrder = (Option<String>, u32);

/// For a log file name, what it sorts by: `(None, 0)` for `agent.log`,
/// `(Some(date), part)` for `agent.<date>.log` (part 0) and
/// `agent.<date>.<part>.log`; `None` for anything else.
pub fn file_order(name: &str) -> Option<FileOrder> {
    let stem = name.strip_prefix(FILE_NAME_PREFIX)?.strip_suffix(FILE_NAME_SUFFIX)?.strip_suffix('.')?;
    if stem.is_empty() {
        return Some((None, 0));
    }
    let date = stem.strip_prefix('.').filter(|date| !date.is_empty())?;
    let part = date.rsplit_once('.').and_then(|(date, part)| Some((date, part.parse::<u32>().ok()?)));
    match part {
        Some((date, part)) if !date.is_empty() => Some((Some(date.to_string()), part)),
        _ => Some((Some(date.to_string()), 0)),
    }
}

/// Hands the matching records of one file to `visit`, reading it a block at a
/// time; adds what it skipped to `summary`.
fn read_file(
    path: &Path,
    mut file: File,
    filter: &LogFilter,
    summary: &mut ReadSummary,
    visit: &mut dyn FnMut(LogRecord) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, LogReadError> {
    let read_error = |source| LogReadError::ReadFile { path: path.to_path_buf(), source };
    let mut splitter = LineSplitter::new(MAX_LINE_BYTES);
    let mut skipped = 0;
    let mut on_line = |line: &[u8]| {
        let (record, torn) = record_in_line(line);
        skipped += torn;
        match record.filter(|record| filter.matches(record)) {
            Some(record) => visit(record),
            None => ControlFlow::Continue(()),
        }
    };
    let mut block = vec![0; READ_BLOCK_BYTES];
    let flow = loop {
        let read = match file.read(&mut block) {
            Ok(0) => break splitter.finish(&mut on_line),
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(read_error(error)),
        };
        if splitter.feed(&block[..read], &mut on_line).is_break() {
            break ControlFlow::Break(());
        }
    };
    summary.skipped_lines += skipped;
    summary.overlong_lines += splitter.overlong_lines;
    Ok(flow)
}

/// The record on one line, if it holds one, and how many torn fragments were
/// dropped; a blank line is neither.
pub(crate) fn record_in_line(line: &[u8]) -> (Option<LogRecord>, usize) {
    if line.iter().all(u8::is_ascii_whitespace) {
        return (None, 0);
    }
    parse_line(line)
}
