//! Reading a blueprint document (JSON or plist) and collecting its problems.
//!
//! Both formats become one JSON value tree so the same checks serve both; every
//! problem found while checking is kept, with its file and key path, so an admin
//! fixes a broken blueprint in one pass.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::{Map, Value};

use crate::structured_input::{self, InputKind, InputProblem, StructuredInputError};

/// One problem in a blueprint document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlueprintError {
    /// The file the blueprint came from.
    pub source: PathBuf,
    /// The key path, such as `library_items[2].type`; empty for the whole document.
    pub key: String,
    /// What is wrong, as a lowercase fragment.
    pub message: String,
}

impl fmt::Display for BlueprintError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(formatter, "{}: {}", self.source.display(), self.message)
        } else {
            write!(formatter, "{}: key {:?}: {}", self.source.display(), self.key, self.message)
        }
    }
}

/// Every problem found in a blueprint document, reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct BlueprintErrors(pub Vec<BlueprintError>);

impl fmt::Display for BlueprintErrors {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "invalid blueprint")?;
        for error in &self.0 {
            write!(formatter, "\n  {error}")?;
        }
        Ok(())
    }
}

/// Reads `path` as a plist (XML or binary) or JSON into one value tree, within the
/// blueprint's size and depth limits; a key set twice in one dictionary is an error
/// naming it.
pub(crate) fn load_value(path: &Path) -> Result<Value, BlueprintErrors> {
    let refused = |error: StructuredInputError| {
        let (key, message) = match error.problem {
            InputProblem::RepeatedKey { key } => (key.0, "is set more than once in the same dictionary".to_string()),
            problem => (String::new(), problem.to_string()),
        };
        BlueprintErrors(vec![BlueprintError { source: path.to_path_buf(), key, message }])
    };
    let bytes = structured_input::read_file(path, InputKind::Blueprint).map_err(refused)?;
    let input = path.display().to_string();
    if looks_like_plist(path, &bytes) {
        let value = structured_input::parse_plist(&bytes, &input, InputKind::Blueprint).map_err(refused)?;
        plist_to_json(&value, "").map_err(|(key, message)| {
            BlueprintErrors(vec![BlueprintError { source: path.to_path_buf(), key, message }])
        })
    } else {
        structured_input::parse_json(&bytes, &input, InputKind::Blueprint).map_err(refused)
    }
}

fn looks_like_plist(path: &Path, bytes: &[u8]) -> bool {
    let by_name = path.extension().is_some_and(|extension| extension == "plist");
    let trimmed = bytes.trim_ascii_start();
    by_name || trimmed.starts_with(b"<?xml") || trimmed.starts_with(b"<plist") || bytes.starts_with(b"bplist")
}

/// Turns a plist value into JSON; dates become RFC 3339 strings, data is refused.
fn plist_to_json(value: &plist::Value, key: &str) -> Result<Value, (String, String)> {
    Ok(match value {
        plist::Value::Dictionary(dictionary) => {
            let mut object = Map::new();
            for (name, inner) in dictionary {
                object.insert(name.clone(), plist_to_json(inner, &join_key(key, name))?);
            }
            Value::Object(object)
        }
        plist::Value::Array(values) => Value::Array(
            values
                .iter()
                .enumerate()
                .map(|(index, inner)| plist_to_json(inner, &format!("{key}[{index}]")))
                .collect::<Result<_, _>>()?,
        ),
        plist::Value::String(text) => Value::String(text.clone()),
        plist::Value::Boolean(flag) => Value::Bool(*flag),
        plist::Value::Integer(number) => match (number.as_signed(), number.as_unsigned()) {
            (Some(signed), _) => Value::from(signed),
            (None, Some(unsigned)) => Value::from(unsigned),
            (None, None) => Value::Null,
        },
        plist::Value::Real(number) => serde_json::Number::from_f64(*number).map_or(Value::Null, Value::Number),
        plist::Value::Date(date) => Value::String(date.to_xml_format()),
        plist::Value::Data(_) => return Err((key.to_string(), "data values are not accepted here".into())),
        _ => return Err((key.to_string(), "unsupported plist value".into())),
    })
}

