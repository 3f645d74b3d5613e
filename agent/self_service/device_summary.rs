//! Device Info: the few facts a person at the Mac is asked for when they call
//! the help desk, and how the last check-in went.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::AgentConfig;
use crate::inventory::{self, Platform};
use crate::paths::AgentPaths;
use crate::state::{RunOutcome, Store};

/// What the Device Info panel shows; a fact nobody could read is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSummary {
    /// The computer's name (the last inventory's, else the host name).
    pub computer_name: Option<String>,
    /// The serial number.
    pub serial_number: Option<String>,
    /// The model (`MacBook Pro`), with its identifier when known.
    pub model: Option<String>,
    /// The OS version (`14.6.1`).
    pub os_version: Option<String>,
    /// When the last check-in (recurring or daily) ended.
    pub last_checkin: Option<DateTime<Utc>>,
    /// How it ended.
    pub last_outcome: Option<RunOutcome>,
    /// The name of the blueprint this Mac follows.
    pub blueprint_name: Option<String>,
}

/// Reads the summary from the last inventory, the store and the blueprint, with
/// the cheap facts (`sw_vers`, `ioreg`) where no inventory was saved yet. Never
/// fails: what cannot be read is logged and left out.
pub async fn device_summary(paths: &AgentPaths, config: &AgentConfig) -> DeviceSummary {
    let saved = inventory::load(paths).unwrap_or_else(|error| {
        tracing::warn!(error = %error, "Cannot read the saved inventory for Device Info.");
        None
    });
    let mut summary = DeviceSummary::default();
    if let Some(saved) = &saved {
        let device = &saved.device;
        summary.computer_name = device.device_name.clone().or_else(|| device.hostname.clone());
        summary.serial_number = device.serial_number.clone();
        summary.model = match (&device.model, &device.model_identifier) {
            (Some(model), Some(identifier)) => Some(format!("{model} ({identifier})")),
            (model, identifier) => model.clone().or_else(|| identifier.clone()),
        };
        summary.os_version = saved.operating_system.version.clone();
    }
    if summary.serial_number.is_none() || summary.os_version.is_none() {
        let facts = inventory::cheap_facts(paths, config, Platform::current()).await;
        summary.serial_number = summary.serial_number.or_else(|| non_empty(facts.serial_number));
        summary.os_version = summary.os_version.or_else(|| non_empty(facts.os_version));
    }
    if summary.computer_name.is_none() {
        summary.computer_name = nix::unistd::gethostname().ok().and_then(|name| name.into_string().ok());
    }
    match Store::open_existing(&paths.store_file)
        .and_then(|store| store.map(|store| store.latest_finished_checkin()).transpose())
    {
        Ok(run) => {
            let run = run.flatten();
            summary.last_checkin = run.as_ref().and_then(|run| run.header.finished_at);
            summary.last_outcome = run.and_then(|run| run.header.outcome);
        }
        Err(error) => tracing::warn!(error = %error, "Cannot read the last check-in for Device Info."),
    }
    let blueprint = crate::blueprint::checkin_blueprint_path(paths, config);
    if blueprint.exists() {
        match crate::blueprint::load(&blueprint) {
            Ok(loaded) => summary.blueprint_name = Some(loaded.blueprint.name),
            Err(error) => tracing::warn!(error = %error, "Cannot read the blueprint's name for Device Info."),
        }
    }
    summary
}

/// `text`, unless it is empty.
fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Device, Inventory, OperatingSystem};
    use crate::plan::CheckinKind;
    use crate::state::{Drift, RunRecord, Trigger};

    #[tokio::test]
    async fn device_info_comes_from_the_inventory_the_last_checkin_and_the_blueprint() {
        let root = tempfile::tempdir().unwrap();
        let paths = AgentPaths::under(root.path());
        let inventory = Inventory {
            device: Device {
                device_name: Some("Ada's MacBook".into()),
                serial_number: Some("C02FK3ZXQ6L4".into()),
                model: Some("MacBook Pro".into()),
                model_identifier: Some("Mac15,3".into()),
                ..Device::default()
            },
            operating_system: OperatingSystem { version: Some("14.6.1".into()), ..OperatingSystem::default() },
            ..Inventory::default()
        };
        inventory::save(&paths, &inventory).unwrap();
        let store = Store::open(&paths.store_file).unwrap();
        let daily = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let install = daily + chrono::Duration::minutes(5);
        for (id, kind, at, outcome) in [
            ("daily", CheckinKind::Daily, daily, RunOutcome::Succeeded),
            ("install", CheckinKind::SelfService, install, RunOutcome::Failed),
        ] {
            store.begin_run(&RunRecord::begun(id, kind, Trigger::SelfService, at), 0).unwrap();
            store.finish_run(id, at, outcome, &Drift::default()).unwrap();
        }
        std::fs::write(&paths.saved_blueprint, r#"{"id": "bp-1", "name": "Engineering", "library_items": []}"#)
            .unwrap();

        let summary = device_summary(&paths, &AgentConfig::default()).await;
        assert_eq!(
            summary,
            DeviceSummary {
                computer_name: Some("Ada's MacBook".into()),
                serial_number: Some("C02FK3ZXQ6L4".into()),
                model: Some("MacBook Pro (Mac15,3)".into()),
                os_version: Some("14.6.1".into()),
                last_checkin: Some(daily),
                last_outcome: Some(RunOutcome::Succeeded),
                blueprint_name: Some("Engineering".into()),
            },
            "a Self Service install is not the last check-in"
        );
    }

    #[tokio::test]
    async fn a_device_that_never_checked_in_still_has_a_name() {
        let root = tempfile::tempdir().unwrap();
        let summary = device_summary(&AgentPaths::under(root.path()), &AgentConfig::default()).await;
        assert!(summary.computer_name.is_some());
        assert_eq!((summary.last_checkin, summary.blueprint_name), (None, None));
    }
}
