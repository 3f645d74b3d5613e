//! An auto app item's keys: one entry of the tenant's app catalog.
//!
//! ```json
//! { "id": "li-8", "name": "Firefox", "type": "auto_app",
//!   "catalog": { "name": "Firefox", "bundle_id": "org.mozilla.firefox", "version": "128.0",
//!                "url": "https://downloads.example.com/Firefox-128.0.dmg",
//!                "sha256": "<64 hex digits>", "install_type": "dmg", "app_name": "Firefox.app" } }
//! ```
//! The catalog entry is what the tenant resolved for this device; the agent
//! installs it when the app is missing and updates to it when the installed
//! app is older, never downgrading. `blocking_applications` and
//! `force_install_after` sit beside `catalog`, on the item: see [`super::blocking`].
//! `team_id` and `require_notarized` may be in the catalog entry or on the item,
//! where they win over the catalog's.

use serde_json::{Map, Value};

use super::app_package::{self, AppPackage, PackageKeys, SIGNATURE_KEYS, SignatureKeys};
use super::blocking::{self, Blocking};
use super::custom_app::Enforcement;
use super::document::{Problems, join_key};
use super::resolve::COMMON_ITEM_KEYS;
use crate::version::AppVersion;

/// An auto app: the catalog's current release of one app.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoApp {
    /// The app's name in the catalog, for messages ("Firefox").
    pub title: String,
    /// The catalog's version; installed apps older than it are updated.
    pub version: AppVersion,
    /// The installer of that version; its `bundle_id` is always set.
    pub package: AppPackage,
    /// `audit_and_enforce` (the default: installed and updated at every
    /// check-in) or `self_service` (only when someone asks).
    pub enforcement: Enforcement,
    /// What must not be running while the app is replaced.
    pub blocking: Blocking,
}

const KEYS: [&str; 2] = ["catalog", "enforcement"];
/// The enforcements an auto app may have: it is always kept up to date when it runs.
const ENFORCEMENTS: [Enforcement; 2] = [Enforcement::AuditAndEnforce, Enforcement::SelfService];
const CATALOG_KEYS: [&str; 9] = [
    "name",
    "bundle_id",
    "version",
    "url",
    "sha256",
    "install_type",
    "app_name",
    "team_id",
    "require_notarized",
];

