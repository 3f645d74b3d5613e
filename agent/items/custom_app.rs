//! Custom apps: the admin's own pkg, dmg or zip, installed and enforced.

use super::{ItemContext, ItemReport};
use crate::blueprint::CustomApp;

/// Enforces one item of this type. Not built yet: it fails, loudly, and never
/// claims success.
pub async fn run(_settings: &CustomApp, _context: &mut ItemContext<'_>) -> ItemReport {
    ItemReport::failed("handler not implemented")
}
