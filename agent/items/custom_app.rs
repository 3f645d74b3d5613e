//! Custom apps: the admin's own pkg, dmg or zip, installed and enforced.
//!
//! The audit reads the app at its path (`Info.plist`: bundle identifier and
//! `CFBundleShortVersionString`) and decides by the item's enforcement:
//! - `install_once`: installs when the agent never installed it on this device
//!   (remembered in the store); afterwards a deletion is left alone;
//! - `audit_and_enforce`: installs whenever the app is missing, damaged or below
//!   `version`; putting back something that was there before counts as re-applied;
//! - `no_enforcement`: only reports what is there.
//!
//! An app with another bundle identifier than `bundle_id` is never replaced: the
//! item fails and says so. After an install the app is read again and must be
//! there, be the expected one and meet `version`, or the item fails.

use super::{ItemContext, ItemReport};
use crate::app_bundle::{self, Fit, InstalledApp, version_text};
use crate::blueprint::{CustomApp, Enforcement};
use crate::installers::{self, Delivered, deliver};
use crate::state::ItemStatus;
use crate::tool_runner::Transcript;
use crate::version::AppVersion;

/// What the audit decided.
#[derive(Debug, PartialEq)]
enum Decision {
    /// Nothing to do; the item succeeds with this message.
    Done(String),
    /// The expected app is already there: remember it as installed (install once).
    AlreadyThere(String),
    /// Something else is at the app's path; it is left alone and the item fails.
    Refuse(String),
    /// Install, for this reason.
    Install(Reason),
}

/// Why an install happens; all but the first put back something that drifted.
#[derive(Debug, PartialEq)]
enum Reason {
    FirstInstall,
    Deleted,
    Damaged(String),
    Outdated(String),
}

/// Audits the app and installs it when its enforcement says so.
pub async fn run(settings: &CustomApp, context: &mut ItemContext<'_>) -> ItemReport {
    (context.on_phase)("audit");
    let found = app_bundle::inspect(&settings.package.app.resolve(context.paths));
    let installed_before = match installers::installed_before(context) {
        Ok(installed_before) => installed_before,
        Err(report) => return report,
    };
    match decide(settings, &found, installed_before) {
        Decision::Done(message) => report(ItemStatus::Succeeded, message, None, String::new(), false),
        Decision::Refuse(message) => ItemReport::failed(message),
        Decision::AlreadyThere(message) => remember(settings, context, message),
        Decision::Install(reason) => install(settings, context, reason).await,
    }
}

/// The audit: what to do about `found`, given the item and whether the agent
/// installed the app on this device before.
fn decide(settings: &CustomApp, found: &InstalledApp, installed_before: bool) -> Decision {
    let app = settings.package.app.bundle_name();
    let minimum = settings.minimum_version.as_ref();
    let fit = app_bundle::fit(found, settings.package.bundle_id.as_deref());
    let expected = settings.package.bundle_id.as_deref().unwrap_or_default();
    let below_minimum =
        |version: Option<&AppVersion>| minimum.is_some_and(|minimum| version.is_none_or(|version| version < minimum));
    let required = minimum.map(|minimum| format!(" (required {minimum})")).unwrap_or_default();
    match (settings.enforcement, fit) {
        (Enforcement::NoEnforcement, fit) => {
            Decision::Done(format!("not enforced: {}", describe(app, &fit, minimum, expected)))
        }
        (Enforcement::InstallOnce, fit) if installed_before => {
            let now = match fit {
                Fit::Missing => "it was deleted since and is left alone".to_string(),
                fit => describe(app, &fit, None, expected),
            };
            Decision::Done(format!("compliant: the agent installed {app} once on this device; {now} (install once)"))
        }
        (_, Fit::Foreign(identifier)) => Decision::Refuse(format!(
            "{} has bundle id {identifier}, not the expected {expected}; it was left alone",
            settings.package.app.display_path()
        )),
        (_, Fit::Missing) if installed_before => Decision::Install(Reason::Deleted),
        (_, Fit::Missing) => Decision::Install(Reason::FirstInstall),
        (_, Fit::Damaged(problem)) => Decision::Install(Reason::Damaged(problem.to_string())),
        (_, Fit::Expected(version)) if below_minimum(version) => {
            Decision::Install(Reason::Outdated(version_text(version)))
        }
        (Enforcement::InstallOnce, Fit::Expected(version)) => Decision::AlreadyThere(format!(
            "compliant: {app} {} was already installed{required}; install once is satisfied",
            version_text(version)
        )),
        (Enforcement::AuditAndEnforce, Fit::Expected(version)) => {
            Decision::Done(format!("compliant: {app} {} is installed{required}", version_text(version)))
        }
    }
}

