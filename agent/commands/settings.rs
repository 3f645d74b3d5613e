//! What every verb starts from: the paths and the validated configuration.

use anyhow::Context;

use crate::config::{self, LoadedConfig};
use crate::logging::{self, LogGuard, LogSettings};
use crate::paths::AgentPaths;
use crate::terminal;

/// The paths and configuration of this invocation.
pub struct Settings {
    /// Where everything lives.
    pub paths: AgentPaths,
    /// The merged, validated configuration and where each key came from.
    pub loaded: LoadedConfig,
}

impl Settings {
    /// Reads the paths from the environment and the configuration from every layer,
    /// `flags` being the `--set KEY=VALUE` overrides.
    pub fn load(flags: &[String]) -> anyhow::Result<Self> {
        let paths = Self::paths()?;
        // Variables that are not UTF-8 cannot be configuration; leave them out.
        let environment =
            std::env::vars_os().filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)));
        let loaded = config::load(&paths, environment, flags)?;
        Ok(Self { paths, loaded })
    }

    /// The paths and the built-in defaults, for a person without admin rights
    /// asking the daemon through Self Service: the daemon uses its own
    /// configuration, and the files of this one may be root's alone to read, so
    /// they are not read (a permission error must not hide the daemon's answer).
    pub fn for_a_person() -> anyhow::Result<Self> {
        Ok(Self { paths: Self::paths()?, loaded: LoadedConfig::defaults() })
    }

    /// The paths alone, for verbs that need no configuration.
    pub fn paths() -> anyhow::Result<AgentPaths> {
        AgentPaths::from_environment().context("cannot resolve AGENT_ROOT")
    }

    /// Starts logging (into the log folder too when `to_files`), then reports the
    /// configuration's warnings through it. Logging that cannot start is not fatal.
    pub fn start_logging(&self, to_files: bool) -> Option<LogGuard> {
        let config = &self.loaded.config;
        let settings = LogSettings {
            root: self.paths.root.clone(),
            log_dir: to_files.then(|| self.paths.log_dir.clone()),
            retention_days: config.logs.retention_days,
            max_size: config.logs.max_size,
            level: config.logs.level,
            console_level: tracing::Level::WARN,
        };
        let guard = match logging::init(&settings) {
            Ok(guard) => Some(guard),
            Err(error) => {
                terminal::print_error(&format!("warning: logging is off: {error:#}"));
                None
            }
        };
        for warning in &self.loaded.warnings {
            tracing::warn!("{warning}");
        }
        guard
    }
}