/// Joins a parent key path and a field name with a dot.
pub(crate) fn join_key(parent: &str, field: &str) -> String {
    if parent.is_empty() { field.to_string() } else { format!("{parent}.{field}") }
}

/// Collects errors and warnings while a document is checked.
pub(crate) struct Problems {
    source: PathBuf,
    errors: Vec<BlueprintError>,
    warnings: Vec<String>,
}

impl Problems {
    /// Starts collecting for the document at `source`.
    pub(crate) fn new(source: &Path) -> Self {
        Self { source: source.to_path_buf(), errors: Vec::new(), warnings: Vec::new() }
    }

    /// Records an error at `key`.
    pub(crate) fn error(&mut self, key: &str, message: &str) {
        self.errors.push(BlueprintError {
            source: self.source.clone(),
            key: key.to_string(),
            message: message.to_string(),
        });
    }

    /// Records that `key` holds `found` where `expected` belongs.
    pub(crate) fn wrong_type(&mut self, key: &str, expected: &str, found: &Value) {
        self.error(key, &format!("expected {expected}, found {}", describe(found)));
    }

    /// The non-empty string at `parent.field`; an error when absent, empty or not a string.
    pub(crate) fn required_text(&mut self, object: &Map<String, Value>, parent: &str, field: &str) -> Option<String> {
        let key = join_key(parent, field);
        match object.get(field) {
            None | Some(Value::Null) => {
                self.error(&key, "is required");
                None
            }
            Some(Value::String(text)) if text.trim().is_empty() => {
                self.error(&key, "must not be empty");
                None
            }
            Some(Value::String(text)) => Some(text.clone()),
            Some(other) => {
                self.wrong_type(&key, "a string", other);
                None
            }
        }
    }

    /// The string at `parent.field`, if present; an error when it is not a string.
    pub(crate) fn optional_text(&mut self, object: &Map<String, Value>, parent: &str, field: &str) -> Option<String> {
        match object.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(other) => {
                self.wrong_type(&join_key(parent, field), "a string", other);
                None
            }
        }
    }

    /// Warns about every key of `object` that none of `known` lists.
    pub(crate) fn warn_unknown_keys(&mut self, parent: &str, object: &Map<String, Value>, known: &[&[&str]]) {
        for name in object.keys() {
            if !known.iter().any(|list| list.contains(&name.as_str())) {
                let key = join_key(parent, name);
                self.warnings.push(format!("{}: key {key:?}: unknown key, ignored", self.source.display()));
            }
        }
    }

    /// The value with its warnings when no error was found, else every error.
    pub(crate) fn finish<T>(self, value: T) -> Result<(T, Vec<String>), BlueprintErrors> {
        if self.errors.is_empty() { Ok((value, self.warnings)) } else { Err(BlueprintErrors(self.errors)) }
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => format!("the number {number}"),
        Value::String(text) => format!("the string {text:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}
/// Reads the time at `parent.field`: `Some(None)` when absent, `None` when wrong.
pub(crate) fn resolve_time(
    object: &Map<String, Value>,
    parent: &str,
    field: &str,
    problems: &mut Problems,
) -> Option<Option<DateTime<Utc>>> {
    let present = object.get(field).is_some_and(|value| !value.is_null());
    let Some(text) = problems.optional_text(object, parent, field) else {
        return (!present).then_some(None);
    };
    match parse_time_or_date(&text) {
        Some(time) => Some(Some(time)),
        None => {
            let message = format!(
                "{text:?} is not a date (\"2026-11-30\", the end of that day in UTC) or an RFC 3339 time (\"2026-11-30T17:00:00-08:00\")"
            );
            problems.error(&join_key(parent, field), &message);
            None
        }
    }
}

/// Reads an RFC 3339 time, or a `YYYY-MM-DD` date meaning the end of that day in
/// UTC (the moment passes at the next midnight UTC), as managed OS deadlines are.
pub(crate) fn parse_time_or_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.succ_opt()?.and_time(NaiveTime::MIN).and_utc())
}
