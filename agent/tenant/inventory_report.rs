//! When the inventory goes to the tenant, and how it is spooled.
//!
//! The daily check-in always sends one; an `updateinventory` command makes the
//! check-in it arrived in send one too. The request is kept in the store until
//! an inventory is spooled, so a crash in between does not lose it.

use chrono::Utc;

use super::protocol::InventoryBody;
use crate::inventory::Inventory;
use crate::plan::CheckinKind;
use crate::state::{Store, StoreError};

/// Where inventory goes.
const INVENTORY_PATH: &str = "/api/v1/agent/inventory";

/// Set by `updateinventory` until an inventory is spooled.
const INVENTORY_REQUESTED_KEY: &str = "tenant_inventory_requested";

/// Whether this check-in collects and sends inventory after its items: the
/// daily one always, any other when the tenant asked (`updateinventory`).
pub(crate) fn inventory_due(store: &Store, kind: CheckinKind) -> bool {
    kind == CheckinKind::Daily || store.tenant_value(INVENTORY_REQUESTED_KEY).ok().flatten().is_some()
}

/// Notes the tenant's `updateinventory`.
pub(super) fn request_inventory(store: &Store) -> Result<(), StoreError> {
    store.set_tenant_value(INVENTORY_REQUESTED_KEY, Some(&crate::state::time_text(Utc::now())))
}

/// Writes the inventory into the spool under a new report id (after the run's
/// results, so it goes out after them), and forgets the request it answers.
pub(super) fn spool_inventory(store: &Store, inventory: &Inventory) -> anyhow::Result<String> {
    let device_id = store.device_id()?;
    let report_id = uuid::Uuid::now_v7().to_string();
    let body = serde_json::to_string(&InventoryBody { device_id: &device_id, report_id: &report_id, inventory })?;
    store.spool_add(&report_id, INVENTORY_PATH, &body, Utc::now())?;
    store.set_tenant_value(INVENTORY_REQUESTED_KEY, None)?;
    Ok(report_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_holds_until_an_inventory_is_spooled() {
        let (_folder, store) = Store::scratch();
        assert!(inventory_due(&store, CheckinKind::Daily));
        assert!(!inventory_due(&store, CheckinKind::Recurring));
        request_inventory(&store).unwrap();
        assert!(inventory_due(&store, CheckinKind::Recurring));
        let report_id = spool_inventory(&store, &Inventory::default()).unwrap();
        assert!(!inventory_due(&store, CheckinKind::Recurring));
        let spooled = store.spool_due(Utc::now(), true).unwrap();
        assert_eq!((spooled[0].report_id.as_str(), spooled[0].path.as_str()), (report_id.as_str(), INVENTORY_PATH));
        let body: serde_json::Value = serde_json::from_str(&spooled[0].body).unwrap();
        assert_eq!(body["report_id"], report_id.as_str());
        assert!(body["inventory"]["collected_at"].is_string());
    }
}
