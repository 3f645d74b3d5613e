//! The audit of an app item: what to do about the app found at its path, by
//! the item's rules ([`AppItem`]). Pure: the words come from [`super::messages`].
//!
//! - `no_enforcement` only reports what is there;
//! - `install_once` installs when the agent never installed the app on this
//!   device; afterwards a deletion is left alone, and an app found already in
//!   place is remembered as installed;
//! - otherwise (`audit_and_enforce`, every auto app, and `self_service` once
//!   someone asks: see [`AppItem::rule`]) the app is installed
//!   whenever it is missing, damaged or below the wanted version; a newer one is
//!   never replaced.
//!
//! An app with another bundle identifier than expected is never replaced: the
//! item fails and says so.

use super::messages;
use super::rules::{AppItem, Reason};
use crate::app_bundle::{self, Fit, InstalledApp, version_text};
use crate::blueprint::Enforcement;

/// What the audit decided.
#[derive(Debug, PartialEq)]
pub(crate) enum Decision {
    /// Nothing to do; the item succeeds with this message.
    Done(String),
    /// The expected app is already there: remember it as installed (install once).
    AlreadyThere(String),
    /// Something else is at the app's path; it is left alone and the item fails.
    Refuse(String),
    /// Install, for this reason.
    Install(Reason),
}

/// What to do about `found`, given the item and whether the agent installed
/// the app on this device before.
pub(crate) fn decide(app: &AppItem<'_>, found: &InstalledApp, installed_before: bool) -> Decision {
    let fit = app_bundle::fit(found, app.package.bundle_id.as_deref());
    match (app.rule(), fit) {
        (Enforcement::NoEnforcement, fit) => Decision::Done(messages::not_enforced(app, &fit)),
        (Enforcement::InstallOnce, fit) if installed_before => Decision::Done(messages::installed_once(app, &fit)),
        (_, Fit::Foreign(identifier)) => Decision::Refuse(messages::foreign(app, identifier)),
        (_, Fit::Missing) if installed_before => Decision::Install(Reason::Deleted),
        (_, Fit::Missing) => Decision::Install(Reason::FirstInstall),
        (_, Fit::Damaged(problem)) => Decision::Install(Reason::Damaged(problem.to_string())),
        (_, Fit::Expected(version)) if app.wanted.unmet_by(version) => {
            Decision::Install(Reason::Outdated(version_text(version)))
        }
        (Enforcement::InstallOnce, Fit::Expected(version)) => {
            Decision::AlreadyThere(messages::already_there(app, version))
        }
        (Enforcement::AuditAndEnforce | Enforcement::SelfService, Fit::Expected(version)) => {
            Decision::Done(messages::compliant(app, version))
        }
    }
}

/// What to do when the item's `audit_script` exited `code`, not 0: it replaces
/// the built-in check, so an app the check finds compliant is installed again;
/// the enforcement still rules (no enforcement only reports, install once
/// leaves an app it installed before alone) and another app at the path is
/// still never replaced.
pub(crate) fn decide_after_audit_script(
    app: &AppItem<'_>,
    found: &InstalledApp,
    installed_before: bool,
    code: i32,
) -> Decision {
    match (app.rule(), decide(app, found, installed_before)) {
        (Enforcement::NoEnforcement, _) => Decision::Done(format!("not enforced: the audit script exited {code}")),
        (Enforcement::InstallOnce, done @ Decision::Done(_)) => done,
        (_, Decision::Done(_) | Decision::AlreadyThere(_)) => Decision::Install(Reason::AuditScript(code)),
        (_, other) => other,
    }
}

#[cfg(test)]
#[path = "decision_tests.rs"]
mod tests;
