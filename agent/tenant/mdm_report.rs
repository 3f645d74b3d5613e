//! The MDM daily check-in's report (`agent update-mdm`): spooled like every
//! report, then the spool is sent at once. A tenant that is down leaves it in
//! the spool, and the next check-in (or `update-mdm`) sends it; the tenant
//! de-duplicates by `report_id`.

use chrono::{DateTime, Utc};

use crate::config::AgentConfig;
use crate::paths::AgentPaths;
use crate::state::{Store, StoreError};

/// Where MDM responses go.
const MDM_PATH: &str = "/api/v1/agent/mdm";

/// What became of an MDM report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// No tenant is configured: nothing was spooled.
    NoTenant,
    /// The tenant accepted it.
    Sent,
    /// It waits in the spool.
    Waiting {
        /// Why the last attempt failed.
        reason: Option<String>,
        /// When it is tried again (`None`: at the next check-in).
        next_attempt_at: Option<DateTime<Utc>>,
    },
    /// The tenant refused it for good: kept aside, never sent again.
    Parked {
        /// The tenant's answer.
        reason: String,
    },
}

/// Spools `body` (the report `report_id` as JSON) when a tenant is configured,
/// sends the spool, and says where the report stands.
pub(crate) async fn deliver_mdm(
    paths: &AgentPaths,
    config: &AgentConfig,
    store: &Store,
    report_id: &str,
    body: &str,
) -> Result<Delivery, StoreError> {
    if config.tenant.url.is_none() {
        return Ok(Delivery::NoTenant);
    }
    store.spool_add(report_id, MDM_PATH, body, Utc::now())?;
    tracing::info!(report_id = %report_id, "MDM responses spooled for the tenant.");
    super::spool_delivery::flush_now(paths, config, store).await;
    Ok(match store.spool_entry(report_id)? {
        None => Delivery::Sent,
        Some(entry) if entry.parked => Delivery::Parked { reason: entry.last_error.unwrap_or_default() },
        Some(entry) => Delivery::Waiting { reason: entry.last_error, next_attempt_at: entry.next_attempt_at },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_a_tenant_nothing_is_spooled_and_a_dead_one_keeps_the_report_waiting() {
        let folder = tempfile::tempdir().unwrap();
        let paths = AgentPaths::under(folder.path());
        let store = Store::open(&paths.store_file).unwrap();
        let mut config = AgentConfig::default();
        assert_eq!(deliver_mdm(&paths, &config, &store, "r-1", "{}").await.unwrap(), Delivery::NoTenant);
        assert_eq!(store.spool_counts().unwrap(), (0, 0));

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        config.tenant.url = Some(format!("http://{}", listener.local_addr().unwrap()));
        drop(listener);
        let delivery = deliver_mdm(&paths, &config, &store, "r-1", "{}").await.unwrap();
        let Delivery::Waiting { reason, next_attempt_at } = delivery else { panic!("{delivery:?}") };
        assert!(reason.is_some_and(|reason| reason.contains("could not be reached")));
        assert!(next_attempt_at.is_some_and(|at| at > Utc::now()));
        let spooled = store.spool_due(Utc::now(), true).unwrap();
        assert_eq!((spooled[0].report_id.as_str(), spooled[0].path.as_str()), ("r-1", MDM_PATH));
    }
}
