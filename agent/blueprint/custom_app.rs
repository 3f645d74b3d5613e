//! A custom app item's keys: the admin's own pkg, dmg or zip, and how it is enforced.
//!
//! ```json
//! { "id": "li-7", "name": "Foo", "type": "custom_app",
//!   "source": "zip", "url": "https://downloads.example.com/Foo-2.1.zip",
//!   "sha256": "<64 hex digits>", "app_name": "Foo.app",
//!   "bundle_id": "com.example.foo", "version": "2.1",
//!   "enforcement": "audit_and_enforce", "team_id": "ABCDE12345" }
//! ```
//! The package keys are checked in [`super::app_package`]; `version` is the
//! minimum `CFBundleShortVersionString` that audit-and-enforce accepts;
//! `blocking_applications` and `force_install_after` in [`super::blocking`];
//! `team_id` and `require_notarized` (the signature checked before anything is
//! placed) with the package keys.

use serde_json::{Map, Value};

use super::app_package::{self, AppPackage, PackageKeys, SIGNATURE_KEYS, SignatureKeys};
use super::blocking::{self, Blocking};
use super::document::{Problems, join_key};
use super::resolve::COMMON_ITEM_KEYS;
use crate::version::AppVersion;

/// A custom app: an installer the admin uploaded, and how it is enforced.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomApp {
    /// Where the installer comes from and which app it puts where.
    pub package: AppPackage,
    /// The lowest version audit-and-enforce accepts; without it, presence is enough.
    pub minimum_version: Option<AppVersion>,
    /// What the agent does when the app is missing or old.
    pub enforcement: Enforcement,
    /// What must not be running while the app is replaced.
    pub blocking: Blocking,
}

/// What the agent does about a custom app, as Kandji names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    /// Install when the agent never installed it on this device; a later deletion is left alone.
    InstallOnce,
    /// Re-install whenever the app is missing or below `version`.
    AuditAndEnforce,
    /// Only report whether the app is there, and its version.
    NoEnforcement,
    /// Only when someone asks for it in Self Service; it then installs as
    /// `AuditAndEnforce` does. A custom app or an auto app may have it.
    SelfService,
}

impl Enforcement {
    const NAMES: [(&'static str, Enforcement); 4] = [
        ("install_once", Enforcement::InstallOnce),
        ("audit_and_enforce", Enforcement::AuditAndEnforce),
        ("no_enforcement", Enforcement::NoEnforcement),
        ("self_service", Enforcement::SelfService),
    ];

    /// The name used in blueprints.
    pub fn as_str(self) -> &'static str {
        Self::NAMES.iter().find(|(_, enforcement)| *enforcement == self).map_or("install_once", |(name, _)| name)
    }

    /// Reads the `enforcement` key of the item at `key` when its value is one of
    /// `allowed`; an error naming the key (and the allowed values) otherwise.
    pub(crate) fn resolve(
        object: &Map<String, Value>,
        key: &str,
        allowed: &[Enforcement],
        problems: &mut Problems,
    ) -> Option<Enforcement> {
        let text = problems.required_text(object, key, "enforcement")?;
        let found = allowed.iter().copied().find(|enforcement| enforcement.as_str() == text);
        if found.is_none() {
            let names: Vec<&str> = allowed.iter().map(|enforcement| enforcement.as_str()).collect();
            let message = format!("unknown enforcement {text:?} (expected one of {})", names.join(", "));
            problems.error(&join_key(key, "enforcement"), &message);
        }
        found
    }
}

/// Every enforcement a custom app may have.
const ENFORCEMENTS: [Enforcement; 4] =
    [Enforcement::InstallOnce, Enforcement::AuditAndEnforce, Enforcement::NoEnforcement, Enforcement::SelfService];
const KEYS: [&str; 7] = ["source", "url", "sha256", "app_name", "bundle_id", "version", "enforcement"];

