//! What the daemon does on a signal: SIGTERM and SIGINT stop it (a second one:
//! stop now), SIGHUP reloads the configuration.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::{AgentConfig, LoadedConfig};

/// Reads the configuration again from every layer (files, profile, environment,
/// the daemon's own `--set` flags).
pub type Reload = Box<dyn Fn() -> anyhow::Result<LoadedConfig> + Send + Sync>;

/// The signals the daemon handles, registered before it starts serving so none
/// falls through to its default action (which would kill the daemon mid-run).
pub(crate) struct Signals {
    terminate: Signal,
    interrupt: Signal,
    hang_up: Signal,
}

impl Signals {
    /// Registers the handlers.
    pub(crate) fn install() -> std::io::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hang_up: signal(SignalKind::hangup())?,
        })
    }
}

/// Where signals lead.
pub(crate) struct Reactions {
    /// Cancelled by the first SIGTERM or SIGINT: stop gracefully.
    pub(crate) shutdown: CancellationToken,
    /// Cancelled by the second: stop now.
    pub(crate) stop_now: CancellationToken,
    /// Rebuilds the configuration on SIGHUP.
    pub(crate) reload: Reload,
    /// The configuration in use, as loaded (for saying what a reload changed).
    pub(crate) loaded: LoadedConfig,
    /// Where a reloaded configuration goes.
    pub(crate) config: watch::Sender<Arc<AgentConfig>>,
}

/// Reacts to signals until the daemon ends (the task is then dropped).
pub(crate) async fn watch(mut signals: Signals, mut reactions: Reactions) {
    loop {
        let name = tokio::select! {
            Some(()) = signals.terminate.recv() => "SIGTERM",
            Some(()) = signals.interrupt.recv() => "SIGINT",
            Some(()) = signals.hang_up.recv() => {
                reactions.reload_configuration();
                continue;
            }
            else => return,
        };
        if reactions.shutdown.is_cancelled() {
            tracing::warn!(signal = name, "Second stop signal: stopping now.");
            reactions.stop_now.cancel();
        } else {
            tracing::info!(signal = name, "Stopping: the running check-in, if any, is being stopped.");
            reactions.shutdown.cancel();
        }
    }
}

impl Reactions {
    /// Loads the configuration again; a broken one is logged and the one in use kept.
    fn reload_configuration(&mut self) {
        let loaded = match (self.reload)() {
            Ok(loaded) => loaded,
            Err(error) => {
                let error = format!("{error:#}");
                tracing::error!(error = %error, "SIGHUP: the new configuration is broken; keeping the one in use.");
                return;
            }
        };
        loaded.log_warnings();
        let changed = changed_keys(&self.loaded, &loaded);
        if changed.iter().any(|key| key.starts_with("logs.")) {
            tracing::warn!("SIGHUP: logs.* settings take effect when the daemon restarts.");
        }
        tracing::info!(changed = %changed.join(", "), "SIGHUP: configuration reloaded; it applies from the next check-in.");
        self.config.send_replace(Arc::new(loaded.config.clone()));
        self.loaded = loaded;
    }
}

/// The keys whose effective value differs between two loads, in key order.
fn changed_keys(before: &LoadedConfig, after: &LoadedConfig) -> Vec<String> {
    let old: BTreeMap<String, String> =
        before.effective_values().into_iter().map(|value| (value.key, value.value_text)).collect();
    after
        .effective_values()
        .into_iter()
        .filter(|value| old.get(&value.key) != Some(&value.value_text))
        .map(|value| value.key)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::AgentPaths;

    fn load(flags: &[&str]) -> LoadedConfig {
        let flags: Vec<String> = flags.iter().map(|flag| flag.to_string()).collect();
        crate::config::load(&AgentPaths::under(std::path::Path::new("/nonexistent")), [], &flags).unwrap()
    }

    #[test]
    fn a_reload_names_the_keys_it_changed() {
        let before = load(&["schedule.recurring_interval=2s"]);
        let after = load(&["schedule.recurring_interval=5s", "daemon.shutdown_timeout=9s"]);
        assert_eq!(changed_keys(&before, &after), ["daemon.shutdown_timeout", "schedule.recurring_interval"]);
        assert!(changed_keys(&after, &after).is_empty());
    }

    #[tokio::test]
    async fn a_broken_configuration_keeps_the_one_in_use() {
        let before = load(&["schedule.recurring_interval=2s"]);
        let (sender, receiver) = watch::channel(Arc::new(before.config.clone()));
        let mut reactions = Reactions {
            shutdown: CancellationToken::new(),
            stop_now: CancellationToken::new(),
            reload: Box::new(|| anyhow::bail!("config.plist: schedule.recurring_interval: not a duration")),
            loaded: before.clone(),
            config: sender,
        };
        reactions.reload_configuration();
        assert!(!receiver.has_changed().unwrap());
        reactions.reload = Box::new(|| Ok(load(&["schedule.recurring_interval=7s"])));
        reactions.reload_configuration();
        assert_eq!(receiver.borrow().schedule.recurring_interval, std::time::Duration::from_secs(7));
    }
}
