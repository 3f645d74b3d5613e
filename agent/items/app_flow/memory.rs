//! What the device remembers about an app item: that the agent installed it,
//! which tells a first install from a re-install (drift) and lets install once
//! leave a deleted app alone.

use crate::items::{ItemContext, ItemReport};
use crate::state::StoreError;

/// The item marker set once the agent installed the item's app.
const INSTALLED_MARKER: &str = "installed";

/// Whether the agent installed this item's app on this device before; a report
/// to return as is when the store cannot say.
pub(super) fn installed_before(context: &ItemContext<'_>) -> Result<bool, ItemReport> {
    context
        .store
        .item_marker(context.item_id, INSTALLED_MARKER)
        .map(|marker| marker.is_some())
        .map_err(|error| ItemReport::failed(format!("cannot read what this device remembers of the item: {error}")))
}

/// Remembers that the item's app is installed, with `value` (what was installed).
pub(super) fn remember_install(context: &ItemContext<'_>, value: &str) -> Result<(), StoreError> {
    context.store.set_item_marker(context.item_id, INSTALLED_MARKER, value)
}
