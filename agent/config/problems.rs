//! Errors and warnings found while loading the configuration.
//!
//! Loading never stops at the first problem: an admin fixing a fleet's profile wants
//! the whole list in one go, each line naming the file (or variable, or flag) and the
//! key, so one edit-and-retry fixes everything.

use std::fmt;

use super::origin::Origin;

/// One problem that stops the agent from running with this configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(origin, key.as_deref(), message))]
pub struct ConfigError {
    /// The file, variable or flag the problem is in.
    pub origin: Origin,
    /// The dotted key, when the problem belongs to one (a file that cannot be parsed
    /// has none).
    pub key: Option<String>,
    /// What is wrong, as a lowercase fragment.
    pub message: String,
}

/// Every error found in one load, so they can be fixed together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", one_per_line(errors))]
pub struct ConfigErrors {
    /// The errors in the order the layers were read: files, then environment, then
    /// flags.
    pub errors: Vec<ConfigError>,
}

/// Something ignored while loading (an unknown key or variable): the agent still
/// runs, but the admin probably meant something else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(origin, key.as_deref(), message))]
pub struct ConfigWarning {
    /// The file, variable or flag the ignored setting is in.
    pub origin: Origin,
    /// The dotted key as written, when there is one.
    pub key: Option<String>,
    /// What was ignored and why, as a lowercase fragment.
    pub message: String,
}

/// Collects errors and warnings while the layers are read and resolved.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    /// Problems that stop the load.
    pub(crate) errors: Vec<ConfigError>,
    /// Problems that are reported but ignored.
    pub(crate) warnings: Vec<ConfigWarning>,
}

impl Problems {
    /// Records an error at `origin`, for `key` when there is one.
    pub(crate) fn error(&mut self, origin: &Origin, key: Option<&str>, message: impl fmt::Display) {
        self.errors.push(ConfigError {
            origin: origin.clone(),
            key: key.map(str::to_string),
            message: message.to_string(),
        });
    }

    /// Records a warning at `origin`, for `key` when there is one.
    pub(crate) fn warning(&mut self, origin: &Origin, key: Option<&str>, message: impl fmt::Display) {
        self.warnings.push(ConfigWarning {
            origin: origin.clone(),
            key: key.map(str::to_string),
            message: message.to_string(),
        });
    }
}

/// `origin: key "name": message`, or `origin: message` without a key.
fn describe(origin: &Origin, key: Option<&str>, message: &str) -> String {
    match key {
        Some(key) => format!("{origin}: key \"{key}\": {message}"),
        None => format!("{origin}: {message}"),
    }
}

/// The errors' lines joined by newlines, without a trailing one.
fn one_per_line(errors: &[ConfigError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn errors_print_one_per_line_with_origin_and_key() {
        let mut problems = Problems::default();
        let file = Origin::File(PathBuf::from("/path/config.d/20-tenant.json"));
        problems.error(&file, Some("timeouts.run"), "expected a duration such as \"90s\" or \"12h\", found true");
        problems.error(&file, None, "could not parse the JSON: trailing comma");
        let errors = ConfigErrors { errors: problems.errors };
        assert_eq!(
            errors.to_string(),
            "/path/config.d/20-tenant.json: key \"timeouts.run\": expected a duration such as \
             \"90s\" or \"12h\", found true\n\
             /path/config.d/20-tenant.json: could not parse the JSON: trailing comma"
        );
    }

    #[test]
    fn warnings_name_their_origin_and_key() {
        let mut problems = Problems::default();
        problems.warning(&Origin::Flag, Some("timeouts.nap"), "unknown key, ignored");
        assert_eq!(problems.warnings[0].to_string(), "flag --set: key \"timeouts.nap\": unknown key, ignored");
    }
}
