//! Item types whose handlers are not built yet: they fail, loudly, and never
//! claim success.

use super::ItemReport;
use crate::blueprint::LibraryItem;

/// Reports that `item`'s type cannot be enforced by this agent yet.
pub fn run(item: &LibraryItem) -> ItemReport {
    tracing::warn!(item_id = %item.id, item_type = %item.item_type, "No handler for this item type.");
    ItemReport::failed("handler not implemented")
}
