//! Where the agent keeps everything on disk.
//!
//! One layout, the macOS one, for every platform. `AGENT_ROOT=DIR` moves the whole
//! tree under `DIR` (tests, scratch check-ins, and packaging checks rely on it), so
//! nothing outside `DIR` is read or written by the agent itself.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// The launchd label and preferences domain.
pub const DOMAIN: &str = "io.endpointagent.agent";

/// Where the package installs the binary, as launchd's job names it. The job file
/// always names this path: launchd knows nothing of `AGENT_ROOT`.
pub const INSTALLED_BINARY: &str = "/usr/local/bin/agent";

/// The environment variable that moves every path under another folder.
pub const ROOT_VARIABLE: &str = "AGENT_ROOT";

/// Every path the agent reads or writes, already placed under the root.
#[derive(Debug, Clone, Serialize)]
pub struct AgentPaths {
    /// The folder everything lives under: `/`, or `AGENT_ROOT`.
    pub root: PathBuf,
    /// The admin's own configuration plist.
    pub config_file: PathBuf,
    /// Drop-in fragments (`*.plist`, `*.json`) merged in byte order of file name.
    pub config_dropin_dir: PathBuf,
    /// The plist an MDM configuration profile writes for our domain.
    pub managed_preferences: PathBuf,
    /// The agent's own state: the SQLite store, the check-in lock, scripts.
    pub state_dir: PathBuf,
    /// Rotated log files.
    pub log_dir: PathBuf,
    /// The daemon's control socket.
    pub socket: PathBuf,
    /// Reports waiting for the tenant.
    pub spool_dir: PathBuf,
    /// Downloads, checked against their sha256 before use.
    pub download_cache: PathBuf,
    /// Where custom scripts are written before they run (root-only, 0700).
    pub scripts_dir: PathBuf,
    /// The SQLite file holding runs, item results and device markers.
    pub store_file: PathBuf,
    /// The lock file that keeps check-ins one at a time.
    pub checkin_lock: PathBuf,
    /// The last blueprint received, used when the tenant cannot be reached.
    pub saved_blueprint: PathBuf,
    /// The last inventory collected (root-only), with its collection time.
    pub saved_inventory: PathBuf,
    /// The device token the tenant issued at enrollment (and the previous one
    /// during a rotation's grace request): root-only, 0600.
    pub device_token: PathBuf,
    /// The Applications folder apps are installed into and inventoried from.
    pub applications_dir: PathBuf,
    /// The agent binary the package installs and launchd starts ([`INSTALLED_BINARY`]).
    pub agent_binary: PathBuf,
    /// The launchd job that starts `agent daemon` at boot.
    pub launchd_plist: PathBuf,
    /// Exists (root-only) while the agent runs `installer` on its own package:
    /// the package's scripts then leave launchd alone, since stopping the daemon
    /// would cut the install short (see `self_update::marker`).
    pub agent_update_marker: PathBuf,
}

impl AgentPaths {
    /// The layout under `root` (`/` on a managed Mac).
    pub fn under(root: &Path) -> Self {
        let at = |relative: &str| root.join(relative);
        let support = at("Library/Application Support/EndpointAgent");
        let state_dir = support.join("state");
        Self {
            root: root.to_path_buf(),
            config_file: support.join("config.plist"),
            config_dropin_dir: support.join("config.d"),
            managed_preferences: at("Library/Managed Preferences").join(format!("{DOMAIN}.plist")),
            socket: at("var/run").join(format!("{DOMAIN}.sock")),
            log_dir: at("Library/Logs/EndpointAgent"),
            spool_dir: state_dir.join("spool"),
            download_cache: state_dir.join("downloads"),
            scripts_dir: state_dir.join("scripts"),
            store_file: state_dir.join("agent.sqlite3"),
            checkin_lock: state_dir.join("checkin.lock"),
            saved_blueprint: state_dir.join("blueprint.json"),
            saved_inventory: state_dir.join("inventory.json"),
            device_token: state_dir.join("device-token.json"),
            applications_dir: at("Applications"),
            agent_binary: at(INSTALLED_BINARY.trim_start_matches('/')),
            launchd_plist: at("Library/LaunchDaemons").join(format!("{DOMAIN}.plist")),
            agent_update_marker: state_dir.join("agent-update.pending"),
            state_dir,
        }
    }

    /// The layout for this process: under `AGENT_ROOT` when it is set and not
    /// empty, else under `/`. A relative `AGENT_ROOT` is taken from the current
    /// folder so every path printed is absolute.
    pub fn from_environment() -> std::io::Result<Self> {
        match std::env::var_os(ROOT_VARIABLE).filter(|value| !value.is_empty()) {
            Some(root) => Ok(Self::under(&std::path::absolute(PathBuf::from(root))?)),
            None => Ok(Self::under(Path::new("/"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_lives_under_the_root() {
        let paths = AgentPaths::under(Path::new("/scratch/root"));
        let value = serde_json::to_value(&paths).unwrap();
        for (key, path) in value.as_object().unwrap() {
            assert!(path.as_str().unwrap().starts_with("/scratch/root"), "{key} escapes the root: {path}");
        }
    }

    #[test]
    fn the_real_layout_is_the_macos_one() {
        let paths = AgentPaths::under(Path::new("/"));
        assert_eq!(paths.managed_preferences, Path::new("/Library/Managed Preferences/io.endpointagent.agent.plist"));
        assert_eq!(paths.socket, Path::new("/var/run/io.endpointagent.agent.sock"));
        assert_eq!(paths.agent_binary, Path::new("/usr/local/bin/agent"));
        assert_eq!(paths.launchd_plist, Path::new("/Library/LaunchDaemons/io.endpointagent.agent.plist"));
    }
}