/// What is at the app's path, in words: "Foo.app 2.1 is installed".
fn describe(app: &str, fit: &Fit<'_>, minimum: Option<&AppVersion>, expected: &str) -> String {
    match fit {
        Fit::Missing => format!("{app} is not installed"),
        Fit::Damaged(problem) => format!("{app} is there but {problem}"),
        Fit::Foreign(identifier) => format!("{app} has bundle id {identifier}, not the expected {expected}"),
        Fit::Expected(version) => match (version, minimum) {
            (Some(version), Some(minimum)) if *version < minimum => {
                format!("{app} {version} is installed, below the required {minimum}")
            }
            (version, _) => format!("{app} {} is installed", version_text(*version)),
        },
    }
}

/// Remembers an app found already in place, for install once.
fn remember(settings: &CustomApp, context: &ItemContext<'_>, message: String) -> ItemReport {
    match installers::remember_install(context, &settings.package.sha256) {
        Ok(()) => report(ItemStatus::Succeeded, message, None, String::new(), false),
        Err(error) => ItemReport::failed(format!("{message}, but the device cannot remember it: {error}")),
    }
}

/// Installs, checks the result, and remembers the install.
async fn install(settings: &CustomApp, context: &mut ItemContext<'_>, reason: Reason) -> ItemReport {
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
    if let Err(error) = installers::remember_install(context, &settings.package.sha256) {
        let message = format!("{message}, but the device cannot remember the install: {error}");
        return report(ItemStatus::Failed, message, exit_code, output, false);
    }
    report(ItemStatus::Succeeded, message, exit_code, output, reason != Reason::FirstInstall)
}

/// The success message, or why the installed app does not satisfy the item.
fn installed_message(settings: &CustomApp, delivered: &Delivered, reason: &Reason) -> Result<String, String> {
    let package = &settings.package;
    let app = package.app.bundle_name();
    let source = package.source.as_str();
    let version = match app_bundle::fit(&delivered.found, package.bundle_id.as_deref()) {
        Fit::Missing => {
            return Err(format!(
                "the {source} installed without error, but no app is at {}",
                package.app.display_path()
            ));
        }
        Fit::Damaged(problem) => return Err(format!("the {source} installed {app}, but {problem}")),
        Fit::Foreign(identifier) => {
            let expected = package.bundle_id.as_deref().unwrap_or_default();
            return Err(format!(
                "the {source} installed {app} with bundle id {identifier}, not the expected {expected}"
            ));
        }
        Fit::Expected(version) => version,
    };
    let installed = version_text(version);
    if let Some(minimum) = &settings.minimum_version
        && version.is_none_or(|version| version < minimum)
    {
        return Err(format!("the {source} installed {app} {installed}, still below the required {minimum}"));
    }
    let how = format!("{}, sha256 verified", delivered.download.describe());
    Ok(match reason {
        Reason::FirstInstall => format!("installed: {app} {installed} from the {source} ({how})"),
        Reason::Deleted => format!("re-installed: {app} was missing; installed {installed} ({how})"),
        Reason::Damaged(problem) => {
            format!("re-installed: {app} was damaged ({problem}); installed {installed} ({how})")
        }
        Reason::Outdated(old) => {
            let minimum = settings.minimum_version.as_ref().map(ToString::to_string).unwrap_or_default();
            format!("updated: {app} {old} was below the required {minimum}; installed {installed} ({how})")
        }
    })
}

fn report(status: ItemStatus, message: String, exit_code: Option<i32>, output: String, reapplied: bool) -> ItemReport {
    ItemReport { status, message, exit_code, output, reapplied }
}

#[cfg(test)]
#[path = "custom_app_tests.rs"]
mod tests;
