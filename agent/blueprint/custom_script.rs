//! A custom script item's keys: `audit` and `remediation`.

use serde_json::{Map, Value};

use super::document::Problems;
use super::resolve::COMMON_ITEM_KEYS;

/// A custom script item: the audit decides compliance, the remediation fixes.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomScript {
    /// Runs first; exit 0 means compliant.
    pub audit: String,
    /// Runs when the audit fails; the audit then runs again to confirm.
    pub remediation: Option<String>,
}

const KEYS: [&str; 2] = ["audit", "remediation"];

/// Checks a custom script item's own keys.
pub(crate) fn resolve(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<CustomScript> {
    problems.warn_unknown_keys(key, object, &[&COMMON_ITEM_KEYS, &KEYS]);
    let audit = problems.required_text(object, key, "audit")?;
    let remediation = problems.optional_text(object, key, "remediation").filter(|text| !text.trim().is_empty());
    Some(CustomScript { audit, remediation })
}
