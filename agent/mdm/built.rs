//! What a response builder gives: the command's own keys, how many items or
//! facts they hold, and what had to be left out.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::inventory::Inventory;

/// The command's keys of one response, before the envelope.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Built {
    /// The keys, with Apple's names.
    pub(crate) keys: Map<String, Value>,
    /// Items in its list, or facts known (for the summary, and to tell an
    /// empty answer from a failed one).
    pub(crate) count: usize,
    /// Entries left out because a key Apple requires of them is unknown.
    pub(crate) left_out: Vec<String>,
}

impl Built {
    /// Keys from a serde type whose fields carry Apple's names.
    pub(crate) fn from_body(body: &impl Serialize, count: usize, left_out: Vec<String>) -> Self {
        let keys = match serde_json::to_value(body) {
            Ok(Value::Object(keys)) => keys,
            _ => Map::new(),
        };
        Self { keys, count, left_out }
    }
}

/// Whether the inventory describes a Mac (`sw_vers` named the OS), so facts only
/// a Mac has may be sent.
pub(crate) fn is_macos(inventory: &Inventory) -> bool {
    inventory
        .operating_system
        .name
        .as_deref()
        .is_some_and(|name| ["macOS", "Mac OS X", "OS X"].iter().any(|mac| name.starts_with(mac)))
}

/// How many of `facts` are known.
pub(crate) fn known(facts: &[bool]) -> usize {
    facts.iter().filter(|known| **known).count()
}
