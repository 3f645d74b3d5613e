//! Drift: how this device differs from what its tenant expects, in the four kinds
//! a fleet console acts on (`CONTRACT.md`, "OpenTelemetry"), and the run's count of
//! re-applied items.
//!
//! | kind | holds when |
//! | --- | --- |
//! | `outdated_client` | this agent's version is below the blueprint's `minimum_agent_version`, or the one the tenant's check-in reply names |
//! | `missing_policy` | no blueprint has arrived, or it lacks a required policy attribute (`id`, `team_id`) |
//! | `stale_token` | three check-ins in a row ended in `401`, until a request succeeds (the tenant session counts) |
//! | `store_rebuilt` | the state store was found damaged and rebuilt, until a later daily check-in ends (`state::rebuild`) |
//!
//! The drift of a run also counts its items that wait on the person at the Mac,
//! `deferred` and `waiting_for_user` (counted when the run ends, see `run_end`):
//! they are shown by `agent status` and exported as the check-in's counters
//! `agent.checkin.deferred` and `agent.checkin.waiting_for_user`, not as kinds
//! of the `agent.drift` gauge, whose kinds above are 0/1 flags. Neither is
//! `reapplied`, the items (and parameters) found out of compliance and re-applied
//! in the run: `agent status` shows it under `drift`, and the counter
//! `agent.checkin.reapplied` exports it.
//!
//! The same values go to `agent status --json` (under `drift`) and to the
//! `agent.drift` gauge, so the console and the device never disagree. The drift
//! last reported is kept in the store, so a change is told once, as it happens.

use crate::blueprint::Blueprint;
use crate::state::{Drift, DriftKind, Store};

/// Where the drift last reported is kept, in the store's `device` key-value table,
/// so a change is told once even across check-ins that record no run.
const REPORTED_DRIFT_KEY: &str = "reported_drift";

/// The drift a blueprint (or its absence) shows before anything runs, for an agent
/// of version `ours`, with the minimum the tenant's check-in reply named if any;
/// `stale_token`, `store_rebuilt` and `reapplied` are filled in by the run.
pub(crate) fn policy_drift(
    blueprint: Option<&Blueprint>,
    tenant_minimum: Option<&semver::Version>,
    ours: &semver::Version,
) -> Drift {
    let blueprint_minimum = blueprint.and_then(|blueprint| blueprint.minimum_agent_version.as_ref());
    let outdated_client = [blueprint_minimum, tenant_minimum].into_iter().flatten().any(|minimum| ours < minimum);
    let missing_policy = blueprint.is_none_or(|blueprint| {
        let required = [Some(blueprint.id.as_str()), blueprint.team_id.as_deref()];
        required.iter().any(|attribute| attribute.is_none_or(|text| text.trim().is_empty()))
    });
    Drift { outdated_client, missing_policy, ..Drift::default() }
}

/// This agent's version, as the drift compares it.
pub(crate) fn agent_version() -> semver::Version {
    semver::Version::parse(env!("CARGO_PKG_VERSION")).expect("the package version is semver")
}

/// The kinds whose value differs between `previous` (the last recorded run's
/// drift, or none on a device's first run) and `now`, with both values.
pub(crate) fn changes(previous: Option<&Drift>, now: &Drift) -> Vec<(DriftKind, u64, u64)> {
    let previous = previous.cloned().unwrap_or_default();
    DriftKind::ALL
        .into_iter()
        .map(|kind| (kind, kind.value(&previous), kind.value(now)))
        .filter(|(_, was, is)| was != is)
        .collect()
}

/// The drift last reported on this device, if any (and readable).
pub(crate) fn last_reported(store: &Store) -> Option<Drift> {
    let text = store.tenant_value(REPORTED_DRIFT_KEY).ok().flatten()?;
    serde_json::from_str(&text).ok()
}

