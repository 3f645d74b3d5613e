//! Where the agent's own log lines go: JSON lines in daily files, and short human
//! lines on stderr.
//!
//! The files are for afterwards: `agent logs` reads them back (see
//! [`crate::log_records`]), and an admin can `jq` them. Each line is one JSON object
//! with the event's fields at the top level and the enclosing spans' fields under
//! `spans` (outermost first, the event's own span last), so a `run_id` set once on
//! the `checkin` span is on every line of that run:
//!
//! ```text
//! {"timestamp":"2026-11-25T16:53:54.123456Z","level":"INFO","message":"Item finished.",
//!  "run_id":"0193…","item_id":"li-1","item_name":"Set hostname","item_type":"custom_script",
//!  "status":"succeeded","duration_ms":12,"target":"endpoint_agent::checkin",
//!  "spans":[{"kind":"daily","run_id":"0193…","name":"checkin"}]}
//! ```
//! (one line in the file; wrapped here). Fields named like the formatter's own keys
//! (`timestamp`, `level`, `message`, `target`, `span`, `spans`) would clash with them,
//! so events should not use those names.
//!
//! Files rotate at midnight UTC and are named `agent.YYYY-MM-DD.log`; a day that
//! reaches an eighth of `max_size` goes on in `agent.YYYY-MM-DD.1.log`, `.2.log`...
//! Whenever a file begins, only the newest `retention_days` days are kept, and the
//! oldest files go until the folder fits `max_size` (see `budget`). Lines are written
//! by a background thread so a slow disk never holds up a check-in; dropping the
//! [`LogGuard`] writes out what is still queued.
//!
//! The stderr lines (see `console`) escape every control character in every field;
//! the files keep the exact text.
//!
//! The folder is reached from the agent's root one name at a time without following
//! a symbolic link (see [`crate::safe_path`]), and each day's file is opened relative
//! to it (see `daily_files`): a link on the way never makes the agent write or chmod
//! a file elsewhere.
//!
//! Logging must never stop the agent from working: when the folder cannot be created
//! or written, or a symbolic link is on the way to it, everything goes to stderr
//! instead, with one warning saying so and naming the link.

use std::path::{Path, PathBuf};

use tracing::Subscriber;
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::writer::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

pub use crate::log_level::LogLevel;
use crate::safe_path::{Folder, Missing, SafePathError};

pub(crate) mod budget;
mod console;
mod daily_files;

use budget::Limits;
use daily_files::DailyFiles;

/// Every log file name starts with this, e.g. `agent.2026-11-25.log`.
pub const FILE_NAME_PREFIX: &str = "agent";

/// Every log file name ends with this, after a dot.
pub const FILE_NAME_SUFFIX: &str = "log";

/// The log folder's mode, whatever the umask: root writes, its group (admins on a
/// Mac) reads, other users cannot look in. The files are 0640
/// ([`daily_files::FILE_MODE`]).
const FOLDER_MODE: u32 = 0o750;

/// Log lines the background writer holds before a logging call waits for it: a
/// burst of a thousand lines is far more than a check-in writes between two writes
/// of the file, and costs 32 KiB instead of the library's 4 MiB.
const QUEUED_LINES: usize = 1024;

/// How the agent logs, resolved from its configuration and the verb being run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// The agent's root (`/`, or `AGENT_ROOT`): the log folder is reached from it
    /// without following a link.
    pub root: PathBuf,
    /// The folder for the JSON log files; `None` for verbs that only read (`status`,
    /// `logs`, ...) and should leave no trace.
    pub log_dir: Option<PathBuf>,
    /// How many days of files to keep; `0` keeps them all.
    pub retention_days: u32,
    /// The most bytes the log folder holds; the oldest files go first.
    pub max_size: u64,
    /// The least severe level written to the files.
    pub level: LogLevel,
    /// The least severe level also shown on stderr, e.g. `WARN` for a daemon whose
    /// stderr launchd keeps, `INFO` for an admin watching `agent run`.
    pub console_level: tracing::Level,
}

impl LogSettings {
    /// How much of the log the folder keeps.
    fn limits(&self) -> Limits {
        Limits { retention_days: self.retention_days, max_size: self.max_size }
    }
}

/// Keeps the background file writer alive; hold it until the end of `main`.
///
/// Dropping it writes out every line still queued (waiting at most about a second),
/// so a process that exits without dropping it loses its last lines.
#[derive(Debug)]
#[must_use = "dropping the guard stops file logging"]
pub struct LogGuard {
    /// The file writer's flush-on-drop handle; `None` when logging to stderr only.
    file_writer: Option<WorkerGuard>,
}

