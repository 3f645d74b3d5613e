//! The blueprint's `parameters`: device-wide settings enforced before library items.

use serde_json::{Map, Value};

use super::document::Problems;

/// The blueprint's parameters, kept as sent until their handlers define them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parameters {
    /// Every parameter, as sent.
    pub keys: Map<String, Value>,
}

/// Checks the `parameters` object.
pub(crate) fn resolve(object: &Map<String, Value>, _key: &str, _problems: &mut Problems) -> Parameters {
    Parameters { keys: object.clone() }
}
