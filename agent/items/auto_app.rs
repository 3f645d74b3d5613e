//! Auto apps: catalog apps installed when missing and kept up to date.

use super::{ItemContext, ItemReport};
use crate::blueprint::AutoApp;

/// Enforces one item of this type. Not built yet: it fails, loudly, and never
/// claims success.
pub async fn run(_settings: &AutoApp, _context: &mut ItemContext<'_>) -> ItemReport {
    ItemReport::failed("handler not implemented")
}