/// Keeps `drift` as the drift last reported. A store that cannot save it costs
/// only a repeated change event next time.
pub(crate) fn remember(store: &Store, drift: &Drift) {
    let saved = serde_json::to_string(drift)
        .map_err(anyhow::Error::from)
        .and_then(|text| Ok(store.set_tenant_value(REPORTED_DRIFT_KEY, Some(&text))?));
    if let Err(error) = saved {
        let error = format!("{error:#}");
        tracing::warn!(error = %error, "Cannot save the drift just reported.");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::Parameters;

    fn blueprint(id: &str, team_id: Option<&str>, minimum: Option<&str>) -> Blueprint {
        Blueprint {
            id: id.to_string(),
            name: "Engineering".to_string(),
            team_id: team_id.map(str::to_string),
            minimum_agent_version: minimum.map(|text| semver::Version::parse(text).unwrap()),
            parameters: Parameters::default(),
            library_items: Vec::new(),
        }
    }

    #[test]
    fn drift_follows_the_blueprint_as_the_contract_defines_it() {
        let ours = semver::Version::parse("1.2.3").unwrap();
        // (blueprint, outdated_client, missing_policy)
        let cases = [
            (None, false, true),
            (Some(blueprint("bp", Some("T-1"), None)), false, false),
            (Some(blueprint("bp", None, None)), false, true),
            (Some(blueprint("bp", Some(" "), None)), false, true),
            (Some(blueprint("", Some("T-1"), None)), false, true),
            (Some(blueprint("bp", Some("T-1"), Some("1.2.3"))), false, false),
            (Some(blueprint("bp", Some("T-1"), Some("1.2.4"))), true, false),
            (Some(blueprint("bp", Some("T-1"), Some("2.0.0"))), true, false),
            (Some(blueprint("bp", Some("T-1"), Some("1.2.3-rc.1"))), false, false),
            (Some(blueprint("bp", Some("T-1"), Some("0.9.0"))), false, false),
            (Some(blueprint("bp", None, Some("9.0.0"))), true, true),
        ];
        for (blueprint, outdated_client, missing_policy) in cases {
            let drift = policy_drift(blueprint.as_ref(), None, &ours);
            let expected = Drift { outdated_client, missing_policy, ..Drift::default() };
            assert_eq!(drift, expected, "{blueprint:?}");
        }
    }

    #[test]
    fn the_tenant_s_minimum_makes_the_client_outdated_as_the_blueprint_s_does() {
        let ours = semver::Version::parse("1.2.3").unwrap();
        let version = |text: &str| semver::Version::parse(text).unwrap();
        // (blueprint's minimum, tenant's minimum, outdated_client)
        let cases = [
            (None, Some("1.2.4"), true),
            (None, Some("1.2.3"), false),
            (Some("1.0.0"), Some("2.0.0"), true),
            (Some("2.0.0"), Some("1.0.0"), true),
            (Some("1.0.0"), Some("1.1.0"), false),
            (None, None, false),
        ];
        for (blueprint_minimum, tenant_minimum, outdated_client) in cases {
            let policy = blueprint("bp", Some("T-1"), blueprint_minimum);
            let drift = policy_drift(Some(&policy), tenant_minimum.map(version).as_ref(), &ours);
            assert_eq!(drift.outdated_client, outdated_client, "{blueprint_minimum:?} {tenant_minimum:?}");
        }
    }

    #[test]
    fn kinds_have_the_contract_names_and_values() {
        let drift = Drift { outdated_client: true, stale_token: true, reapplied: 3, ..Drift::default() };
        let named: Vec<_> = DriftKind::ALL.iter().map(|kind| (kind.as_str(), kind.value(&drift))).collect();
        let expected = [("outdated_client", 1), ("missing_policy", 0), ("stale_token", 1), ("store_rebuilt", 0)];
        assert_eq!(named, expected, "flags only: the re-applied count is no kind");
        let rebuilt = Drift { store_rebuilt: true, ..Drift::default() };
        assert_eq!(DriftKind::StoreRebuilt.value(&rebuilt), 1);
    }

    #[test]
    fn changes_name_each_kind_whose_value_moved() {
        let before = Drift { outdated_client: true, reapplied: 2, ..Drift::default() };
        let after = Drift { stale_token: true, reapplied: 5, ..Drift::default() };
        assert_eq!(changes(Some(&before), &after), [(DriftKind::OutdatedClient, 1, 0), (DriftKind::StaleToken, 0, 1)]);
        assert!(changes(Some(&after), &after).is_empty());
        let first = Drift { missing_policy: true, ..Drift::default() };
        assert_eq!(changes(None, &first), [(DriftKind::MissingPolicy, 0, 1)], "a first run reports what holds");
    }

    #[test]
    fn the_drift_last_reported_survives_in_the_store() {
        let (_folder, store) = Store::scratch();
        assert_eq!(last_reported(&store), None);
        let drift =
            Drift { outdated_client: true, stale_token: true, reapplied: 4, store_rebuilt: true, ..Drift::default() };
        remember(&store, &drift);
        assert_eq!(last_reported(&store), Some(drift));
    }

    #[test]
    fn the_agent_version_is_the_package_version() {
        assert_eq!(agent_version().to_string(), env!("CARGO_PKG_VERSION"));
    }
}
