//! The last inventory, kept at `state/inventory.json` (root-only, replaced
//! atomically), and the cheap facts a check-in sends before any inventory runs.
//!
//! The saved file is the inventory exactly as sent, `collected_at` included, so
//! the check-in body and `agent doctor` (its age) read it without collecting.

use std::path::PathBuf;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::ioreg::parse_ioreg;
use super::linux::read_linux_facts;
use super::model::Inventory;
use super::platform::Platform;
use super::tool::{ToolError, ToolRunner};
use crate::config::AgentConfig;
use crate::operating_system::{parse_os_release, parse_sw_vers};
use crate::paths::AgentPaths;
use crate::structured_input::{self, InputKind, InputProblem, StructuredInputError};

/// The longest the check-in waits for `sw_vers` or `ioreg` before its `checkin`.
const CHEAP_TOOL_LIMIT: Duration = Duration::from_secs(10);

/// Why the saved inventory could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SavedInventoryError {
    /// The state folder could not be created or secured.
    #[error(transparent)]
    Folder(#[from] crate::state::StoreError),
    /// The file or its folder could not be written or read.
    #[error("cannot {action} the inventory at {}", path.display())]
    Io {
        /// `save` or `read`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file holds something else than an inventory.
    #[error("the inventory at {} cannot be read", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The file is not an inventory, or over the limits of `structured_input`.
    #[error("the inventory at {} cannot be read", path.display())]
    Refused {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: StructuredInputError,
    },
}

/// Replaces the saved inventory with `inventory`.
pub fn save(paths: &AgentPaths, inventory: &Inventory) -> Result<(), SavedInventoryError> {
    let path = &paths.saved_inventory;
    let failed = |source| SavedInventoryError::Io { action: "save", path: path.clone(), source };
    crate::state::create_private_folder(&paths.root, &paths.state_dir)?;
    let bytes = serde_json::to_vec_pretty(inventory)
        .map_err(|source| SavedInventoryError::Malformed { path: path.clone(), source })?;
    crate::atomic_file::replace_private(&paths.root, path, &bytes).map_err(|error| failed(error.into()))
}

/// The saved inventory; `None` when none was saved yet.
pub fn load(paths: &AgentPaths) -> Result<Option<Inventory>, SavedInventoryError> {
    let path = &paths.saved_inventory;
    match structured_input::read_json_file(path, InputKind::AgentState) {
        Ok(inventory) => Ok(Some(inventory)),
        Err(error) => match error.problem {
            InputProblem::Unreadable(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            InputProblem::Unreadable(source) => {
                Err(SavedInventoryError::Io { action: "read", path: path.clone(), source })
            }
            _ => Err(SavedInventoryError::Refused { path: path.clone(), source: error }),
        },
    }
}

/// Collects the inventory (see [`collect`](super::collect)), logs how it went,
/// and saves it as the last inventory. Never fails: a file that cannot be
/// written is logged, and the inventory is still returned to be sent.
pub async fn collect_and_save(
    paths: &AgentPaths,
    config: &AgentConfig,
    platform: Platform,
    cancel: &CancellationToken,
) -> Inventory {
    let started = std::time::Instant::now();
    let inventory = super::collect(config, &paths.root, platform, cancel).await;
    for error in &inventory.errors {
        tracing::warn!(collector = %error.collector, error = %error.message, "An inventory collector failed; the inventory is partial.");
    }
    tracing::info!(
        applications = inventory.applications.len(),
        profiles = inventory.profiles.len(),
        failed_collectors = inventory.errors.len(),
        duration_ms = started.elapsed().as_millis() as u64,
        "Inventory collected."
    );
    if let Err(error) = save(paths, &inventory) {
        tracing::error!(error = %error, "Cannot save the inventory.");
    }
    inventory
}

/// What the `checkin` request says about the device before any inventory runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CheapFacts {
    /// The serial number, or empty.
    pub(crate) serial_number: String,
    /// The OS version (`14.6.1`), or empty.
    pub(crate) os_version: String,
}

/// The serial number (saved inventory, else `ioreg`, else DMI) and the OS
/// version (`sw_vers`, else `os-release`, else the saved inventory): quick
/// enough for the start of every check-in.
pub(crate) async fn cheap_facts(paths: &AgentPaths, config: &AgentConfig, platform: Platform) -> CheapFacts {
    let saved = load(paths).unwrap_or_else(|error| {
        tracing::warn!(error = %error, "Cannot read the saved inventory.");
        None
    });
    let runner = ToolRunner {
        deadline: Instant::now() + CHEAP_TOOL_LIMIT.min(config.inventory.collector_timeout),
        grace: config.timeouts.termination_grace,
        cancel: CancellationToken::new(),
        current_dir: paths.root.clone(),
    };
    let linux = || (platform == Platform::Other).then(|| read_linux_facts(&paths.root));
    let mut serial_number = saved.as_ref().and_then(|inventory| inventory.device.serial_number.clone());
    if serial_number.is_none() {
        let output = runner.output(&config.commands.ioreg, &["-rd1", "-c", "IOPlatformExpertDevice"]).await;
        serial_number = output.ok().and_then(|output| parse_ioreg(&output).ok()?.serial_number);
    }
    let serial_number = serial_number.or_else(|| linux()?.serial_number);
    let os_version = match runner.output(&config.commands.sw_vers, &[]).await {
        Ok(output) => parse_sw_vers(&output).ok().map(|os| os.version.as_str().to_string()),
        Err(ToolError::Missing { .. }) if platform == Platform::Other => {
            let text = std::fs::read_to_string(paths.root.join("etc/os-release")).ok();
            text.and_then(|text| parse_os_release(&text).ok()).map(|os| os.version.as_str().to_string())
        }
        Err(_) => None,
    };
    let os_version = os_version.or_else(|| saved.and_then(|inventory| inventory.operating_system.version));
    CheapFacts { serial_number: serial_number.unwrap_or_default(), os_version: os_version.unwrap_or_default() }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::inventory::model::Device;

    #[test]
    fn the_saved_inventory_round_trips_owner_only() {
        let root = tempfile::tempdir().unwrap();
        let paths = AgentPaths::under(root.path());
        assert!(load(&paths).unwrap().is_none());
        let inventory = Inventory {
            device: Device { serial_number: Some("C02FK3ZXQ6L4".into()), ..Device::default() },
            ..Inventory::default()
        };
        save(&paths, &inventory).unwrap();
        assert_eq!(load(&paths).unwrap(), Some(inventory));
        let mode = std::fs::metadata(&paths.saved_inventory).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(&paths.saved_inventory, "{").unwrap();
        assert!(matches!(load(&paths), Err(SavedInventoryError::Refused { .. })));
    }

    #[tokio::test]
    async fn cheap_facts_come_from_the_saved_inventory_and_the_os_tools() {
        let root = tempfile::tempdir().unwrap();
        let paths = AgentPaths::under(root.path());
        let mut config = AgentConfig::default();
        config.commands.sw_vers = root.path().join("missing/sw_vers");
        config.commands.ioreg = root.path().join("missing/ioreg");
        assert_eq!(cheap_facts(&paths, &config, Platform::Other).await, CheapFacts::default());
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(root.path().join("etc/os-release"), "NAME=Debian\nVERSION_ID=\"12\"\n").unwrap();
        let saved = Inventory {
            device: Device { serial_number: Some("SERIAL-1".into()), ..Device::default() },
            ..Inventory::default()
        };
        save(&paths, &saved).unwrap();
        let facts = cheap_facts(&paths, &config, Platform::Other).await;
        assert_eq!((facts.serial_number.as_str(), facts.os_version.as_str()), ("SERIAL-1", "12"));
        let sw_vers = root.path().join("sw_vers");
        std::fs::write(&sw_vers, "#!/bin/sh\nprintf 'ProductName:\\tmacOS\\nProductVersion:\\t14.6.1\\n'\n").unwrap();
        std::fs::set_permissions(&sw_vers, std::fs::Permissions::from_mode(0o755)).unwrap();
        config.commands.sw_vers = sw_vers;
        assert_eq!(cheap_facts(&paths, &config, Platform::Mac).await.os_version, "14.6.1");
    }
}
