//! Auto apps: the catalog's release of an app, installed when missing and
//! updated when the installed copy is older, never downgraded.
//!
//! The audit reads the app at its path and compares its
//! `CFBundleShortVersionString` with the catalog's version (see
//! [`crate::version`] for the order). Only an older or unreadable version is
//! replaced; a newer one (the app updated itself, or the catalog lags) is left
//! alone and the message says so. An app with another bundle identifier is
//! never touched. A copy the agent installed and someone deleted is put back and
//! counted as re-applied; an update to a new catalog release is not drift.

use std::cmp::Ordering;

use super::{ItemContext, ItemReport};
use crate::app_bundle::{self, Fit, InstalledApp, version_text};
use crate::blueprint::AutoApp;
use crate::installers::{self, Delivered, deliver};
use crate::state::ItemStatus;
use crate::tool_runner::Transcript;

/// What the audit decided.
#[derive(Debug, PartialEq)]
enum Decision {
    /// Nothing to do; the item succeeds with this message.
    Done(String),
    /// Something else is at the app's path; it is left alone and the item fails.
    Refuse(String),
    /// Install, for this reason.
    Install(Reason),
}

/// Why an install happens.
#[derive(Debug, PartialEq)]
enum Reason {
    FirstInstall,
    Deleted,
    Damaged(String),
    Update(String),
}

/// Audits the app and installs or updates it when needed.
pub async fn run(settings: &AutoApp, context: &mut ItemContext<'_>) -> ItemReport {
    (context.on_phase)("audit");
    let found = app_bundle::inspect(&settings.package.app.resolve(context.paths));
    let installed_before = match installers::installed_before(context) {
        Ok(installed_before) => installed_before,
        Err(report) => return report,
    };
    match decide(settings, &found, installed_before) {
        Decision::Done(message) => report(ItemStatus::Succeeded, message, None, String::new(), false),
        Decision::Refuse(message) => ItemReport::failed(message),
        Decision::Install(reason) => install(settings, context, reason).await,
    }
}

/// The audit: what to do about `found` against the catalog entry.
fn decide(settings: &AutoApp, found: &InstalledApp, installed_before: bool) -> Decision {
    let (title, catalog) = (&settings.title, &settings.version);
    match app_bundle::fit(found, settings.package.bundle_id.as_deref()) {
        Fit::Missing if installed_before => Decision::Install(Reason::Deleted),
        Fit::Missing => Decision::Install(Reason::FirstInstall),
        Fit::Damaged(problem) => Decision::Install(Reason::Damaged(problem.to_string())),
        Fit::Foreign(identifier) => Decision::Refuse(format!(
            "{} has bundle id {identifier}, not the catalog's {}; it was left alone",
            settings.package.app.display_path(),
            settings.package.bundle_id.as_deref().unwrap_or_default()
        )),
        Fit::Expected(None) => Decision::Install(Reason::Update(version_text(None))),
        Fit::Expected(Some(installed)) => match installed.cmp(catalog) {
            Ordering::Less => Decision::Install(Reason::Update(installed.to_string())),
            Ordering::Equal => {
                Decision::Done(format!("compliant: {title} {installed} is installed, the catalog's version"))
            }
            Ordering::Greater => Decision::Done(format!(
                "compliant: {title} {installed} is newer than the catalog's {catalog}; never downgraded"
            )),
        },
    }
}

/// Installs the catalog's release, checks the result, and remembers the install.
async fn install(settings: &AutoApp, context: &mut ItemContext<'_>, reason: Reason) -> ItemReport {
    let mut transcript = Transcript::default();
    let delivered = deliver(&settings.package, context, &mut transcript).await;
    (context.on_phase)("verify");
    let exit_code = transcript.last_exit_code();
    let output = transcript.into_text();
    let delivered = match delivered {
        Ok(delivered) => delivered,
        Err(error) => {
            let exit_code = error.exit_code().or(exit_code);
            return report(error.status(), error.to_string(), exit_code, output, false);
        }
    };
    let message = match installed_message(settings, &delivered, &reason) {
        Ok(message) => message,
        Err(problem) => return report(ItemStatus::Failed, problem, exit_code, output, false),
    };
    if let Err(error) = installers::remember_install(context, settings.version.as_str()) {
        let message = format!("{message}, but the device cannot remember the install: {error}");
        return report(ItemStatus::Failed, message, exit_code, output, false);
    }
    let reapplied = matches!(reason, Reason::Deleted | Reason::Damaged(_));
    report(ItemStatus::Succeeded, message, exit_code, output, reapplied)
}

/// The success message, or why the installed app is not the catalog's release.
fn installed_message(settings: &AutoApp, delivered: &Delivered, reason: &Reason) -> Result<String, String> {
    let package = &settings.package;
    let (title, catalog, app) = (&settings.title, &settings.version, package.app.bundle_name());
    let installed = match app_bundle::fit(&delivered.found, package.bundle_id.as_deref()) {
        Fit::Missing => {
            let path = package.app.display_path();
            return Err(format!("the {} installed without error, but no app is at {path}", package.source.as_str()));
        }
        Fit::Damaged(problem) => return Err(format!("the catalog's download installed {app}, but {problem}")),
        Fit::Foreign(identifier) => {
            return Err(format!("the catalog's download installed {app} with bundle id {identifier}"));
        }
        Fit::Expected(version) => version,
    };
    if installed.is_none_or(|installed| installed < catalog) {
        let installed = version_text(installed);
        return Err(format!("the catalog's download installed {title} {installed}, not {catalog}"));
    }
    let how = format!("{}, sha256 verified", delivered.download.describe());
    Ok(match reason {
        Reason::FirstInstall => format!("installed: {title} {catalog} ({how})"),
        Reason::Deleted => format!("re-installed: {app} was missing; installed {title} {catalog} ({how})"),
        Reason::Damaged(problem) => format!("re-installed: {app} was damaged ({problem}); installed {catalog} ({how})"),
        Reason::Update(old) => format!("updated: {title} {old} to {catalog} ({how})"),
    })
}

fn report(status: ItemStatus, message: String, exit_code: Option<i32>, output: String, reapplied: bool) -> ItemReport {
    ItemReport { status, message, exit_code, output, reapplied }
}

#[cfg(test)]
#[path = "auto_app_tests.rs"]
mod tests;
