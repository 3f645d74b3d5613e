//! The one-line messages of an app item. A custom app ([`Wanted::Minimum`])
//! names its app by the bundle (`Foo.app 2.1`) and its minimum as "the
//! required"; an auto app ([`Wanted::Catalog`]) by the catalog's title (`Foo
//! 1.10`) and its version as "the catalog's".

use std::cmp::Ordering;

use super::rules::{AppItem, Reason, Wanted};
use crate::app_bundle::{self, Fit, version_text};
use crate::installers::Delivered;
use crate::version::AppVersion;

/// Reported when the item only reports: what is at the app's path.
pub(super) fn not_enforced(app: &AppItem<'_>, fit: &Fit<'_>) -> String {
    format!("not enforced: {}", describe(app, fit, app.wanted.lowest()))
}

/// Reported by install once after its install, whatever became of the app.
pub(super) fn installed_once(app: &AppItem<'_>, fit: &Fit<'_>) -> String {
    let bundle = app.package.app.bundle_name();
    let now = match fit {
        Fit::Missing => "it was deleted since and is left alone".to_string(),
        fit => describe(app, fit, None),
    };
    format!("compliant: the agent installed {bundle} once on this device; {now} (install once)")
}

/// Why another app at the app's path is left alone.
pub(super) fn foreign(app: &AppItem<'_>, identifier: &str) -> String {
    let whose = match app.wanted {
        Wanted::Minimum(_) => "the expected",
        Wanted::Catalog { .. } => "the catalog's",
    };
    let (path, expected) = (app.package.app.display_path(), expected_identifier(app));
    format!("{path} has bundle id {identifier}, not {whose} {expected}; it was left alone")
}

/// Install once, meeting the wanted version already in place.
pub(super) fn already_there(app: &AppItem<'_>, version: Option<&AppVersion>) -> String {
    let bundle = app.package.app.bundle_name();
    let (version, required) = (version_text(version), required(app));
    format!("compliant: {bundle} {version} was already installed{required}; install once is satisfied")
}

/// The app is there and meets the wanted version.
pub(super) fn compliant(app: &AppItem<'_>, version: Option<&AppVersion>) -> String {
    match app.wanted {
        Wanted::Minimum(_) => {
            let (bundle, required) = (app.package.app.bundle_name(), required(app));
            format!("compliant: {bundle} {} is installed{required}", version_text(version))
        }
        Wanted::Catalog { title, version: catalog } => match version {
            Some(installed) if installed.cmp(catalog) == Ordering::Greater => {
                format!("compliant: {title} {installed} is newer than the catalog's {catalog}; never downgraded")
            }
            installed => format!("compliant: {title} {} is installed, the catalog's version", version_text(installed)),
        },
    }
}

/// The success message after an install, or why the app now at the path does
/// not satisfy the item.
pub(super) fn installed(app: &AppItem<'_>, delivered: &Delivered, reason: &Reason) -> Result<String, String> {
    let package = app.package;
    let (bundle, source) = (package.app.bundle_name(), package.source.as_str());
    let version = match app_bundle::fit(&delivered.found, package.bundle_id.as_deref()) {
        Fit::Missing => {
            let path = package.app.display_path();
            return Err(format!("the {source} installed without error, but no app is at {path}"));
        }
        Fit::Damaged(problem) => return Err(format!("{} installed {bundle}, but {problem}", installer(app))),
        Fit::Foreign(identifier) => return Err(foreign_installed(app, identifier)),
        Fit::Expected(version) => version,
    };
    if app.wanted.unmet_by(version) {
        return Err(still_below(app, version));
    }
    let how = format!("{}, sha256 verified", delivered.download.describe());
    Ok(match app.wanted {
        Wanted::Minimum(minimum) => {
            let installed = version_text(version);
            match reason {
                Reason::FirstInstall => format!("installed: {bundle} {installed} from the {source} ({how})"),
                Reason::Deleted => format!("re-installed: {bundle} was missing; installed {installed} ({how})"),
                Reason::Damaged(problem) => {
                    format!("re-installed: {bundle} was damaged ({problem}); installed {installed} ({how})")
                }
                Reason::Outdated(old) => {
                    let minimum = minimum.map(ToString::to_string).unwrap_or_default();
                    format!("updated: {bundle} {old} was below the required {minimum}; installed {installed} ({how})")
                }
                Reason::AuditScript(code) => {
                    format!("re-installed: the audit script exited {code}; installed {bundle} {installed} ({how})")
                }
            }
        }
        Wanted::Catalog { title, version: catalog } => match reason {
            Reason::FirstInstall => format!("installed: {title} {catalog} ({how})"),
            Reason::Deleted => format!("re-installed: {bundle} was missing; installed {title} {catalog} ({how})"),
            Reason::Damaged(problem) => {
                format!("re-installed: {bundle} was damaged ({problem}); installed {catalog} ({how})")
            }
            Reason::Outdated(old) => format!("updated: {title} {old} to {catalog} ({how})"),
            Reason::AuditScript(code) => {
                format!("re-installed: the audit script exited {code}; installed {title} {catalog} ({how})")
            }
        },
    })
}

