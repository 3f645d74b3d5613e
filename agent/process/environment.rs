//! What a child inherits of the agent's environment: everything but its secrets.
//!
//! The agent runs as root with its configuration secrets possibly in its own
//! environment (`AGENT_TENANT_TOKEN`, `AGENT_TENANT_ENROLLMENT_SECRET` from a launchd plist or a wrapper script)
//! and the OTLP exporter's credentials (`OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_EXPORTER_OTLP_METRICS_HEADERS`, …). A script, installer or tool never
//! needs them, and an `env` in an audit would print them into the run history
//! and the tenant's results, so they are removed from every child's environment.
//!
//! Which configuration keys are secret is the key table's knowledge, one floor up;
//! their variables are listed here, at the floor every child is started from, so
//! they are withheld from the first child on, whatever has been loaded. A test of
//! the key table checks that every secret key's variable is in this list.

use std::ffi::{OsStr, OsString};

/// The environment variables of the secret configuration keys.
pub(crate) const SECRET_VARIABLES: &[&str] = &["AGENT_TENANT_ENROLLMENT_SECRET", "AGENT_TENANT_TOKEN"];

/// The OTLP header variables start and end so: they carry collector credentials.
const OTLP_HEADERS: (&str, &str) = ("OTEL_EXPORTER_OTLP_", "_HEADERS");

/// Whether a child must not inherit the variable `name`.
pub(crate) fn is_withheld(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else { return false };
    let (prefix, suffix) = OTLP_HEADERS;
    let otlp_headers = name.len() > prefix.len() && name.starts_with(prefix) && name.ends_with(suffix);
    otlp_headers || SECRET_VARIABLES.contains(&name)
}

/// The variables of the agent's own environment a child must not inherit.
pub(crate) fn withheld_variables() -> Vec<OsString> {
    std::env::vars_os().map(|(name, _)| name).filter(|name| is_withheld(name)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_otlp_headers_are_withheld() {
        let cases = [
            ("AGENT_TENANT_TOKEN", true),
            ("AGENT_TENANT_ENROLLMENT_SECRET", true),
            ("OTEL_EXPORTER_OTLP_HEADERS", true),
            ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", true),
            ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", true),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", false),
            ("AGENT_TENANT_URL", false),
            ("AGENT_ROOT", false),
            ("PATH", false),
        ];
        for (name, withheld) in cases {
            assert_eq!(is_withheld(OsStr::new(name)), withheld, "{name}");
        }
    }
}
