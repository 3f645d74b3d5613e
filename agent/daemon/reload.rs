//! Keeping the daemon's configuration current without a restart.
//!
//! The daemon reads its configuration at start, on SIGHUP, and before each
//! check-in it starts when a configuration source changed since the last read:
//! `config_file`, the drop-in folder (a fragment added, removed, renamed or
//! rewritten) or the managed preferences. So `agent enroll`, or an MDM profile
//! landing while the daemon runs, applies from the next check-in without a signal.
//!
//! Telling a change is cheap: the sources' modification times, sizes and inode
//! numbers and the drop-in folder's file names, compared with what they were at the
//! last read (a handful of `stat` calls, nothing parsed). A new configuration that
//! is broken is logged once and the one in use kept, as on SIGHUP; the next
//! change tries again. Environment variables and `--set` flags cannot change
//! while the daemon runs.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use tokio::sync::watch;

use crate::config::{AgentConfig, LoadedConfig};
use crate::paths::AgentPaths;

/// Reads the configuration again from every layer (files, profile, environment,
/// the daemon's own `--set` flags).
pub type Reload = Box<dyn Fn() -> anyhow::Result<LoadedConfig> + Send + Sync>;

/// Why the configuration is read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// The admin sent SIGHUP.
    Signal,
    /// A configuration source changed (seen before a check-in).
    SourceChanged,
}

/// What one configuration source looked like: enough to tell it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    path: PathBuf,
    /// `None`: absent (or unreadable, which the load reports).
    seen: Option<(Option<SystemTime>, u64, u64)>,
}

/// Every configuration source at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fingerprint(Vec<Stamp>);

impl Fingerprint {
    /// Looks at the sources under `paths` now.
    pub(crate) fn of(paths: &AgentPaths) -> Self {
        let mut stamps = vec![stamp(&paths.config_file), stamp(&paths.managed_preferences)];
        stamps.push(stamp(&paths.config_dropin_dir));
        let mut fragments: Vec<PathBuf> = std::fs::read_dir(&paths.config_dropin_dir)
            .map(|entries| entries.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect())
            .unwrap_or_default();
        fragments.sort();
        stamps.extend(fragments.iter().map(|fragment| stamp(fragment)));
        Fingerprint(stamps)
    }
}

fn stamp(path: &Path) -> Stamp {
    let seen = std::fs::metadata(path).ok().map(|metadata| (metadata.modified().ok(), metadata.len(), metadata.ino()));
    Stamp { path: path.to_path_buf(), seen }
}

/// The daemon's configuration and where it comes from; shared by the signal
/// handler and the scheduler.
pub(crate) struct ConfigSource {
    paths: AgentPaths,
    reload: Reload,
    current: Mutex<Current>,
    sender: watch::Sender<Arc<AgentConfig>>,
}

/// The configuration in use, as loaded, and the sources it was read from.
struct Current {
    loaded: LoadedConfig,
    fingerprint: Fingerprint,
}

impl ConfigSource {
    /// The configuration loaded at start; new ones go to `sender`.
    ///
    /// The sources are looked at now, a moment after `loaded` was read: a change
    /// in between is seen at the next change or SIGHUP.
    pub(crate) fn new(
        paths: AgentPaths,
        loaded: LoadedConfig,
        reload: Reload,
        sender: watch::Sender<Arc<AgentConfig>>,
    ) -> Self {
        let fingerprint = Fingerprint::of(&paths);
        ConfigSource { paths, reload, current: Mutex::new(Current { loaded, fingerprint }), sender }
    }

    /// Before a check-in: reads the configuration again if a source changed since
    /// the last read. Says whether a different configuration now applies.
    pub(crate) fn reload_if_changed(&self) -> bool {
        let mut current = self.lock();
        let fingerprint = Fingerprint::of(&self.paths);
        if fingerprint == current.fingerprint {
            return false;
        }
        self.reload_into(&mut current, fingerprint, Cause::SourceChanged)
    }

    /// Reads the configuration again (SIGHUP). Says whether a different
    /// configuration now applies.
    pub(crate) fn reload(&self, cause: Cause) -> bool {
        let mut current = self.lock();
        let fingerprint = Fingerprint::of(&self.paths);
        self.reload_into(&mut current, fingerprint, cause)
    }

    /// Loads; a broken configuration is logged and the one in use kept. The
    /// sources are taken as read either way, so a broken file is reported once.
    fn reload_into(&self, current: &mut Current, fingerprint: Fingerprint, cause: Cause) -> bool {
        current.fingerprint = fingerprint;
        let loaded = match (self.reload)() {
            Ok(loaded) => loaded,
            Err(error) => {
                let error = format!("{error:#}");
                match cause {
                    Cause::Signal => {
                        tracing::error!(error = %error, "SIGHUP: the new configuration is broken; keeping the one in use.")
                    }
                    Cause::SourceChanged => {
                        tracing::error!(error = %error, "A configuration file changed and the new configuration is broken; keeping the one in use.")
                    }
                }
                return false;
            }
        };
        loaded.log_warnings();
        if cause == Cause::SourceChanged && loaded.config == current.loaded.config {
            tracing::debug!("A configuration file changed; the configuration is the same.");
            current.loaded = loaded;
            return false;
        }
        let changed = changed_keys(&current.loaded, &loaded);
        if changed.iter().any(|key| key.starts_with("logs.")) {
            tracing::warn!("logs.* settings take effect when the daemon restarts.");
        }
        let changed_text = changed.join(", ");
        match cause {
            Cause::Signal => {
                tracing::info!(changed = %changed_text, "SIGHUP: configuration reloaded; it applies from the next check-in.")
            }
            Cause::SourceChanged => {
                tracing::info!(changed = %changed_text, "A configuration file changed; configuration reloaded for this check-in.")
            }
        }
        self.sender.send_replace(Arc::new(loaded.config.clone()));
        current.loaded = loaded;
        true
    }

