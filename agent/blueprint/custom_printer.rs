//! A printer item's keys.

use serde_json::{Map, Value};

use super::document::Problems;

/// The item's settings, kept as sent until its handler defines them.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomPrinter {
    /// Every key of the item, as sent.
    pub keys: Map<String, Value>,
}

/// Checks the item's own keys.
pub(crate) fn resolve(object: &Map<String, Value>, _key: &str, _problems: &mut Problems) -> Option<CustomPrinter> {
    Some(CustomPrinter { keys: object.clone() })
}
