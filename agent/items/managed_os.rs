//! Managed OS: the macOS version a device must reach, and by when.

use super::{ItemContext, ItemReport};
use crate::blueprint::ManagedOs;

/// Enforces one item of this type. Not built yet: it fails, loudly, and never
/// claims success.
pub async fn run(_settings: &ManagedOs, _context: &mut ItemContext<'_>) -> ItemReport {
    ItemReport::failed("handler not implemented")
}
