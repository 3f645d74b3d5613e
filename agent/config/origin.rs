//! Where a configuration value came from.
//!
//! Admins debugging a fleet ask "why is this the value?" far more often than "what
//! is the value?", so every effective value, warning and error carries its origin,
//! and `agent config --show-origin` prints it beside the value.

use std::fmt;
use std::path::PathBuf;

use serde::{Serialize, Serializer};

/// The layer that set a value, or where a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default: no layer set the key.
    Default,
    /// A plist or JSON file: the config file, a drop-in fragment or the managed
    /// preferences an MDM profile wrote (or the drop-in folder itself when it cannot
    /// be listed).
    File(PathBuf),
    /// An `AGENT_*` environment variable, by its name.
    Environment(String),
    /// A `--set key=value` command-line flag.
    Flag,
}

impl fmt::Display for Origin {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => formatter.write_str("default"),
            Origin::File(path) => write!(formatter, "{}", path.display()),
            Origin::Environment(variable) => write!(formatter, "environment variable {variable}"),
            Origin::Flag => formatter.write_str("flag --set"),
        }
    }
}

/// Serialized as the same text people read, so `--json` output matches the
/// `--show-origin` table.
impl Serialize for Origin {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_origin_reads_as_an_admin_would_say_it() {
        let cases = [
            (Origin::Default, "default"),
            (Origin::File(PathBuf::from("/etc/config.d/20-tenant.json")), "/etc/config.d/20-tenant.json"),
            (Origin::Environment("AGENT_TENANT_URL".to_string()), "environment variable AGENT_TENANT_URL"),
            (Origin::Flag, "flag --set"),
        ];
        for (origin, expected) in cases {
            assert_eq!(origin.to_string(), expected);
            assert_eq!(serde_json::to_value(&origin).unwrap(), expected);
        }
    }
}