impl LogGuard {
    /// Whether lines are going to the log files (`false` for read-only verbs and when
    /// the folder could not be written).
    pub fn writes_files(&self) -> bool {
        self.file_writer.is_some()
    }
}

/// Why logging could not be set up at all.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// Something already installed the process-wide subscriber.
    #[error("logging was already set up in this process")]
    AlreadyInitialized(#[source] tracing_subscriber::util::TryInitError),
}

/// Why the log folder could not be used; logging then falls back to stderr.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LogFolderError {
    /// The folder could not be reached (a symbolic link on the way is refused) or made.
    #[error("cannot use the log folder {path}")]
    Folder {
        /// The log folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: SafePathError,
    },
    /// Today's file could not be opened for appending.
    #[error("cannot open a log file in {path}")]
    OpenFile {
        /// The log folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: SafePathError,
    },
}

/// Installs the process-wide subscriber: JSON lines into `settings.log_dir` at
/// `settings.level`, and compact lines on stderr at `settings.console_level`.
///
/// Call it once per process, first thing in `main`, and keep the returned guard
/// until `main` returns. A second call fails with
/// [`LoggingError::AlreadyInitialized`] and changes nothing, because the process-wide
/// subscriber cannot be replaced. Tests that want to see log lines should not call
/// this; they build a subscriber around `json_file_layer` and use
/// `tracing::subscriber::with_default`.
///
/// A log folder that cannot be created or written is not an error: lines go to
/// stderr instead (at `settings.level`, and at least `WARN`) and one warning says why.
pub fn init(settings: &LogSettings) -> Result<LogGuard, LoggingError> {
    let file_level = tracing::Level::from(settings.level);
    let opened = settings.log_dir.as_deref().map(|dir| open_log_files(&settings.root, dir, settings.limits()));
    let (file_writer, file_guard, folder_error, replaced) = match opened {
        Some(Ok(LogFiles { writer, guard, replaced })) => (Some(writer), Some(guard), None, replaced),
        Some(Err(error)) => (None, None, Some(error), None),
        None => (None, None, None, None),
    };
    let console_level = match folder_error {
        Some(_) => fallback_console_level(settings.console_level, file_level),
        None => settings.console_level,
    };
    let file_layer = file_writer.map(|writer| json_file_layer(writer, file_level));
    tracing_subscriber::registry()
        .with(file_layer)
        .with(console::console_layer(console_level))
        .try_init()
        .map_err(LoggingError::AlreadyInitialized)?;
    if let Some(error) = folder_error {
        let error = format!("{:#}", anyhow::Error::from(error));
        tracing::warn!(error = %error, "Cannot write log files; logging to stderr only.");
    }
    if let Some(replaced) = replaced {
        tracing::warn!("{replaced}");
    }
    Ok(LogGuard { file_writer: file_guard })
}

/// What stderr shows when it is the only place lines go: everything the files would
/// have had, and never less than warnings, so the fallback warning itself is seen.
fn fallback_console_level(console_level: tracing::Level, file_level: tracing::Level) -> tracing::Level {
    // `tracing::Level` orders more verbose as greater.
    [console_level, file_level, tracing::Level::WARN].into_iter().max().unwrap_or(tracing::Level::WARN)
}

/// The open log files: the writer the file layer writes to, the guard that
/// flushes it, and a note when a link at today's file name was replaced.
pub(crate) struct LogFiles {
    /// Hands lines to the background writer.
    pub(crate) writer: NonBlocking,
    /// Flushes the background writer when dropped.
    pub(crate) guard: WorkerGuard,
    /// What was replaced at today's file name, to warn about.
    pub(crate) replaced: Option<String>,
}

/// Reaches the log folder from `root` without following a link, making what is
/// missing (narrowing its mode to [`FOLDER_MODE`]), and opens today's file, 0640,
/// through a background writer.
///
/// The writer blocks rather than drops lines when its queue is full: the files are
/// the record of what each check-in did. The queue is allocated whole when the
/// writer starts, so it is kept short ([`QUEUED_LINES`]): the library's default
/// (128,000 lines) alone would be 4 MiB of the daemon's resident memory.
pub(crate) fn open_log_files(root: &Path, log_dir: &Path, limits: Limits) -> Result<LogFiles, LogFolderError> {
    let folder_error = |source| LogFolderError::Folder { path: log_dir.to_path_buf(), source };
    let folder = Folder::beneath(root, log_dir, Missing::Create(FOLDER_MODE)).map_err(folder_error)?;
    folder.make_own().map_err(folder_error)?;
    folder.set_mode(FOLDER_MODE).map_err(folder_error)?;
    let (files, replaced) = DailyFiles::open(folder, limits)
        .map_err(|source| LogFolderError::OpenFile { path: log_dir.to_path_buf(), source })?;
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("agent-log-writer")
        .finish(files);
    Ok(LogFiles { writer, guard, replaced })
}

