//! Custom printers: added and kept in line through CUPS.

use super::{ItemContext, ItemReport};
use crate::blueprint::CustomPrinter;

/// Enforces one item of this type. Not built yet: it fails, loudly, and never
/// claims success.
pub async fn run(_settings: &CustomPrinter, _context: &mut ItemContext<'_>) -> ItemReport {
    ItemReport::failed("handler not implemented")
}
