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
//!
//! The admin's own scripts, each a whole script that starts with `#!`:
//! `audit_script` (exit 0: compliant, replacing the built-in check of presence
//! and version), `preinstall_script` (before anything is placed; non-zero: nothing
//! is installed) and `postinstall_script` (after the app is placed and read back).
//! `restart: true` restarts the Mac after an install (see `items::app_flow`).

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
    /// The admin's own scripts around the install.
    pub scripts: AppScripts,
    /// The Mac restarts after the app is installed.
    pub restart: bool,
}

/// A custom app's own scripts, each a whole script that starts with `#!`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppScripts {
    /// Replaces the built-in check: exit 0 means compliant and nothing is
    /// installed; any other exit installs as the enforcement says.
    pub audit: Option<String>,
    /// Runs after the download is verified, before anything is placed; a
    /// non-zero exit installs nothing and fails the item.
    pub preinstall: Option<String>,
    /// Runs after the app is placed and read back; a non-zero exit fails the
    /// item, and the app stays.
    pub postinstall: Option<String>,
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
const KEYS: [&str; 11] = [
    "source",
    "url",
    "sha256",
    "app_name",
    "bundle_id",
    "version",
    "enforcement",
    "audit_script",
    "preinstall_script",
    "postinstall_script",
    "restart",
];

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
    let scripts = AppScripts {
        audit: script(object, key, "audit_script", problems),
        preinstall: script(object, key, "preinstall_script", problems),
        postinstall: script(object, key, "postinstall_script", problems),
    };
    let restart = match object.get("restart") {
        None | Some(Value::Null) => Some(false),
        Some(Value::Bool(flag)) => Some(*flag),
        Some(other) => {
            problems.wrong_type(&join_key(key, "restart"), "true or false", other);
            None
        }
    };
    Some(CustomApp {
        package: package?,
        minimum_version: minimum_version.ok()?,
        enforcement: enforcement?,
        blocking: blocking?,
        scripts,
        restart: restart?,
    })
}

/// The script at `parent.field`, if given: it must start with `#!`, so its own
/// shebang picks the interpreter. A wrong one is an error (and read as absent).
fn script(object: &Map<String, Value>, parent: &str, field: &str, problems: &mut Problems) -> Option<String> {
    let source = problems.optional_text(object, parent, field)?;
    if source.starts_with("#!") {
        return Some(source);
    }
    problems.error(&join_key(parent, field), "must start with a shebang line such as #!/bin/sh");
    None
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

    #[test]
    fn scripts_must_start_with_a_shebang_and_restart_is_a_flag() {
        let base = json!({ "source": "zip", "url": "https://e.com/a.zip", "sha256": DIGEST, "app_name": "Foo.app",
                           "enforcement": "audit_and_enforce" });
        let plain = check(base.clone()).0.unwrap();
        assert_eq!((plain.scripts, plain.restart), (AppScripts::default(), false));
        let mut item = base.clone();
        item.as_object_mut().unwrap().extend(
            json!({ "audit_script": "#!/bin/sh\nexit 1\n", "preinstall_script": "#!/bin/zsh\n",
                    "postinstall_script": "#!/bin/sh\ntouch licence\n", "restart": true })
            .as_object()
            .unwrap()
            .clone(),
        );
        let (app, warnings) = check(item);
        let app = app.unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(app.scripts.audit.as_deref(), Some("#!/bin/sh\nexit 1\n"));
        assert_eq!(app.scripts.preinstall.as_deref(), Some("#!/bin/zsh\n"));
        assert_eq!(app.scripts.postinstall.as_deref(), Some("#!/bin/sh\ntouch licence\n"));
        assert!(app.restart);
        let mut wrong = base;
        wrong.as_object_mut().unwrap().extend(
            json!({ "audit_script": "exit 0", "preinstall_script": 3, "postinstall_script": " #!/bin/sh",
                    "restart": "yes" })
            .as_object()
            .unwrap()
            .clone(),
        );
        let (resolved, errors) = check(wrong);
        assert!(resolved.is_none());
        let expected = [
            "library_items[0].audit_script: must start with a shebang line such as #!/bin/sh",
            "library_items[0].preinstall_script: expected a string, found the number 3",
            "library_items[0].postinstall_script: must start with a shebang line such as #!/bin/sh",
            "library_items[0].restart: expected true or false, found the string \"yes\"",
        ];
        assert_eq!(errors, expected);
    }
}