/// The file layer: one JSON object per event, fields flattened to the top level,
/// the enclosing spans under `spans` (the innermost is the last: repeating it under
/// `span` would cost a line a third more to write), RFC 3339 UTC times, nothing
/// below `level`. Shared by [`init`] and by tests that capture lines.
pub(crate) fn json_file_layer<S, W>(writer: W, level: tracing::Level) -> impl Layer<S>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(true)
        .with_timer(UtcTime)
        .with_ansi(false)
        .with_writer(writer)
        .with_filter(LevelFilter::from_level(level))
}

/// Writes times as RFC 3339 in UTC with microseconds, e.g.
/// `2026-11-25T16:53:54.123456Z`, so files from any time zone read the same.
#[derive(Debug, Clone, Copy)]
struct UtcTime;

impl FormatTime for UtcTime {
    fn format_time(&self, writer: &mut Writer<'_>) -> std::fmt::Result {
        let now = chrono::Utc::now();
        write!(writer, "{}", now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;
    use std::sync::{Arc, Mutex};

    use serde_json::{Value, json};

    use super::*;

    /// Two weeks, 1 MiB: room for anything these tests write.
    const TEST_LIMITS: Limits = Limits { retention_days: 14, max_size: 1 << 20 };

    /// A writer that keeps what it is given, to look at the lines afterwards (the
    /// console layer's tests use it too).
    #[derive(Debug, Clone, Default)]
    pub(super) struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("not poisoned").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        /// Everything written so far, as text.
        pub(super) fn text(&self) -> String {
            String::from_utf8(self.0.lock().expect("not poisoned").clone()).expect("utf-8")
        }

        fn lines(&self) -> Vec<Value> {
            self.text().lines().map(|line| serde_json::from_str(line).expect("one JSON object a line")).collect()
        }
    }

    #[test]
    fn stderr_alone_shows_what_the_files_would_have_and_at_least_warnings() {
        use tracing::Level;
        let cases = [
            (Level::WARN, Level::INFO, Level::INFO),
            (Level::INFO, Level::DEBUG, Level::DEBUG),
            (Level::DEBUG, Level::INFO, Level::DEBUG),
            (Level::ERROR, Level::ERROR, Level::WARN),
        ];
        for (console, file, expected) in cases {
            assert_eq!(fallback_console_level(console, file), expected, "{console} {file}");
        }
    }

    #[test]
    fn the_folder_and_files_are_written_by_the_owner_and_read_by_its_group_alone() {
        let root = tempfile::tempdir().expect("temporary folder");
        let folder = root.path().join("Library/Logs/EndpointAgent");
        let files = open_log_files(root.path(), &folder, TEST_LIMITS).expect("usable folder");
        drop(files.writer);
        let guard = files.guard;
        drop(guard);
        let mode = std::fs::metadata(&folder).expect("folder made").permissions().mode();
        assert_eq!(mode & 0o777, 0o750, "{mode:o}");
        let names = file_names(&folder);
        assert_eq!(names.len(), 1);
        assert!(names[0].starts_with("agent.") && names[0].ends_with(".log"), "{names:?}");
        let mode = std::fs::metadata(folder.join(&names[0])).expect("file made").permissions().mode();
        assert_eq!(mode & 0o777, 0o640, "{mode:o}");
    }

    #[test]
    fn an_unusable_folder_is_reported_not_panicked_on() {
        let file = tempfile::NamedTempFile::new().expect("temporary file");
        let error =
            open_log_files(Path::new("/"), &file.path().join("logs"), TEST_LIMITS).err().expect("a file is in the way");
        assert!(matches!(error, LogFolderError::Folder { .. }), "{error:?}");
    }

    #[test]
    fn only_the_newest_files_are_kept() {
        let folder = tempfile::tempdir().expect("temporary folder");
        for day in 1..=5 {
            let name = format!("agent.2020-01-0{day}.log");
            std::fs::write(folder.path().join(name), "{}\n").expect("old file");
        }
        std::fs::write(folder.path().join("notes.txt"), "kept\n").expect("other file");
        let limits = Limits { retention_days: 3, ..TEST_LIMITS };
        let guard = open_log_files(folder.path(), folder.path(), limits).expect("usable folder").guard;
        drop(guard);
        let names = file_names(folder.path());
        let logs = names.iter().filter(|name| name.starts_with("agent.")).count();
        assert_eq!(logs, 3, "{names:?}");
        assert!(names.contains(&"notes.txt".to_string()), "{names:?}");
    }

    fn file_names(folder: &Path) -> Vec<String> {
        let entries = std::fs::read_dir(folder).expect("folder listed");
        let mut names: Vec<String> =
            entries.map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn file_lines_carry_span_fields_and_utc_times() {
        let captured = Captured::default();
        let writer = {
            let captured = captured.clone();
            move || captured.clone()
        };
        let subscriber = tracing_subscriber::registry().with(json_file_layer(writer, tracing::Level::INFO));
        tracing::subscriber::with_default(subscriber, || {
            let run = tracing::info_span!("checkin", run_id = "run-1", kind = "daily");
            let _run = run.enter();
            let item = tracing::info_span!("item", item_id = "li-1");
            let _item = item.enter();
            tracing::info!(status = "succeeded", duration_ms = 12, "Item finished.");
            tracing::debug!("Not written: below the file level.");
        });
        let lines = captured.lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        let timestamp = line["timestamp"].as_str().expect("a time");
        assert!(chrono::DateTime::parse_from_rfc3339(timestamp).is_ok() && timestamp.ends_with('Z'), "{timestamp}");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "Item finished.");
        assert_eq!((&line["status"], &line["duration_ms"]), (&json!("succeeded"), &json!(12)));
        assert_eq!(line.get("span"), None, "the innermost span is the last of `spans`");
        let spans =
            json!([{ "run_id": "run-1", "kind": "daily", "name": "checkin" }, { "item_id": "li-1", "name": "item" }]);
        assert_eq!(line["spans"], spans);
    }

    /// Set in the environment of the child process that runs [`init`] for real.
    const CHILD_VARIABLE: &str = "ENDPOINT_AGENT_LOGGING_TEST_DIR";

    /// Runs `test_name` from this module alone in a child process of this test
    /// binary, with `log_dir` in its environment; returns its stderr.
    fn run_in_child(test_name: &str, log_dir: &Path) -> String {
        let module = module_path!().split_once("::").map_or(module_path!(), |(_, rest)| rest);
        let executable = std::env::current_exe().expect("the test binary");
        let output = Command::new(executable)
            .args(["--exact", &format!("{module}::{test_name}"), "--nocapture", "--test-threads=1"])
            .env(CHILD_VARIABLE, log_dir)
            .output()
            .expect("child started");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
        assert!(stdout.contains("1 passed"), "the child ran no test:\n{stdout}");
        stderr
    }

    /// In the child: sets logging up for real, logs a run, and tries a second set-up.
    #[test]
    fn init_in_this_process() {
        let Some(log_dir) = std::env::var_os(CHILD_VARIABLE) else {
            return;
        };
        let settings = LogSettings {
            root: PathBuf::from("/"),
            log_dir: Some(PathBuf::from(log_dir)),
            retention_days: 14,
            max_size: 1 << 20,
            level: LogLevel::Info,
            console_level: tracing::Level::WARN,
        };
        let guard = init(&settings).expect("first set-up");
        tracing::info_span!("checkin", run_id = "run-1", kind = "daily").in_scope(|| {
            tracing::info!(item_id = "li-1", status = "succeeded", "Item finished.");
            tracing::warn!(item_id = "li-2", status = "failed", "Item failed.");
        });
        let second = init(&settings).expect_err("second set-up refused");
        assert!(matches!(second, LoggingError::AlreadyInitialized(_)), "{second:?}");
        eprintln!("files: {}", guard.writes_files());
    }

    #[test]
    fn init_writes_files_and_shows_warnings_on_stderr() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let log_dir = folder.path().join("logs");
        let stderr = run_in_child("init_in_this_process", &log_dir);
        assert!(stderr.contains("files: true"), "{stderr}");
        assert!(stderr.contains("WARN") && stderr.contains("Item failed."), "{stderr}");
        assert!(!stderr.contains("Item finished."), "info stays off stderr: {stderr}");
        assert!(!stderr.contains('\u{1b}'), "no colours into a pipe: {stderr}");
        let filter = crate::log_records::LogFilter { run_id: Some("run-1".into()), ..Default::default() };
        let records = crate::log_records::read_records(&log_dir, &filter).expect("readable");
        let messages: Vec<&str> = records.iter().map(|record| record.message.as_str()).collect();
        assert_eq!(messages, ["Item finished.", "Item failed."]);
    }

    #[test]
    fn init_falls_back_to_stderr_when_the_folder_is_unusable() {
        let file = tempfile::NamedTempFile::new().expect("temporary file");
        let stderr = run_in_child("init_in_this_process", &file.path().join("logs"));
        assert!(stderr.contains("files: false"), "{stderr}");
        let warnings = stderr.matches("Cannot write log files; logging to stderr only.").count();
        assert_eq!(warnings, 1, "{stderr}");
        assert!(stderr.contains("Item finished.") && stderr.contains("Item failed."), "{stderr}");
    }
}
