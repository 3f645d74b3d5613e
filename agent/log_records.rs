//! Reading the agent's own log files back, for `agent logs` and for tests.
//!
//! The files are the JSON lines that [`crate::logging`] writes: one object per event
//! with `timestamp`, `level`, `message`, the event's fields at the top level, and the
//! enclosing spans under `span` (the innermost) and `spans` (outermost first). A
//! record here is one such line with the span fields merged in, so a `run_id` set on
//! the `checkin` span is found on every line written inside it.
//!
//! Reading streams: each record is handed on as its line is read, a block at a
//! time, and a line longer than [`MAX_LINE_BYTES`] is skipped and counted rather
//! than held, so memory does not grow with the log's size.
//!
//! Reading never fails because of a bad line: a crash or a full disk can leave a torn
//! last line, and the next process appends straight after it. Such lines are skipped
//! and counted, and a whole record glued after a torn fragment is still recovered.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::log_level::LogLevel;
use crate::terminal;

pub use files::{LogReadError, file_order, for_each_record, log_files};
#[cfg(test)]
pub(crate) use files::{ReadSummary, read_records};
pub(crate) use files::{open_log_file, record_in_line};
pub use lines::MAX_LINE_BYTES;

/// Keys the JSON formatter writes about an event rather than from it; they are not
/// fields an admin filters or reads by.
const INTERNAL_KEYS: &[&str] =
    &["timestamp", "level", "message", "target", "span", "spans", "filename", "line_number", "threadName", "threadId"];

/// How every record written by [`crate::logging`] starts; used to find a whole
/// record glued after a torn one.
const RECORD_START: &[u8] = b"{\"timestamp\":";

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
/// sorted order. Text with spaces, quotes, `=` or control characters is quoted,
/// and every control character left is escaped ([`terminal::printable`]): one record
/// is one line, and nothing in it drives the terminal.
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
        line.push_str(&record.message);
    }
    let shown_already = |key: &str| key == "run_id" || Some(key) == item_key;
    let mut others: Vec<(&String, &Value)> = record.fields.iter().filter(|(key, _)| !shown_already(key)).collect();
    others.sort_by_key(|(key, _)| *key);
    for (key, value) in others {
        line.push_str(&format!(" {key}={}", rendered_value(value)));
    }
    terminal::printable(&line)
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
        || text.chars().any(|character| {
            character.is_whitespace() || terminal::needs_escape(character) || "\"=".contains(character)
        });
    if needs_quotes { format!("{text:?}") } else { text.to_string() }
}

mod files;
pub mod follow;
mod lines;

#[cfg(test)]
mod tests;
