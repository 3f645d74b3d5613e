//! Reading the agent's own log files back, for `agent logs` and for tests.
//!
//! The files are the JSON lines that [`crate::logging`] writes: one object per event
//! with `timestamp`, `level`, `message`, the event's fields at the top level, and the
//! enclosing spans under `span` (the innermost) and `spans` (outermost first). A
//! record here is one such line with the span fields merged in, so a `run_id` set on
//! the `checkin` span is found on every line written inside it.
//!
//! Reading never fails because of a bad line: a crash or a full disk can leave a torn
//! last line, and the next process appends straight after it. Such lines are skipped
//! and counted, and a whole record glued after a torn fragment is still recovered.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::logging::{FILE_NAME_PREFIX, FILE_NAME_SUFFIX};

/// Keys the JSON formatter writes about an event rather than from it; they are not
/// fields an admin filters or reads by.
const INTERNAL_KEYS: &[&str] =
    &["timestamp", "level", "message", "target", "span", "spans", "filename", "line_number", "threadName", "threadId"];

/// How every record written by [`crate::logging`] starts; used to find a whole
/// record glued after a torn one.
const RECORD_START: &[u8] = b"{\"timestamp\":";

/// How severe a record is, least severe first, so `>=` means "at least as severe".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Step-by-step detail, only for chasing a bug.
    Trace,
    /// Detail an engineer wants when something looks wrong.
    Debug,
    /// What happened, in the admin's words: runs started, items finished.
    Info,
    /// Something went wrong but the agent carried on.
    Warn,
    /// Something failed.
    Error,
}

impl LogLevel {
    /// The name the JSON formatter writes, e.g. `INFO`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` so that `{:>5}` lines the levels up.
        formatter.pad(self.as_str())
    }
}

/// A level name that is none of `error`, `warn`, `info`, `debug`, `trace`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown level {0:?}, expected one of error, warn, info, debug, trace")]
pub struct UnknownLevel(
    /// The name as given.
    pub String,
);

impl FromStr for LogLevel {
    type Err = UnknownLevel;

    /// Accepts the five names in any case, as admins type them and as the files hold them.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.to_ascii_lowercase().as_str() {
            "trace" => Ok(LogLevel::Trace),
            "debug" => Ok(LogLevel::Debug),
            "info" => Ok(LogLevel::Info),
            "warn" => Ok(LogLevel::Warn),
            "error" => Ok(LogLevel::Error),
            _ => Err(UnknownLevel(name.to_string())),
        }
    }
}

impl From<LogLevel> for tracing::Level {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Trace => tracing::Level::TRACE,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Error => tracing::Level::ERROR,
        }
    }
}

/// One log line, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// When the event happened, in UTC.
    pub timestamp: DateTime<Utc>,
    /// How severe the event was.
    pub level: LogLevel,
    /// The short sentence of the event; empty when it had none.
    pub message: String,
    /// Every other field: the spans' fields, outermost first, then the event's own,
    /// later ones winning on a clash. Formatter bookkeeping (`target`, `span`, ...)
    /// is left out.
    pub fields: Map<String, Value>,
    /// The line exactly as parsed, for `agent logs --json`.
    pub raw: Value,
}

/// Which records to keep; every condition that is set must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogFilter {
    /// Keep records whose event or any enclosing span has this `run_id`.
    pub run_id: Option<String>,
    /// Keep records whose `item_name` or `item_id` is exactly this.
    pub item: Option<String>,
    /// Keep records of this level or more severe.
    pub minimum_level: Option<LogLevel>,
    /// Keep records at or after this time.
    pub since: Option<DateTime<Utc>>,
}

impl LogFilter {
    /// Whether `record` passes every condition that is set.
    pub fn matches(&self, record: &LogRecord) -> bool {
        let run_matches = self.run_id.as_deref().is_none_or(|run_id| has_value(&record.raw, "run_id", run_id));
        let item_matches = self
            .item
            .as_deref()
            .is_none_or(|item| has_value(&record.raw, "item_name", item) || has_value(&record.raw, "item_id", item));
        let level_matches = self.minimum_level.is_none_or(|minimum| record.level >= minimum);
        let time_matches = self.since.is_none_or(|since| record.timestamp >= since);
        run_matches && item_matches && level_matches && time_matches
    }
}

