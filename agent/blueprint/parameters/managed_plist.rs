//! `managed_plists`: keys of property lists the agent keeps at a declared value.
//!
//! ```json
//! { "path": "/Library/Preferences/com.example.app.plist", "key": "AutoUpdate",
//!   "value": true, "format": "xml" }
//! ```
//! `key` is a top-level key of the plist's dictionary. `value` is any JSON value:
//! strings, booleans, whole numbers (plist `integer`), numbers with a fraction or
//! exponent (`real`), arrays and objects (`dict`). Two object forms stand for the
//! plist types JSON lacks: `{"$date": "2024-05-01T00:00:00Z"}` is a `date` and
//! `{"$data": "<base64>"}` is `data`. `format` (`xml`, the default, or `binary`)
//! applies only when the agent creates the file; an existing file keeps its format.

use std::collections::HashMap;

use base64::Engine;
use serde_json::{Map, Value};

use super::device_path::DevicePath;
use super::values::required_path;
use crate::blueprint::document::{Problems, join_key};

/// One managed plist key.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedPlistKey {
    /// The plist file on the Mac.
    pub path: DevicePath,
    /// The top-level key.
    pub key: String,
    /// The value the key must hold, already in plist form.
    pub value: plist::Value,
    /// How a file the agent creates is written; `None` means XML.
    pub format: Option<PlistFormat>,
}

/// How a plist file is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlistFormat {
    /// Human-readable XML.
    Xml,
    /// Apple's binary format (`bplist00`).
    Binary,
}

impl PlistFormat {
    /// The name used in blueprints and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            PlistFormat::Xml => "xml",
            PlistFormat::Binary => "binary",
        }
    }
}

const KEYS: [&str; 4] = ["path", "key", "value", "format"];

/// Checks every entry of `managed_plists`: a key of a file is declared once, and
/// every entry of one file asks for the same format.
pub(super) fn resolve_all(entries: &[Value], key: &str, problems: &mut Problems) -> Vec<ManagedPlistKey> {
    let mut first_index_of_key: HashMap<(DevicePath, String), usize> = HashMap::new();
    let mut format_of_file: HashMap<DevicePath, (PlistFormat, usize)> = HashMap::new();
    let mut keys = Vec::new();
    for (index, value) in entries.iter().enumerate() {
        let entry_key = format!("{key}[{index}]");
        let Some(entry) = resolve(value, &entry_key, problems) else { continue };
        let identity = (entry.path.clone(), entry.key.clone());
        if let Some(first) = first_index_of_key.get(&identity) {
            let message = format!("key {:?} of {} is already declared by {key}[{first}]", entry.key, entry.path);
            problems.error(&join_key(&entry_key, "key"), &message);
            continue;
        }
        if let Some(format) = entry.format {
            let (first_format, first) = *format_of_file.entry(entry.path.clone()).or_insert((format, index));
            if first_format != format {
                let message = format!("{} is declared as {} by {key}[{first}]", entry.path, first_format.as_str());
                problems.error(&join_key(&entry_key, "format"), &message);
                continue;
            }
        }
        first_index_of_key.insert(identity, index);
        keys.push(entry);
    }
    keys
}

fn resolve(value: &Value, key: &str, problems: &mut Problems) -> Option<ManagedPlistKey> {
    let Some(object) = value.as_object() else {
        problems.wrong_type(key, "an object", value);
        return None;
    };
    problems.warn_unknown_keys(key, object, &[&KEYS]);
    let path = required_path(object, key, "path", problems);
    let name = problems.required_text(object, key, "key");
    let value_key = join_key(key, "value");
    let plist_value = match object.get("value") {
        None => {
            problems.error(&value_key, "is required");
            None
        }
        Some(value) => to_plist(value, &value_key, problems),
    };
    let format = match problems.optional_text(object, key, "format").as_deref() {
        None => None,
        Some("xml") => Some(PlistFormat::Xml),
        Some("binary") => Some(PlistFormat::Binary),
        Some(other) => {
            problems.error(&join_key(key, "format"), &format!("unknown format {other:?} (expected xml or binary)"));
            None
        }
    };
    Some(ManagedPlistKey { path: path?, key: name?, value: plist_value?, format })
}

/// A JSON value in plist form; every problem is recorded with its key path.
pub(crate) fn to_plist(value: &Value, key: &str, problems: &mut Problems) -> Option<plist::Value> {
    match value {
        Value::Null => {
            problems.error(key, "null has no plist form; give a string, boolean, number, array or object");
            None
        }
        Value::Bool(flag) => Some(plist::Value::Boolean(*flag)),
        Value::String(text) => Some(plist::Value::String(text.clone())),
        Value::Number(number) => match (number.as_i64(), number.as_u64(), number.as_f64()) {
            (Some(signed), _, _) => Some(plist::Value::Integer(signed.into())),
            (None, Some(unsigned), _) => Some(plist::Value::Integer(unsigned.into())),
            (None, None, Some(real)) => Some(plist::Value::Real(real)),
            (None, None, None) => {
                problems.error(key, &format!("{number} has no plist form"));
                None
            }
        },
        Value::Array(values) => {
            let converted: Vec<_> = values
                .iter()
                .enumerate()
                .map(|(index, inner)| to_plist(inner, &format!("{key}[{index}]"), problems))
                .collect();
            converted.into_iter().collect::<Option<Vec<_>>>().map(plist::Value::Array)
        }
        Value::Object(object) => object_to_plist(object, key, problems),
    }
}

/// A `{"$date": …}` or `{"$data": …}` marker, or a dictionary.
fn object_to_plist(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<plist::Value> {
    let marker = |name: &str| if object.len() == 1 { object.get(name) } else { None };
    if let Some(date) = marker("$date") {
        let parsed = date.as_str().and_then(|text| plist::Date::from_xml_format(text).ok());
        if parsed.is_none() {
            problems.error(&join_key(key, "$date"), "expected a UTC date such as \"2024-05-01T00:00:00Z\"");
        }
        return parsed.map(plist::Value::Date);
    }
    if let Some(data) = marker("$data") {
        let engine = base64::engine::general_purpose::STANDARD;
        let decoded = data.as_str().and_then(|text| engine.decode(text.trim()).ok());
        if decoded.is_none() {
            problems.error(&join_key(key, "$data"), "expected base64 text");
        }
        return decoded.map(plist::Value::Data);
    }
    let mut dictionary = plist::Dictionary::new();
    let mut complete = true;
    for (name, inner) in object {
        match to_plist(inner, &join_key(key, name), problems) {
            Some(converted) => {
                dictionary.insert(name.clone(), converted);
            }
            None => complete = false,
        }
    }
    complete.then_some(plist::Value::Dictionary(dictionary))
}
