//! What the device remembers about the driver the agent gave a printer.
//!
//! CUPS does not say which driver built a queue, only the model it describes
//! (`printer-make-and-model`). So after applying a driver the agent records the
//! driver and the model CUPS then reported; a later check-in re-applies the
//! driver when the blueprint names another one, or when the model changed by hand.

use serde::{Deserialize, Serialize};

use super::super::{ItemContext, ItemReport};

/// The item marker holding the record.
const MARKER: &str = "printer_driver";

/// The driver the agent last applied to the item's queue, and what CUPS made of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct DriverRecord {
    /// The queue the driver was applied to.
    pub(super) printer_name: String,
    /// The driver as the blueprint named it (`everywhere`, a model, `PPD /path`).
    pub(super) driver: String,
    /// The model CUPS reported once the driver was applied.
    pub(super) make_and_model: String,
}

/// The record for this item, if one was kept (an unreadable one counts as none).
pub(super) fn recall(context: &ItemContext<'_>) -> Result<Option<DriverRecord>, ItemReport> {
    let text = context
        .store
        .item_marker(context.item_id, MARKER)
        .map_err(|error| ItemReport::failed(format!("cannot read what the device knows about the printer: {error}")))?;
    Ok(text.and_then(|text| serde_json::from_str(&text).ok()))
}

/// Keeps `record` for the next check-in.
pub(super) fn remember(record: &DriverRecord, context: &ItemContext<'_>) -> Result<(), ItemReport> {
    let text = serde_json::to_string(record)
        .map_err(|error| ItemReport::failed(format!("cannot record the printer's driver: {error}")))?;
    context
        .store
        .set_item_marker(context.item_id, MARKER, &text)
        .map_err(|error| ItemReport::failed(format!("cannot record the printer's driver: {error}")))
}