/// What one pass over the log folder found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordsRead {
    /// The matching records, oldest file first, lines in file order.
    pub records: Vec<LogRecord>,
    /// Lines that were not a log record (torn, not JSON, or missing a time or level).
    pub skipped_lines: usize,
    /// How many log files were read; `0` means nothing has been logged yet.
    pub files_read: usize,
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

/// The records in `log_dir` that pass `filter`, oldest first. A folder that does not
/// exist holds no records yet.
pub fn read_records(log_dir: &Path, filter: &LogFilter) -> Result<Vec<LogRecord>, LogReadError> {
    Ok(read_records_counted(log_dir, filter)?.records)
}

/// Like [`read_records`], also saying how many lines were skipped and how many files
/// were read, so a caller can tell the admin.
pub fn read_records_counted(log_dir: &Path, filter: &LogFilter) -> Result<RecordsRead, LogReadError> {
    let mut read = RecordsRead::default();
    for path in log_files(log_dir)? {
        read_file(&path, filter, &mut read)?;
        read.files_read += 1;
    }
    Ok(read)
}

/// The log files in `log_dir`, oldest first: the plain `agent.log` (what a set-up
/// without rotation writes) and then every `agent.<date>.log` by the date in its name.
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
        let is_file = entry.file_type().map_err(list_error)?.is_file();
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if let (true, Some(date)) = (is_file, date_in_file_name(&name)) {
            files.push((date, entry.path()));
        }
    }
    files.sort();
    Ok(files.into_iter().map(|(_, path)| path).collect())
}

/// For a log file name, what it sorts by: `Some(None)` for `agent.log`,
/// `Some(Some(date))` for `agent.<date>.log`, `None` for anything else.
fn date_in_file_name(name: &str) -> Option<Option<String>> {
    let stem = name.strip_prefix(FILE_NAME_PREFIX)?.strip_suffix(FILE_NAME_SUFFIX)?.strip_suffix('.')?;
    if stem.is_empty() {
        return Some(None);
    }
    let date = stem.strip_prefix('.').filter(|date| !date.is_empty())?;
    Some(Some(date.to_string()))
}

