//! Field checks several parameters share: device paths, switches, counts.

use serde_json::{Map, Value};

use super::device_path::DevicePath;
use crate::blueprint::document::{Problems, join_key};

/// The device path at `parent.field`; an error when absent, not a string, or unsafe.
pub(super) fn required_path(
    object: &Map<String, Value>,
    parent: &str,
    field: &str,
    problems: &mut Problems,
) -> Option<DevicePath> {
    let text = problems.required_text(object, parent, field)?;
    path_from_text(&text, &join_key(parent, field), problems)
}

/// `text` as a device path; an error at `key` when it is unsafe.
pub(super) fn path_from_text(text: &str, key: &str, problems: &mut Problems) -> Option<DevicePath> {
    match DevicePath::parse(text) {
        Ok(path) => Some(path),
        Err(message) => {
            problems.error(key, &message);
            None
        }
    }
}

/// The switch at `parent.field`, or `default` when absent; an error when not a boolean.
pub(super) fn optional_bool(
    object: &Map<String, Value>,
    parent: &str,
    field: &str,
    default: bool,
    problems: &mut Problems,
) -> bool {
    match object.get(field) {
        None | Some(Value::Null) => default,
        Some(Value::Bool(flag)) => *flag,
        Some(other) => {
            problems.wrong_type(&join_key(parent, field), "true or false", other);
            default
        }
    }
}

/// The whole number at `parent.field` (1 or more), or `default` when absent.
pub(super) fn optional_count(
    object: &Map<String, Value>,
    parent: &str,
    field: &str,
    default: u32,
    problems: &mut Problems,
) -> u32 {
    match object.get(field) {
        None | Some(Value::Null) => default,
        Some(Value::Number(number)) => match number.as_u64().and_then(|count| u32::try_from(count).ok()) {
            Some(count) if count > 0 => count,
            _ => {
                let message = format!("expected a whole number from 1 to {}, found {number}", u32::MAX);
                problems.error(&join_key(parent, field), &message);
                default
            }
        },
        Some(other) => {
            problems.wrong_type(&join_key(parent, field), "a whole number", other);
            default
        }
    }
}