/// Checks an auto app item's own keys.
pub(crate) fn resolve(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<AutoApp> {
    problems.warn_unknown_keys(key, object, &[&COMMON_ITEM_KEYS, &KEYS, &SIGNATURE_KEYS, &blocking::KEYS]);
    let item_signature = SignatureKeys::read(object, key, problems);
    let enforcement = match object.get("enforcement") {
        None | Some(Value::Null) => Some(Enforcement::AuditAndEnforce),
        Some(_) => Enforcement::resolve(object, key, &ENFORCEMENTS, problems),
    };
    let blocking = blocking::resolve(object, key, problems);
    let catalog_key = join_key(key, "catalog");
    let catalog = match object.get("catalog") {
        Some(Value::Object(catalog)) => catalog,
        None | Some(Value::Null) => {
            problems.error(&catalog_key, "is required");
            return None;
        }
        Some(other) => {
            problems.wrong_type(&catalog_key, "an object", other);
            return None;
        }
    };
    problems.warn_unknown_keys(&catalog_key, catalog, &[&CATALOG_KEYS]);
    let title = problems.required_text(catalog, &catalog_key, "name");
    let version = problems.required_text(catalog, &catalog_key, "version").and_then(|text| {
        AppVersion::parse(&text)
            .map_err(|error| problems.error(&join_key(&catalog_key, "version"), &error.to_string()))
            .ok()
    });
    let keys = PackageKeys { source: "install_type", bundle_id_required: true, outer_signature: item_signature };
    let package = app_package::resolve(catalog, &catalog_key, keys, problems);
    let blocking = blocking?;
    Some(AutoApp { title: title?, version: version?, package: package?, enforcement: enforcement?, blocking })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::blueprint::{BlockingApplication, InstallSource};

    fn check(item: Value) -> Result<AutoApp, Vec<String>> {
        let mut problems = Problems::new(Path::new("/bp.json"));
        let resolved = resolve(item.as_object().unwrap(), "library_items[1]", &mut problems);
        match problems.finish(resolved) {
            Ok((resolved, _)) => Ok(resolved.expect("no error means resolved")),
            Err(errors) => Err(errors.0.iter().map(|error| format!("{}: {}", error.key, error.message)).collect()),
        }
    }

    #[test]
    fn a_catalog_entry_resolves() {
        let app = check(json!({ "catalog": {
            "name": "Firefox", "bundle_id": "org.mozilla.firefox", "version": "128.0",
            "url": "https://example.com/Firefox.pkg", "sha256": "0".repeat(64),
            "install_type": "pkg", "app_name": "Firefox.app"
        }}))
        .unwrap();
        assert_eq!((app.title.as_str(), app.version.as_str()), ("Firefox", "128.0"));
        assert_eq!(app.package.source, InstallSource::Pkg);
        assert_eq!(app.package.bundle_id.as_deref(), Some("org.mozilla.firefox"));
    }

    #[test]
    fn blocking_applications_and_force_install_after_sit_on_the_item_not_in_the_catalog() {
        let mut problems = Problems::new(Path::new("/bp.json"));
        let item = json!({
            "blocking_applications": ["/Applications/Firefox.app"], "force_install_after": "2026-12-31",
            "catalog": {
                "name": "Firefox", "bundle_id": "org.mozilla.firefox", "version": "128.0",
                "url": "https://example.com/Firefox.pkg", "sha256": "0".repeat(64),
                "install_type": "pkg", "app_name": "Firefox.app", "force_install_after": "2026-01-01"
            }
        });
        let resolved = resolve(item.as_object().unwrap(), "library_items[1]", &mut problems);
        let (app, warnings) = problems.finish(resolved).unwrap();
        let blocking = app.unwrap().blocking;
        let bundle = BlockingApplication::BundlePath("/Applications/Firefox.app".into());
        assert_eq!(blocking.applications, Some(vec![bundle]));
        assert_eq!(blocking.force_install_after.unwrap().to_rfc3339(), "2027-01-01T00:00:00+00:00");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("library_items[1].catalog.force_install_after"), "{warnings:?}");
        let errors = check(json!({ "blocking_applications": [""], "catalog": {} })).unwrap_err();
        assert!(errors.contains(&"library_items[1].blocking_applications[0]: must not be empty".to_string()), "{errors:?}");
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        assert_eq!(check(json!({})).unwrap_err(), vec!["library_items[1].catalog: is required"]);
        assert_eq!(
            check(json!({ "catalog": [] })).unwrap_err(),
            vec!["library_items[1].catalog: expected an object, found an array"]
        );
        let errors = check(json!({ "catalog": { "version": "new", "install_type": "msi" } })).unwrap_err();
        let expected = [
            "library_items[1].catalog.name: is required",
            "library_items[1].catalog.version: \"new\" is not a version",
            "library_items[1].catalog.install_type: unknown install type \"msi\"",
            "library_items[1].catalog.url: is required",
            "library_items[1].catalog.sha256: is required",
            "library_items[1].catalog.app_name: is required",
            "library_items[1].catalog.bundle_id: is required",
        ];
        for fragment in expected {
            assert!(errors.iter().any(|error| error.starts_with(fragment)), "{fragment} not in {errors:#?}");
        }
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    }

    #[test]
    fn the_team_may_be_in_the_catalog_or_on_the_item_which_wins() {
        let catalog = json!({
            "name": "Firefox", "bundle_id": "org.mozilla.firefox", "version": "128.0",
            "url": "https://example.com/Firefox.pkg", "sha256": "0".repeat(64),
            "install_type": "pkg", "app_name": "Firefox.app", "team_id": "43AQ936H96"
        });
        let signature = check(json!({ "catalog": catalog })).unwrap().package.signature.unwrap();
        assert_eq!((signature.team_id.as_str(), signature.require_notarized), ("43AQ936H96", true));
        let item = json!({ "catalog": catalog, "team_id": "ABCDE12345", "require_notarized": false });
        let signature = check(item).unwrap().package.signature.unwrap();
        assert_eq!((signature.team_id.as_str(), signature.require_notarized), ("ABCDE12345", false));
        let mut plain = catalog.clone();
        plain.as_object_mut().unwrap().remove("team_id");
        let signature = check(json!({ "catalog": plain, "team_id": "ABCDE12345" })).unwrap().package.signature;
        assert_eq!(signature.unwrap().team_id, "ABCDE12345");
        assert_eq!(check(json!({ "catalog": plain })).unwrap().package.signature, None);
        let errors = check(json!({ "catalog": plain, "team_id": "nope" })).unwrap_err();
        assert!(errors[0].starts_with("library_items[1].team_id: must be an Apple Developer Team ID"), "{errors:?}");
        let errors = check(json!({ "catalog": plain, "require_notarized": true })).unwrap_err();
        assert!(errors[0].starts_with("library_items[1].require_notarized: needs team_id"), "{errors:?}");
    }
}
