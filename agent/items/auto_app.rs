//! Auto apps: the catalog's release of an app, installed by the app flow
//! ([`super::app_flow`]) when missing and updated when the installed copy is
//! older, never downgraded.
//!
//! The installed `CFBundleShortVersionString` is compared with the catalog's
//! version (see [`crate::version`] for the order). Only an older or unreadable
//! version is replaced; a newer one (the app updated itself, or the catalog
//! lags) is left alone and the message says so. An app with another bundle
//! identifier is never touched. A copy the agent installed and someone deleted
//! is put back and counted as re-applied; an update to a new catalog release is
//! not drift.

use super::app_flow::{self, AppItem, Wanted};
use super::{ItemContext, ItemReport};
use crate::blueprint::AutoApp;

/// Audits the app and installs or updates it when needed.
pub async fn run(settings: &AutoApp, context: &mut ItemContext<'_>) -> ItemReport {
    app_flow::run(&app(settings), context).await
}

/// The item's rules: enforced (when it runs), the catalog's version, and that version
/// remembered once installed.
fn app(settings: &AutoApp) -> AppItem<'_> {
    AppItem {
        package: &settings.package,
        enforcement: settings.enforcement,
        wanted: Wanted::Catalog { title: &settings.title, version: &settings.version },
        remembered: settings.version.as_str(),
        blocking: &settings.blocking,
    }
}

#[cfg(test)]
#[path = "auto_app_tests.rs"]
mod tests;
