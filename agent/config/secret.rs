//! The tenant token's wrapper: a value that never appears in logs, errors or output.

use std::fmt;

use serde::{Serialize, Serializer};

/// What a [`Secret`] shows instead of its value, everywhere but [`Secret::expose`].
pub const REDACTED: &str = "********";

/// A value that must never appear in logs, errors or output: the tenant token.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value` so it cannot be printed by accident.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The real value, for the one place that needs it (the `Authorization` header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(REDACTED)
    }
}

/// Serialized redacted, so `agent config --json` can be pasted into a ticket.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AgentConfig;

    #[test]
    fn the_token_never_prints() {
        let mut config = AgentConfig::default();
        config.tenant.token = Some(Secret::new("tok-very-secret"));
        let token = config.tenant.token.as_ref().unwrap();
        assert_eq!(format!("{token}"), REDACTED);
        assert_eq!(format!("{token:?}"), REDACTED);
        assert_eq!(token.expose(), "tok-very-secret");
        assert!(!format!("{config:?}").contains("tok-very-secret"));
        assert!(!format!("{config:#?}").contains("tok-very-secret"));
        let json = serde_json::to_string(&config).unwrap();
        assert!(!json.contains("tok-very-secret"), "{json}");
    }
}