/// Adds the matching records of one file to `read`.
fn read_file(path: &Path, filter: &LogFilter, read: &mut RecordsRead) -> Result<(), LogReadError> {
    let read_error = |source| LogReadError::ReadFile { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(read_error)?;
    for line in BufReader::new(file).split(b'\n') {
        let line = line.map_err(read_error)?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let (record, skipped) = parse_line(&line);
        read.skipped_lines += skipped;
        if let Some(record) = record.filter(|record| filter.matches(record)) {
            read.records.push(record);
        }
    }
    Ok(())
}

/// One line as a record, and how many torn fragments were dropped on the way (`0` or
/// `1`). A line that is a torn record followed by a whole one yields the whole one.
pub(crate) fn parse_line(line: &[u8]) -> (Option<LogRecord>, usize) {
    if let Some(record) = record_from_bytes(line) {
        return (Some(record), 0);
    }
    let glued = (1..line.len())
        .filter(|&start| line[start..].starts_with(RECORD_START))
        .find_map(|start| record_from_bytes(&line[start..]));
    (glued, 1)
}

/// The record in `bytes`, if they are one whole JSON record with a time and a level.
fn record_from_bytes(bytes: &[u8]) -> Option<LogRecord> {
    let raw: Value = serde_json::from_slice(bytes).ok()?;
    record_from_value(raw)
}

/// The record in a parsed line, if it has a time and a level.
fn record_from_value(raw: Value) -> Option<LogRecord> {
    let object = raw.as_object()?;
    let timestamp = DateTime::parse_from_rfc3339(object.get("timestamp")?.as_str()?).ok()?.with_timezone(&Utc);
    let level = object.get("level")?.as_str()?.parse().ok()?;
    let message = object.get("message").map(value_text).unwrap_or_default();
    let fields = merged_fields(object);
    Some(LogRecord { timestamp, level, message, fields, raw })
}

/// The spans' fields, outermost first, then the event's own; later ones win.
fn merged_fields(object: &Map<String, Value>) -> Map<String, Value> {
    let mut fields = Map::new();
    for span in span_objects(object) {
        let span_fields = span.iter().filter(|(key, _)| key.as_str() != "name");
        fields.extend(span_fields.map(|(key, value)| (key.clone(), value.clone())));
    }
    let own_fields = object.iter().filter(|(key, _)| !INTERNAL_KEYS.contains(&key.as_str()));
    fields.extend(own_fields.map(|(key, value)| (key.clone(), value.clone())));
    fields
}

/// The enclosing spans, outermost first: the `spans` list, then the `span` the event
/// belongs to (the same as the last of the list unless the event named its parent).
fn span_objects(object: &Map<String, Value>) -> impl Iterator<Item = &Map<String, Value>> {
    let listed = match object.get("spans") {
        Some(Value::Array(spans)) => spans.as_slice(),
        _ => &[],
    };
    let current = object.get("span").and_then(Value::as_object);
    listed.iter().filter_map(Value::as_object).chain(current)
}

/// Whether the event or any of its spans has `key` equal to `wanted`.
fn has_value(raw: &Value, key: &str, wanted: &str) -> bool {
    let Some(object) = raw.as_object() else {
        return false;
    };
    std::iter::once(object)
        .chain(span_objects(object))
        .any(|fields| fields.get(key).is_some_and(|value| value_text(value) == wanted))
}

/// A field's value as text: strings as they are, anything else as compact JSON.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// One record as a line for a person:
/// `2026-11-25T16:53:54.123Z  INFO run=… item="Set hostname" Item finished. status=succeeded`.
///
/// The time (UTC, milliseconds), the level padded to five, `run=` and `item=` when
/// the record has them, the message, then every other field as `key=value` in
/// sorted order. Text with spaces, quotes, `=` or control characters is quoted.
pub fn render_line(record: &LogRecord) -> String {
    let time = record.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut line = format!("{time} {:>5}", record.level);
    if let Some(run_id) = record.fields.get("run_id") {
        line.push_str(&format!(" run={}", rendered_value(run_id)));
    }
    let item_key = ["item_name", "item_id"].into_iter().find(|key| record.fields.contains_key(*key));
    if let Some(value) = item_key.and_then(|key| record.fields.get(key)) {
        line.push_str(&format!(" item={}", rendered_value(value)));
    }
    if !record.message.is_empty() {
        line.push(' ');
        line.push_str(&on_one_line(&record.message));
    }
    let shown_already = |key: &str| key == "run_id" || Some(key) == item_key;
    let mut others: Vec<(&String, &Value)> = record.fields.iter().filter(|(key, _)| !shown_already(key)).collect();
    others.sort_by_key(|(key, _)| *key);
    for (key, value) in others {
        line.push_str(&format!(" {key}={}", rendered_value(value)));
    }
    line
}

/// A field's value for a person: text quoted only when needed, anything else as
/// compact JSON.
fn rendered_value(value: &Value) -> String {
    match value {
        Value::String(text) => quoted_if_needed(text),
        other => other.to_string(),
    }
}

/// `text` quoted and escaped when it would otherwise be misread as several values.
fn quoted_if_needed(text: &str) -> String {
    let needs_quotes = text.is_empty()
        || text
            .chars()
            .any(|character| character.is_whitespace() || character.is_control() || "\"=".contains(character));
    if needs_quotes { format!("{text:?}") } else { text.to_string() }
}

/// `text` with line breaks escaped, so one record stays one line.
fn on_one_line(text: &str) -> String {
    text.replace('\r', "\\r").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RUN_A: &str = "0193aaaa-0000-7000-8000-000000000001";
    const RUN_B: &str = "0193bbbb-0000-7000-8000-000000000002";

    /// A stored line as the JSON formatter writes it, `timestamp` first.
    fn stored(time: &str, level: &str, message: &str, fields: Value) -> String {
        let mut line =
            format!(r#"{{"timestamp":{},"level":{},"message":{}"#, json!(time), json!(level), json!(message));
        for (key, value) in fields.as_object().into_iter().flatten() {
            line.push_str(&format!(",{}:{value}", json!(key)));
        }
        line + r#","target":"endpoint_agent::checkin"}"#
    }

    /// The span list the formatter writes inside a `checkin` span.
    fn in_checkin(run_id: &str) -> Value {
        let span = json!({ "run_id": run_id, "kind": "daily", "name": "checkin" });
        json!({ "span": span.clone(), "spans": [span] })
    }

    fn record(line: &str) -> LogRecord {
        parse_line(line.as_bytes()).0.expect("a whole record")
    }

    fn write_files(folder: &Path, files: &[(&str, Vec<String>)]) {
        for (name, lines) in files {
            let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
            std::fs::write(folder.join(name), text).expect("fixture written");
        }
    }

    #[test]
    fn level_names_parse_in_any_case_and_order_by_severity() {
        let cases = [
            ("error", Ok(LogLevel::Error)),
            ("WARN", Ok(LogLevel::Warn)),
            ("Info", Ok(LogLevel::Info)),
            ("debug", Ok(LogLevel::Debug)),
            ("trace", Ok(LogLevel::Trace)),
            ("warning", Err(UnknownLevel("warning".to_string()))),
            ("3", Err(UnknownLevel("3".to_string()))),
            ("", Err(UnknownLevel(String::new()))),
        ];
        for (name, expected) in cases {
            assert_eq!(name.parse::<LogLevel>(), expected, "{name:?}");
        }
        assert!(LogLevel::Error > LogLevel::Warn && LogLevel::Warn > LogLevel::Info);
        assert!(LogLevel::Info > LogLevel::Debug && LogLevel::Debug > LogLevel::Trace);
        assert_eq!(format!("[{:>5}]", LogLevel::Warn), "[ WARN]");
    }

    #[test]
    fn file_names_say_whether_and_where_a_file_sorts() {
        let cases = [
            ("agent.2026-11-25.log", Some(Some("2026-11-25"))),
            ("agent.2026-11-25-13.log", Some(Some("2026-11-25-13"))),
            ("agent.log", Some(None)),
            ("agent..log", None),
            ("agentlog", None),
            ("agent.2026-11-25.log.gz", None),
            ("other.2026-11-25.log", None),
            ("agent-2026-11-25.log", None),
        ];
        for (name, expected) in cases {
            let expected = expected.map(|date| date.map(str::to_string));
            assert_eq!(date_in_file_name(name), expected, "{name}");
        }
    }

    #[test]
    fn lines_parse_into_records_or_are_skipped() {
        let whole = stored("2026-11-25T16:53:54.123456Z", "INFO", "Run started.", json!({}));
        let torn = &whole[..whole.len() / 2];
        let cases: Vec<(&str, Vec<u8>, Option<&str>, usize)> = vec![
            ("whole", whole.clone().into_bytes(), Some("Run started."), 0),
            ("torn", torn.as_bytes().to_vec(), None, 1),
            ("torn, then a whole one", format!("{torn}{whole}").into_bytes(), Some("Run started."), 1),
            ("not json", b"panicked at src/main.rs".to_vec(), None, 1),
            ("not an object", b"[1,2]".to_vec(), None, 1),
            ("no level", br#"{"timestamp":"2026-11-25T16:53:54Z","message":"x"}"#.to_vec(), None, 1),
            ("bad time", br#"{"timestamp":"yesterday","level":"INFO"}"#.to_vec(), None, 1),
            ("bad level", br#"{"timestamp":"2026-11-25T16:53:54Z","level":"LOUD"}"#.to_vec(), None, 1),
            ("not utf-8", b"{\"timestamp\":\"\xff\"}".to_vec(), None, 1),
            ("no message", br#"{"timestamp":"2026-11-25T16:53:54Z","level":"INFO"}"#.to_vec(), Some(""), 0),
        ];
        for (name, line, message, skipped) in cases {
            let (record, skipped_lines) = parse_line(&line);
            assert_eq!(record.map(|record| record.message), message.map(str::to_string), "{name}");
            assert_eq!(skipped_lines, skipped, "{name}");
        }
    }

    #[test]
    fn span_fields_merge_under_the_event_fields() {
        let mut fields = in_checkin(RUN_A);
        fields["spans"] = json!([
            { "run_id": RUN_A, "kind": "daily", "name": "checkin" },
            { "item_id": "li-1", "kind": "item", "name": "item" },
        ]);
        fields["span"] = json!({ "item_id": "li-1", "kind": "item", "name": "item" });
        fields["status"] = json!("succeeded");
        fields["item_id"] = json!("li-2");
        let record = record(&stored("2026-11-25T16:53:54Z", "INFO", "Item finished.", fields));
        let expected = json!({ "run_id": RUN_A, "kind": "item", "item_id": "li-2", "status": "succeeded" });
        assert_eq!(Value::Object(record.fields), expected);
        assert_eq!(record.level, LogLevel::Info);
    }

    #[test]
    fn files_are_read_oldest_first_and_torn_lines_counted() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let line = |time: &str, message: &str| stored(time, "INFO", message, json!({}));
        let torn_last = line("2026-11-25T23:59:59Z", "lost")[..30].to_string();
        write_files(
            folder.path(),
            &[
                ("agent.2026-11-25.log", vec![line("2026-11-25T08:00:00Z", "third"), torn_last]),
                ("agent.2026-11-23.log", vec![line("2026-11-23T08:00:00Z", "first")]),
                ("agent.2026-11-24.log", vec![line("2026-11-24T08:00:00Z", "second"), String::new()]),
                ("agent.log", vec![line("2026-01-01T08:00:00Z", "oldest, from before rotation")]),
                ("notes.txt", vec![line("2026-11-26T08:00:00Z", "not a log file")]),
            ],
        );
        std::fs::create_dir(folder.path().join("agent.2026-11-26.log")).expect("a folder");
        let read = read_records_counted(folder.path(), &LogFilter::default()).expect("readable");
        let messages: Vec<&str> = read.records.iter().map(|record| record.message.as_str()).collect();
        assert_eq!(messages, ["oldest, from before rotation", "first", "second", "third"]);
        assert_eq!((read.skipped_lines, read.files_read), (1, 4));
    }

    #[test]
    fn a_missing_folder_holds_no_records() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let read = read_records_counted(&folder.path().join("never-made"), &LogFilter::default());
        assert_eq!(read.expect("not an error"), RecordsRead::default());
    }

    #[test]
    fn a_file_where_the_folder_should_be_is_an_error() {
        let file = tempfile::NamedTempFile::new().expect("temporary file");
        let error = read_records(file.path(), &LogFilter::default()).expect_err("not a folder");
        assert!(matches!(error, LogReadError::ListFolder { .. }), "{error:?}");
    }

    fn by_run(run_id: &str) -> LogFilter {
        LogFilter { run_id: Some(run_id.into()), ..Default::default() }
    }

    fn by_item(item: &str) -> LogFilter {
        LogFilter { item: Some(item.into()), ..Default::default() }
    }

    fn by_level(minimum_level: LogLevel) -> LogFilter {
        LogFilter { minimum_level: Some(minimum_level), ..Default::default() }
    }

    fn since(time: &str) -> LogFilter {
        let time = DateTime::parse_from_rfc3339(time).expect("a time");
        LogFilter { since: Some(time.with_timezone(&Utc)), ..Default::default() }
    }

    /// Four records: a run's start (run on the span), one of its items, another run's
    /// failure (run on the event, numeric item id), and a line outside any run.
    fn four_records() -> [LogRecord; 4] {
        let mut item_fields = in_checkin(RUN_A);
        item_fields["item_id"] = json!("li-1");
        item_fields["item_name"] = json!("Set hostname");
        let other_run = json!({ "run_id": RUN_B, "item_id": 7 });
        [
            record(&stored("2026-11-25T10:00:00Z", "INFO", "0", in_checkin(RUN_A))),
            record(&stored("2026-11-25T10:00:01Z", "WARN", "1", item_fields)),
            record(&stored("2026-11-25T11:00:00Z", "ERROR", "2", other_run)),
            record(&stored("2026-11-25T12:00:00Z", "DEBUG", "3", json!({}))),
        ]
    }

    #[test]
    fn each_filter_keeps_only_what_it_names() {
        let run_and_level = LogFilter { minimum_level: Some(LogLevel::Warn), ..by_run(RUN_A) };
        let cases = [
            ("nothing set", LogFilter::default(), "0123"),
            ("run on the span", by_run(RUN_A), "01"),
            ("run on the event", by_run(RUN_B), "2"),
            ("run prefix only", by_run("0193"), ""),
            ("item by name", by_item("Set hostname"), "1"),
            ("item by id", by_item("li-1"), "1"),
            ("item by numeric id", by_item("7"), "2"),
            ("item name in another case", by_item("set hostname"), ""),
            ("warn and worse", by_level(LogLevel::Warn), "12"),
            ("trace and worse", by_level(LogLevel::Trace), "0123"),
            ("since, inclusive", since("2026-11-25T11:00:00Z"), "23"),
            ("since, after all", since("2026-11-26T00:00:00Z"), ""),
            ("run and level together", run_and_level, "1"),
        ];
        let records = four_records();
        for (name, filter, expected) in cases {
            let kept: String =
                records.iter().filter(|record| filter.matches(record)).map(|record| record.message.as_str()).collect();
            assert_eq!(kept, expected, "{name}");
        }
    }

    #[test]
    fn records_render_as_one_readable_line() {
        let mut item_fields = in_checkin(RUN_A);
        for (key, value) in [
            ("item_id", json!("li-1")),
            ("item_name", json!("Set hostname")),
            ("item_type", json!("custom_script")),
            ("status", json!("succeeded")),
            ("duration_ms", json!(12)),
        ] {
            item_fields[key] = value;
        }
        let cases = [
            (
                stored("2026-11-25T16:53:54.123456Z", "INFO", "Item finished.", item_fields),
                format!("2026-11-25T16:53:54.123Z  INFO run={RUN_A} item=\"Set hostname\" Item finished. duration_ms=12 item_id=li-1 item_type=custom_script kind=daily status=succeeded"),
            ),
            (
                stored("2026-11-25T16:53:54+01:00", "ERROR", "Audit failed.\nSee output.", json!({ "item_id": "li-9", "output": "", "exit": null, "tags": ["a b"], "path": "/tmp/x=y" })),
                "2026-11-25T15:53:54.000Z ERROR item=li-9 Audit failed.\\nSee output. exit=null output=\"\" path=\"/tmp/x=y\" tags=[\"a b\"]".to_string(),
            ),
            (
                r#"{"timestamp":"2026-11-25T16:53:54Z","level":"DEBUG","threadId":"ThreadId(2)","filename":"a.rs","line_number":3}"#.to_string(),
                "2026-11-25T16:53:54.000Z DEBUG".to_string(),
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(render_line(&record(&line)), expected);
        }
    }

    #[test]
    fn check_in_events_come_back_with_their_run_and_item() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let (writer, guard) = crate::logging::open_log_files(folder.path(), 3).expect("log files");
        let layer = crate::logging::json_file_layer(writer, tracing::Level::DEBUG);
        let subscriber = tracing_subscriber::layer::SubscriberExt::with(tracing_subscriber::registry(), layer);
        let before_item = tracing::subscriber::with_default(subscriber, emit_a_check_in);
        drop(guard);

        let all = read_records(folder.path(), &LogFilter::default()).expect("readable");
        let messages: Vec<&str> = all.iter().map(|record| record.message.as_str()).collect();
        assert_eq!(messages, ["Run started.", "Item finished.", "Item failed.", "Socket idle."]);
        let finished = &all[1];
        let expected = json!({ "run_id": RUN_A, "kind": "daily", "item_id": "li-1", "item_name": "Set hostname",
            "item_type": "custom_script", "status": "succeeded", "duration_ms": 12 });
        assert_eq!(Value::Object(finished.fields.clone()), expected);

        let cases = [
            (by_run(RUN_A), vec!["Run started.", "Item finished.", "Item failed."]),
            (by_item("Set hostname"), vec!["Item finished."]),
            (by_item("li-2"), vec!["Item failed."]),
            (by_level(LogLevel::Warn), vec!["Item failed."]),
            (
                LogFilter { since: Some(before_item), ..Default::default() },
                vec!["Item finished.", "Item failed.", "Socket idle."],
            ),
        ];
        for (filter, expected) in cases {
            let kept = read_records(folder.path(), &filter).expect("readable");
            let kept: Vec<&str> = kept.iter().map(|record| record.message.as_str()).collect();
            assert_eq!(kept, expected, "{filter:?}");
        }
    }

    /// Emits what the check-in engine emits for one run; returns a time between the
    /// first line and the second.
    fn emit_a_check_in() -> DateTime<Utc> {
        let span = tracing::info_span!("checkin", run_id = %RUN_A, kind = "daily");
        let before_item = span.in_scope(|| {
            tracing::info!("Run started.");
            std::thread::sleep(std::time::Duration::from_millis(2));
            let before_item = Utc::now();
            std::thread::sleep(std::time::Duration::from_millis(2));
            tracing::info!(run_id = %RUN_A, item_id = "li-1", item_name = "Set hostname", item_type = "custom_script",
                status = "succeeded", duration_ms = 12, "Item finished.");
            tracing::warn!(item_id = "li-2", item_name = "Install printer", status = "failed", "Item failed.");
            before_item
        });
        tracing::debug!("Socket idle.");
        tracing::trace!("Not written: below the file level.");
        before_item
    }
}