    /// The lock; a panic while holding it leaves a usable configuration behind.
    fn lock(&self) -> MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The keys whose effective value differs between two loads, in key order.
fn changed_keys(before: &LoadedConfig, after: &LoadedConfig) -> Vec<String> {
    let old: std::collections::BTreeMap<String, String> =
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
    use std::time::Duration;

    use super::*;

    fn load(flags: &[&str]) -> LoadedConfig {
        let flags: Vec<String> = flags.iter().map(|flag| flag.to_string()).collect();
        crate::config::load(&AgentPaths::under(Path::new("/nonexistent")), [], &flags).unwrap()
    }

    #[test]
    fn a_reload_names_the_keys_it_changed() {
        let before = load(&["schedule.recurring_interval=2s"]);
        let after = load(&["schedule.recurring_interval=5s", "daemon.shutdown_timeout=9s"]);
        assert_eq!(changed_keys(&before, &after), ["daemon.shutdown_timeout", "schedule.recurring_interval"]);
        assert!(changed_keys(&after, &after).is_empty());
    }

    #[test]
    fn a_broken_configuration_on_sighup_keeps_the_one_in_use() {
        let folder = tempfile::tempdir().unwrap();
        let before = load(&["schedule.recurring_interval=2s"]);
        let (sender, receiver) = watch::channel(Arc::new(before.config.clone()));
        let broken: Reload = Box::new(|| anyhow::bail!("config.plist: schedule.recurring_interval: not a duration"));
        let source = ConfigSource::new(AgentPaths::under(folder.path()), before.clone(), broken, sender);
        assert!(!source.reload(Cause::Signal));
        assert!(!receiver.has_changed().unwrap());
        let (sender, receiver) = watch::channel(Arc::new(before.config.clone()));
        let fixed: Reload = Box::new(|| Ok(load(&["schedule.recurring_interval=7s"])));
        let source = ConfigSource::new(AgentPaths::under(folder.path()), before, fixed, sender);
        assert!(source.reload(Cause::Signal));
        assert_eq!(receiver.borrow().schedule.recurring_interval, Duration::from_secs(7));
    }

    /// A scratch device whose configuration the source reads from its real files.
    fn device() -> (tempfile::TempDir, AgentPaths, ConfigSource, watch::Receiver<Arc<AgentConfig>>) {
        let folder = tempfile::tempdir().unwrap();
        let paths = AgentPaths::under(folder.path());
        let loaded = crate::config::load(&paths, [], &[]).unwrap();
        let (sender, receiver) = watch::channel(Arc::new(loaded.config.clone()));
        let reading = paths.clone();
        let reload: Reload = Box::new(move || Ok(crate::config::load(&reading, [], &[])?));
        (folder, paths.clone(), ConfigSource::new(paths, loaded, reload, sender), receiver)
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn a_changed_source_is_read_again_and_an_unchanged_one_is_not() {
        let (_folder, paths, source, receiver) = device();
        assert!(!source.reload_if_changed(), "nothing changed");
        let fragment = paths.config_dropin_dir.join("50-enrollment.json");
        write(&fragment, r#"{"tenant": {"url": "http://127.0.0.1:9", "token": "t1"}}"#);
        assert!(source.reload_if_changed(), "a new fragment");
        assert_eq!(receiver.borrow().tenant.url.as_deref(), Some("http://127.0.0.1:9"));
        assert!(!source.reload_if_changed(), "read once");

        write(&fragment, r#"{"tenant": {"url": "http://127.0.0.1:9", "token": "t2-rotated"}}"#);
        assert!(source.reload_if_changed(), "a rewritten fragment, even when only the token differs");
        assert_eq!(
            receiver.borrow().tenant.token.as_ref().map(|token| token.expose().to_string()),
            Some("t2-rotated".into())
        );

        write(&paths.managed_preferences, "not a plist");
        assert!(!source.reload_if_changed(), "broken: the configuration in use is kept");
        assert_eq!(
            receiver.borrow().tenant.token.as_ref().map(|token| token.expose().to_string()),
            Some("t2-rotated".into())
        );
        assert!(!source.reload_if_changed(), "a broken source is reported once, not before every check-in");
        std::fs::remove_file(&paths.managed_preferences).unwrap();
        assert!(!source.reload_if_changed(), "fixed, and the same configuration as the one in use");
        write(&paths.config_dropin_dir.join("README.txt"), "a file the loader ignores");
        assert!(!source.reload_if_changed(), "read again, but nothing new applies");

        std::fs::remove_file(&fragment).unwrap();
        assert!(source.reload_if_changed(), "a removed fragment");
        assert_eq!(receiver.borrow().tenant.url, None);
    }
}