/// What is at the app's path, in words: "Foo.app 2.1 is installed", and whether
/// it is below `minimum` when one is given.
fn describe(app: &AppItem<'_>, fit: &Fit<'_>, minimum: Option<&AppVersion>) -> String {
    let bundle = app.package.app.bundle_name();
    match fit {
        Fit::Missing => format!("{bundle} is not installed"),
        Fit::Damaged(problem) => format!("{bundle} is there but {problem}"),
        Fit::Foreign(identifier) => {
            format!("{bundle} has bundle id {identifier}, not the expected {}", expected_identifier(app))
        }
        Fit::Expected(version) => match (version, minimum) {
            (Some(version), Some(minimum)) if *version < minimum => {
                format!("{bundle} {version} is installed, below the required {minimum}")
            }
            (version, _) => format!("{bundle} {} is installed", version_text(*version)),
        },
    }
}

/// Who installed the app, for what went wrong after: "the zip", or "the
/// catalog's download".
fn installer(app: &AppItem<'_>) -> String {
    match app.wanted {
        Wanted::Minimum(_) => format!("the {}", app.package.source.as_str()),
        Wanted::Catalog { .. } => "the catalog's download".to_string(),
    }
}

/// The install put another app at the path.
fn foreign_installed(app: &AppItem<'_>, identifier: &str) -> String {
    let (installer, bundle) = (installer(app), app.package.app.bundle_name());
    match app.wanted {
        Wanted::Minimum(_) => format!(
            "{installer} installed {bundle} with bundle id {identifier}, not the expected {}",
            expected_identifier(app)
        ),
        Wanted::Catalog { .. } => format!("{installer} installed {bundle} with bundle id {identifier}"),
    }
}

/// The install left an app below the wanted version.
fn still_below(app: &AppItem<'_>, version: Option<&AppVersion>) -> String {
    let (installer, installed) = (installer(app), version_text(version));
    match app.wanted {
        Wanted::Minimum(minimum) => {
            let (bundle, minimum) =
                (app.package.app.bundle_name(), minimum.map(ToString::to_string).unwrap_or_default());
            format!("{installer} installed {bundle} {installed}, still below the required {minimum}")
        }
        Wanted::Catalog { title, version: catalog } => {
            format!("{installer} installed {title} {installed}, not {catalog}")
        }
    }
}

/// ` (required 2.1)` when the item has a lowest version, else nothing.
fn required(app: &AppItem<'_>) -> String {
    app.wanted.lowest().map(|lowest| format!(" (required {lowest})")).unwrap_or_default()
}

/// The bundle identifier the item expects, or nothing.
fn expected_identifier<'a>(app: &AppItem<'a>) -> &'a str {
    app.package.bundle_id.as_deref().unwrap_or_default()
}

#[cfg(test)]
#[path = "messages_tests.rs"]
mod tests;
