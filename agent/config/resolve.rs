//! Merging the layers into one validated [`AgentConfig`], remembering who set each
//! key.
//!
//! Later layers win key by key: defaults < config file < drop-in fragments (by
//! name) < managed preferences < `AGENT_*` variables < `--set` flags. Every value is
//! checked as it is merged, and checking goes on past the first problem, so one
//! failed load lists everything to fix. A bad value is an error even when a later
//! layer overrides it: the file is still broken, and would bite once the override
//! goes.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::files::read_settings_file;
use super::keys::{self, KNOWN_KEYS};
use super::layers::{self, FileFormat, Layer};
use super::origin::Origin;
use super::problems::{ConfigErrors, ConfigWarning, Problems};
use super::settings::AgentConfig;
use super::trust::TrustedWriters;
use crate::paths::AgentPaths;
use crate::tenant_trust::TrustProblem;

/// What a load gives: the configuration, where each value came from, and what was
/// ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedConfig {
    /// The validated configuration the agent runs with.
    pub config: AgentConfig,
    /// Every known key → the layer that set its effective value
    /// ([`Origin::Default`] when none did).
    pub origins: BTreeMap<String, Origin>,
    /// Unknown keys and variables, in the order they were found; the load still
    /// succeeded.
    pub warnings: Vec<ConfigWarning>,
}

/// One line of `agent config --show-origin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EffectiveValue {
    /// The dotted key.
    pub key: String,
    /// The value as an admin would write it; the token as `********`, an unset key
    /// as `(none)`.
    pub value_text: String,
    /// Who set it.
    pub origin: Origin,
}

/// Loads the configuration from every layer under `paths`, the `AGENT_*` variables
/// in `environment`, and `flags` (the text after each `--set`, in command-line
/// order). Fails with every problem found, each naming its file, variable or flag
/// and key.
///
/// For `environment`, pass the process's variables with non-UTF-8 ones dropped
/// (`std::env::vars_os()` filtered); `std::env::vars()` panics on those.
pub fn load(
    paths: &AgentPaths,
    environment: impl IntoIterator<Item = (String, String)>,
    flags: &[String],
) -> Result<LoadedConfig, ConfigErrors> {
    let mut problems = Problems::default();
    let mut merged = Merged::defaults();
    let writers = TrustedWriters::for_paths(paths);
    merged.apply_file(&paths.config_file, FileFormat::PropertyList, &writers, &mut problems);
    match writers.skipped_folder(&paths.config_dropin_dir) {
        Some(skipped) => problems.warning(&Origin::File(paths.config_dropin_dir.clone()), None, skipped),
        None => {
            for fragment in layers::dropin_fragments(&paths.config_dropin_dir, &mut problems) {
                merged.apply_file(&fragment.path, fragment.format, &writers, &mut problems);
            }
        }
    }
    merged.apply_file(&paths.managed_preferences, FileFormat::PropertyList, &writers, &mut problems);
    for layer in layers::environment_layers(environment, &mut problems) {
        merged.apply(&layer, &mut problems);
    }
    for flag in flags {
        if let Some(layer) = layers::flag_layer(flag, &mut problems) {
            merged.apply(&layer, &mut problems);
        }
    }
    merged.check_ca_file(&writers, &mut problems);
    merged.finish(problems)
}

impl LoadedConfig {
    /// The built-in defaults alone, as if no layer set a key: for a person's Self
    /// Service verbs, which the daemon answers with its own configuration (the
    /// configuration's files may be root's alone to read).
    pub fn defaults() -> Self {
        let Merged { config, origins } = Merged::defaults();
        Self { config, origins, warnings: Vec::new() }
    }

    /// Every known key in key order with its effective value and origin, for
    /// `agent config --show-origin`. Safe to print: the token is redacted.
    pub fn effective_values(&self) -> Vec<EffectiveValue> {
        KNOWN_KEYS
            .iter()
            .map(|key| EffectiveValue {
                key: key.name.to_string(),
                value_text: key.value_text(&self.config),
                origin: self.origins.get(key.name).cloned().unwrap_or(Origin::Default),
            })
            .collect()
    }

    /// Writes each warning to the log, for the daemon, where nobody reads stderr.
    pub fn log_warnings(&self) {
        for warning in &self.warnings {
            tracing::warn!(
                origin = %warning.origin,
                key = warning.key.as_deref(),
                problem = %warning.message,
                "Ignored a configuration setting"
            );
        }
    }
}

/// The configuration merged so far, and who set each key.
struct Merged {
    /// The values so far, starting from the defaults.
    config: AgentConfig,
    /// Every known key → the last layer that set it.
    origins: BTreeMap<String, Origin>,
}

/// Why a setting was ignored.
#[derive(Debug, thiserror::Error)]
enum SettingProblem {
    /// A key that is not in the table; probably a typo, or a setting from a newer
    /// agent.
    #[error("unknown key, ignored")]
    UnknownKey,
}

impl Merged {
    /// The built-in defaults, every key's origin [`Origin::Default`].
    fn defaults() -> Self {
        Self {
            config: AgentConfig::default(),
            origins: KNOWN_KEYS.iter().map(|key| (key.name.to_string(), Origin::Default)).collect(),
        }
    }

    /// Merges the settings file at `path`, if it exists, can be trusted and parsed.
    fn apply_file(&mut self, path: &Path, format: FileFormat, writers: &TrustedWriters, problems: &mut Problems) {
        if let Some(layer) = read_settings_file(path, format, writers, problems) {
            self.apply(&layer, problems);
        }
    }

    /// Checks and merges each of `layer`'s settings over what is there: an unknown
    /// key is a warning, a bad value an error, and neither changes the value.
    fn apply(&mut self, layer: &Layer, problems: &mut Problems) {
        for setting in &layer.settings {
            let Some(key) = keys::find(&setting.key) else {
                problems.warning(&layer.origin, Some(&setting.key), SettingProblem::UnknownKey);
                continue;
            };
            match key.apply(&setting.value, &mut self.config) {
                Ok(()) => {
                    self.origins.insert(key.name.to_string(), layer.origin.clone());
                }
                Err(problem) => problems.error(&layer.origin, Some(key.name), problem),
            }
        }
    }

    /// The loaded configuration, or every error found.
    /// Reads `tenant.ca_file`, when set, as a check-in would, so a broken one (or
    /// one someone else could have written) fails the load, naming the layer that
    /// set it, instead of every check-in. A person's verbs (not root) pass a CA
    /// file only root may read: they never talk to the tenant, and the daemon,
    /// root, checks it.
    fn check_ca_file(&self, writers: &TrustedWriters, problems: &mut Problems) {
        let Some(path) = &self.config.tenant.ca_file else { return };
        match writers.read_ca_file(path) {
            Ok(_) | Err(TrustProblem::ClosedToThisUser { .. }) => {}
            Err(problem) => {
                let key = "tenant.ca_file";
                let origin = self.origins.get(key).cloned().unwrap_or(Origin::Default);
                problems.error(&origin, Some(key), problem);
            }
        }
    }

    fn finish(self, problems: Problems) -> Result<LoadedConfig, ConfigErrors> {
        if !problems.errors.is_empty() {
            return Err(ConfigErrors { errors: problems.errors });
        }
        Ok(LoadedConfig { config: self.config, origins: self.origins, warnings: problems.warnings })
    }
}
