//! Custom apps: the admin's own pkg, dmg or zip, installed and enforced by the
//! app flow ([`super::app_flow`]) under the item's enforcement:
//! - `install_once`: installs when the agent never installed it on this device
//!   (remembered in the store, with the package's sha256); afterwards a deletion
//!   is left alone;
//! - `audit_and_enforce`: installs whenever the app is missing, damaged or below
//!   `version`; putting back something that was there before counts as re-applied;
//! - `no_enforcement`: only reports what is there.
//!
//! After an install the app is read again and must be there, be the expected
//! one and meet `version`, or the item fails.
//!
//! The admin's scripts (`audit_script`, `preinstall_script`,
//! `postinstall_script`) and `restart: true` are the app flow's custom steps
//! ([`app_flow::Steps`]).

use super::app_flow::{self, AppItem, Steps, Wanted};
use super::{ItemContext, ItemReport};
use crate::blueprint::CustomApp;

/// Audits the app and installs it when its enforcement says so.
pub async fn run(settings: &CustomApp, context: &mut ItemContext<'_>) -> ItemReport {
    let steps = Steps { scripts: &settings.scripts, restart: settings.restart };
    app_flow::run_with(&app(settings), &steps, context).await
}

/// The item's rules: its own enforcement, at least its minimum version, and the
/// package's sha256 remembered once installed.
fn app(settings: &CustomApp) -> AppItem<'_> {
    AppItem {
        package: &settings.package,
        enforcement: settings.enforcement,
        wanted: Wanted::Minimum(settings.minimum_version.as_ref()),
        remembered: &settings.package.sha256,
        blocking: &settings.blocking,
    }
}

#[cfg(test)]
#[path = "custom_app_tests.rs"]
mod tests;
