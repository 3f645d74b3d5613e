//! An app item's rules, as data: what the item is ([`AppItem`]), the version it
//! wants ([`Wanted`]), and why an install happens ([`Reason`]), with which of
//! those count as drift.
//!
//! No app item replaces an app newer than it wants: a custom app's minimum and
//! an auto app's catalog version are both the lowest version it accepts.

use crate::blueprint::{AppPackage, Blocking, Enforcement};
use crate::version::AppVersion;

/// An app item as the flow reads it.
pub(crate) struct AppItem<'a> {
    /// Where the installer comes from and which app it puts where.
    pub package: &'a AppPackage,
    /// What the agent does when the app is missing or old; an auto app always
    /// audits and enforces.
    pub enforcement: Enforcement,
    /// The version the item wants.
    pub wanted: Wanted<'a>,
    /// What the device remembers once the agent installed the app: the
    /// package's sha256 (custom app) or the catalog's version (auto app).
    pub remembered: &'a str,
    /// What must not be running while the app is replaced, and until when.
    pub blocking: &'a Blocking,
}

impl AppItem<'_> {
    /// The rule the item is audited and installed by when it runs: its
    /// enforcement, except that an app offered in Self Service alone installs as
    /// `audit_and_enforce` does once someone asks for it.
    pub(crate) fn rule(&self) -> Enforcement {
        match self.enforcement {
            Enforcement::SelfService => Enforcement::AuditAndEnforce,
            other => other,
        }
    }

    /// The app as the person at the Mac knows it: the catalog's title
    /// (`Firefox`), or the bundle's name without `.app` (`Foo`).
    pub(crate) fn person_name(&self) -> &str {
        match self.wanted {
            Wanted::Catalog { title, .. } => title,
            Wanted::Minimum(_) => {
                let bundle = self.package.app.bundle_name();
                bundle.strip_suffix(".app").unwrap_or(bundle)
            }
        }
    }
}

/// The version an app item wants. A newer app than that is never replaced.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wanted<'a> {
    /// A custom app: at least this version (any version, readable or not, when
    /// none is given). Messages name the app by its bundle (`Foo.app`) and an
    /// app below the minimum counts as drift.
    Minimum(Option<&'a AppVersion>),
    /// An auto app: the catalog's release of `title`. Messages name it by its
    /// title (`Firefox 128.0`), and updating to a new release is not drift.
    Catalog {
        /// The app's name in the catalog.
        title: &'a str,
        /// The catalog's version.
        version: &'a AppVersion,
    },
}

impl Wanted<'_> {
    /// The lowest version that satisfies the item, if any.
    pub(crate) fn lowest(&self) -> Option<&AppVersion> {
        match self {
            Wanted::Minimum(minimum) => *minimum,
            Wanted::Catalog { version, .. } => Some(version),
        }
    }

    /// `version` (`None`: unreadable) is below what the item wants.
    pub(crate) fn unmet_by(&self, version: Option<&AppVersion>) -> bool {
        self.lowest().is_some_and(|lowest| version.is_none_or(|version| version < lowest))
    }
}

/// Why an install happens.
#[derive(Debug, PartialEq)]
pub(crate) enum Reason {
    /// The agent never installed the app here and it is not there.
    FirstInstall,
    /// The agent installed the app here before and it is gone.
    Deleted,
    /// A bundle is there but its `Info.plist` cannot be read.
    Damaged(String),
    /// The app is below the wanted version; its version, in words.
    Outdated(String),
    /// The item's `audit_script` exited with this code, not 0.
    AuditScript(i32),
}

impl Reason {
    /// The install puts back something that drifted (counted in `reapplied`):
    /// a deleted or damaged app, one below a custom app's minimum, or one its
    /// audit script found out of compliance. A first
    /// install is not, nor an update to a new catalog release.
    pub(crate) fn is_drift(&self, wanted: &Wanted<'_>) -> bool {
        match self {
            Reason::FirstInstall => false,
            Reason::Deleted | Reason::Damaged(_) | Reason::AuditScript(_) => true,
            Reason::Outdated(_) => matches!(wanted, Wanted::Minimum(_)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_app_offered_in_self_service_installs_as_audit_and_enforce_and_the_others_keep_their_rule() {
        let package = crate::items::app_flow::test_items::package(crate::blueprint::InstallSource::Zip);
        let cases = [
            (Enforcement::SelfService, Enforcement::AuditAndEnforce),
            (Enforcement::AuditAndEnforce, Enforcement::AuditAndEnforce),
            (Enforcement::InstallOnce, Enforcement::InstallOnce),
            (Enforcement::NoEnforcement, Enforcement::NoEnforcement),
        ];
        for (enforcement, rule) in cases {
            let blocking = &crate::items::app_flow::test_items::NO_BLOCKING;
            let app =
                AppItem { package: &package, enforcement, wanted: Wanted::Minimum(None), remembered: "x", blocking };
            assert_eq!(app.rule(), rule, "{enforcement:?}");
        }
    }

    #[test]
    fn only_what_was_there_before_counts_as_drift_and_a_new_catalog_release_does_not() {
        let two = AppVersion::parse("2.0").unwrap();
        let (minimum, catalog) = (Wanted::Minimum(Some(&two)), Wanted::Catalog { title: "Foo", version: &two });
        let cases = [
            (Reason::FirstInstall, false, false),
            (Reason::Deleted, true, true),
            (Reason::Damaged("broken".into()), true, true),
            (Reason::Outdated("1.0".into()), true, false),
        ];
        for (reason, under_minimum, under_catalog) in cases {
            assert_eq!(
                (reason.is_drift(&minimum), reason.is_drift(&catalog)),
                (under_minimum, under_catalog),
                "{reason:?}"
            );
        }
    }
}