/// Checks a custom app item's own keys.
pub(crate) fn resolve(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<CustomApp> {
    problems.warn_unknown_keys(key, object, &[&COMMON_ITEM_KEYS, &KEYS, &SIGNATURE_KEYS, &blocking::KEYS]);
    let keys = PackageKeys { source: "source", bundle_id_required: false, outer_signature: SignatureKeys::default() };
    let package = app_package::resolve(object, key, keys, problems);
    let minimum_version = match problems.optional_text(object, key, "version") {
        None => Ok(None),
        Some(text) => AppVersion::parse(&text).map(Some).map_err(|error| {
            problems.error(&join_key(key, "version"), &error.to_string());
        }),
    };
    let enforcement = Enforcement::resolve(object, key, &ENFORCEMENTS, problems);
    let blocking = blocking::resolve(object, key, problems);
    Some(CustomApp {
        package: package?,
        minimum_version: minimum_version.ok()?,
        enforcement: enforcement?,
        blocking: blocking?,
    })
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use serde_json::json;

    use super::*;
    use crate::blueprint::{AppLocation, BlockingApplication, DownloadUrl, InstallSource};

    const DIGEST: &str = "AB0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd";

    fn check(item: Value) -> (Option<CustomApp>, Vec<String>) {
        let mut problems = Problems::new(Path::new("/bp.json"));
        let resolved = resolve(item.as_object().unwrap(), "library_items[0]", &mut problems);
        match problems.finish(resolved) {
            Ok((resolved, warnings)) => (resolved, warnings),
            Err(errors) => (None, errors.0.iter().map(|error| format!("{}: {}", error.key, error.message)).collect()),
        }
    }

    #[test]
    fn a_complete_item_resolves() {
        let (app, warnings) = check(json!({
            "id": "a", "name": "Foo", "type": "custom_app", "source": "dmg",
            "url": "https://example.com/Foo.dmg?signature=secret", "sha256": DIGEST,
            "app_name": "/Applications/Utilities/Foo.app", "bundle_id": "com.example.foo",
            "version": "2.1", "enforcement": "audit_and_enforce", "colour": "red",
            "blocking_applications": ["Foo.app", "foo-daemon"], "force_install_after": "2026-12-31T17:00:00Z"
        }));
        let app = app.expect("valid");
        assert_eq!(app.package.source, InstallSource::Dmg);
        assert_eq!(app.package.sha256, DIGEST.to_ascii_lowercase());
        assert_eq!(app.package.app, AppLocation::FromRoot(PathBuf::from("Applications/Utilities/Foo.app")));
        assert_eq!(app.package.url.redacted(), "https://example.com/Foo.dmg", "the query never shows");
        assert_eq!(app.minimum_version.unwrap().as_str(), "2.1");
        assert_eq!(app.enforcement, Enforcement::AuditAndEnforce);
        let blocking = app.blocking;
        assert_eq!(
            blocking.applications,
            Some(vec![BlockingApplication::BundleName("Foo.app".into()), BlockingApplication::ProcessName("foo-daemon".into())])
        );
        assert_eq!(blocking.force_install_after.unwrap().to_rfc3339(), "2026-12-31T17:00:00+00:00");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("library_items[0].colour"));
    }

    #[test]
    fn urls_follow_the_transport_rule() {
        let base = json!({ "source": "zip", "sha256": DIGEST, "app_name": "Foo.app", "enforcement": "install_once" });
        let with_url = |url: &str| {
            let mut item = base.clone();
            item["url"] = json!(url);
            check(item)
        };
        for allowed in
            ["https://example.com/a.zip", "http://127.0.0.1:8080/a.zip", "http://[::1]/a", "http://localhost/a"]
        {
            assert!(with_url(allowed).0.is_some(), "{allowed} is allowed");
        }
        let file = with_url("file:///Users/Shared/Foo.zip").0.unwrap();
        assert_eq!(file.package.url, DownloadUrl::File(PathBuf::from("/Users/Shared/Foo.zip")));
        for refused in
            ["http://example.com/a.zip", "http://10.0.0.1/a", "ftp://example.com/a", "file://server/a.zip", "nope"]
        {
            let (resolved, errors) = with_url(refused);
            assert!(resolved.is_none() && errors[0].starts_with("library_items[0].url: "), "{refused}: {errors:?}");
        }
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let (resolved, errors) = check(json!({
            "source": "exe", "url": "http://example.com/x", "sha256": "abc", "app_name": "../Foo.app",
            "version": "latest", "enforcement": "sometimes", "bundle_id": 7,
            "blocking_applications": ["Foo.app", "Library/Foo.app"], "force_install_after": "soon"
        }));
        assert!(resolved.is_none());
        let expected = [
            "library_items[0].source: unknown install type \"exe\"",
            "library_items[0].url: must be https://",
            "library_items[0].sha256: must be 64 hexadecimal digits",
            "library_items[0].app_name: must name an app bundle",
            "library_items[0].bundle_id: expected a string",
            "library_items[0].version: \"latest\" is not a version",
            "library_items[0].enforcement: unknown enforcement \"sometimes\"",
            "library_items[0].blocking_applications[1]: \"Library/Foo.app\" must be an absolute path",
            "library_items[0].force_install_after: \"soon\" is not a date",
        ];
        for fragment in expected {
            assert!(errors.iter().any(|error| error.starts_with(fragment)), "{fragment} not in {errors:#?}");
        }
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        let (_, missing) = check(json!({}));
        for key in ["source", "url", "sha256", "app_name", "enforcement"] {
            assert!(missing.contains(&format!("library_items[0].{key}: is required")), "{key}: {missing:?}");
        }
        for app_name in ["Foo", "/", "Foo.app/../../x.app", "./Foo.app"] {
            let mut item =
                json!({ "source": "zip", "url": "https://e.com/a", "sha256": DIGEST, "enforcement": "install_once" });
            item["app_name"] = json!(app_name);
            assert!(check(item).0.is_none(), "{app_name} is refused");
        }
    }

    #[test]
    fn a_team_id_asks_for_a_notarized_signature_unless_turned_off() {
        let base = json!({ "source": "pkg", "url": "https://e.com/a.pkg", "sha256": DIGEST, "app_name": "Foo.app",
                           "enforcement": "install_once" });
        let with = |extra: Value| {
            let mut item = base.clone();
            item.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            check(item)
        };
        assert_eq!(with(json!({})).0.unwrap().package.signature, None, "no team, no signature check");
        let signature = with(json!({ "team_id": "ABCDE12345" })).0.unwrap().package.signature.unwrap();
        assert_eq!((signature.team_id.as_str(), signature.require_notarized), ("ABCDE12345", true));
        let signature =
            with(json!({ "team_id": "ABCDE12345", "require_notarized": false })).0.unwrap().package.signature.unwrap();
        assert!(!signature.require_notarized);
        let cases = [
            (json!({ "team_id": "abcde12345" }), "library_items[0].team_id: must be an Apple Developer Team ID"),
            (json!({ "team_id": "ABCDE" }), "library_items[0].team_id: must be an Apple Developer Team ID"),
            (json!({ "team_id": 12 }), "library_items[0].team_id: expected a string"),
            (json!({ "team_id": "ABCDE12345", "require_notarized": "yes" }), "library_items[0].require_notarized: expected true or false"),
            (json!({ "require_notarized": true }), "library_items[0].require_notarized: needs team_id"),
        ];
        for (extra, expected) in cases {
            let (resolved, errors) = with(extra.clone());
            assert!(resolved.is_none(), "{extra}");
            assert!(errors.len() == 1 && errors[0].starts_with(expected), "{extra}: {errors:?}");
        }
    }
}
