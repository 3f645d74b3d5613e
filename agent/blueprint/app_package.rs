//! The keys custom apps and auto apps share: where the installer comes from, its
//! sha256, how it installs, and where the app lands.
//!
//! Rules an admin must know (checked here, before anything runs):
//! - `url` is `https://…`, `file:///…` (a path on the device, under the agent's
//!   root like every path), or `http://…` only to a loopback host (`127.0.0.1`,
//!   `[::1]`, `localhost`), which exists for local tests and mirrors. Redirects
//!   are held to the same rule when followed.
//! - `sha256` is 64 hexadecimal digits; the download is checked against it before
//!   anything is installed.
//! - `app_name` is the bundle's name under Applications (`"Foo.app"`,
//!   `"Utilities/Foo.app"`) or an absolute path (`"/Applications/Foo.app"`), joined
//!   under the agent's root; `..` is refused.
//! - `team_id` (optional) is the Apple Developer Team ID (10 uppercase letters
//!   or digits) that must have signed the installer and the app, checked before
//!   anything is placed; `require_notarized` (default `true` when `team_id` is
//!   set) also asks Gatekeeper for a notarized Developer ID. `require_notarized`
//!   alone, without a team, is an error.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use reqwest::Url;
use serde_json::{Map, Value};

use super::document::{Problems, join_key};
use crate::network_rules::{self, is_allowed_http};
use crate::paths::AgentPaths;

/// How the downloaded file installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallSource {
    /// A flat installer package, run through `installer -pkg … -target /`.
    Pkg,
    /// A disk image holding the `.app`, copied out with `ditto`.
    Dmg,
    /// A zip archive holding the `.app`, unpacked by the agent itself.
    Zip,
}

impl InstallSource {
    const NAMES: [(&'static str, InstallSource); 3] =
        [("pkg", InstallSource::Pkg), ("dmg", InstallSource::Dmg), ("zip", InstallSource::Zip)];

    /// The name used in blueprints, and the cached file's extension.
    pub fn as_str(self) -> &'static str {
        Self::NAMES.iter().find(|(_, source)| *source == self).map_or("zip", |(name, _)| name)
    }

    fn parse(text: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(name, _)| *name == text).map(|(_, source)| *source)
    }
}

/// Where a download comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownloadUrl {
    /// `https://` anywhere, or `http://` to a loopback host.
    Http(Url),
    /// `file:///path`: a file on the device; the path is joined under the agent's root.
    File(PathBuf),
}

impl DownloadUrl {
    /// The URL for messages and logs: scheme, host and path, never the query
    /// (signed download links carry credentials there).
    pub fn redacted(&self) -> String {
        match self {
            DownloadUrl::Http(url) => network_rules::redacted(url),
            DownloadUrl::File(path) => format!("file://{}", path.display()),
        }
    }
}

impl fmt::Display for DownloadUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.redacted())
    }
}

/// Where the app bundle lives on the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppLocation {
    /// A path under the Applications folder, such as `Foo.app`.
    InApplications(PathBuf),
    /// A path from the device's root, such as `Library/Foo/Foo.app` (given as `/Library/Foo/Foo.app`).
    FromRoot(PathBuf),
}

impl AppLocation {
    /// The bundle's path on this device (under the agent's root).
    pub fn resolve(&self, paths: &AgentPaths) -> PathBuf {
        match self {
            AppLocation::InApplications(relative) => paths.applications_dir.join(relative),
            AppLocation::FromRoot(relative) => paths.root.join(relative),
        }
    }

    /// The bundle's file name, such as `Foo.app`.
    pub fn bundle_name(&self) -> &str {
        let relative = match self {
            AppLocation::InApplications(relative) | AppLocation::FromRoot(relative) => relative,
        };
        relative.file_name().and_then(|name| name.to_str()).unwrap_or_default()
    }

    /// The path as a Mac admin reads it: `/Applications/Foo.app`.
    pub fn display_path(&self) -> String {
        match self {
            AppLocation::InApplications(relative) => format!("/Applications/{}", relative.display()),
            AppLocation::FromRoot(relative) => format!("/{}", relative.display()),
        }
    }
}

/// The installer of one app: where to fetch it, what it must hash to, how it
/// installs, and which bundle it puts where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPackage {
    /// How the file installs.
    pub source: InstallSource,
    /// Where the file comes from.
    pub url: DownloadUrl,
    /// The file's sha256, 64 lowercase hexadecimal digits.
    pub sha256: String,
    /// Where the app bundle lives once installed.
    pub app: AppLocation,
    /// The bundle identifier the installed app must have, when given.
    pub bundle_id: Option<String>,
    /// Who must have signed the installer and the app; `None` leaves the sha256
    /// as the only check.
    pub signature: Option<SignatureRequirement>,
}

/// The signature an app's installer and app must carry before anything is placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureRequirement {
    /// The Apple Developer Team ID of the signing certificate, such as `ABCDE12345`.
    pub team_id: String,
    /// Whether Gatekeeper must also find the code notarized (`source=Notarized Developer ID`).
    pub require_notarized: bool,
}

/// The keys naming a signature requirement.
pub(crate) const SIGNATURE_KEYS: [&str; 2] = ["team_id", "require_notarized"];

/// Whether `text` has the form of an Apple Team ID: ten uppercase letters or digits.
pub(crate) fn is_team_id(text: &str) -> bool {
    text.len() == 10 && text.bytes().all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit())
}

/// The signature keys of one object, read but not yet combined: an auto app may
/// give them in its catalog entry and on the item, where they win.
#[derive(Debug, Default)]
pub(crate) struct SignatureKeys {
    /// `team_id`, already checked.
    team_id: Option<String>,
    /// `require_notarized` and its key path, for an error naming it.
    require_notarized: Option<(bool, String)>,
}

impl SignatureKeys {
    /// Reads `team_id` and `require_notarized` of `object` (at key path `parent`).
    pub(crate) fn read(object: &Map<String, Value>, parent: &str, problems: &mut Problems) -> Self {
        let team_id = problems.optional_text(object, parent, "team_id").and_then(|text| {
            let text = text.trim().to_string();
            if is_team_id(&text) {
                return Some(text);
            }
            let message = "must be an Apple Developer Team ID: 10 uppercase letters or digits, such as \"ABCDE12345\"";
            problems.error(&join_key(parent, "team_id"), message);
            None
        });
        let key = join_key(parent, "require_notarized");
        let require_notarized = match object.get("require_notarized") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(flag)) => Some((*flag, key)),
            Some(other) => {
                problems.wrong_type(&key, "true or false", other);
                None
            }
        };
        Self { team_id, require_notarized }
    }

    /// These keys where given, `fallback`'s where not.
    pub(crate) fn or(self, fallback: SignatureKeys) -> SignatureKeys {
        SignatureKeys {
            team_id: self.team_id.or(fallback.team_id),
            require_notarized: self.require_notarized.or(fallback.require_notarized),
        }
    }

    /// The requirement these keys make: none without `team_id` (then
    /// `require_notarized` is an error), notarization required unless turned off.
    fn requirement(self, problems: &mut Problems) -> Option<SignatureRequirement> {
        let Some(team_id) = self.team_id else {
            if let Some((_, key)) = self.require_notarized {
                problems.error(&key, "needs team_id: notarization is checked for the team that signed the app");
            }
            return None;
        };
        let require_notarized = self.require_notarized.is_none_or(|(flag, _)| flag);
        Some(SignatureRequirement { team_id, require_notarized })
    }
}

/// The key names one item type uses for the package fields.
pub(crate) struct PackageKeys {
    /// The key naming the install type: `source` or `install_type`.
    pub source: &'static str,
    /// Whether `bundle_id` must be given.
    pub bundle_id_required: bool,
    /// Signature keys given outside the package's object (an auto app's item
    /// level), which win over the object's own.
    pub outer_signature: SignatureKeys,
}

/// Checks the package keys of `object` (at key path `parent`), every problem at once.
pub(crate) fn resolve(
    object: &Map<String, Value>,
    parent: &str,
    keys: PackageKeys,
    problems: &mut Problems,
) -> Option<AppPackage> {
    let source = problems.required_text(object, parent, keys.source).and_then(|text| {
        let source = InstallSource::parse(&text);
        if source.is_none() {
            problems.error(
                &join_key(parent, keys.source),
                &format!("unknown install type {text:?} (expected pkg, dmg or zip)"),
            );
        }
        source
    });
    let url = problems.required_text(object, parent, "url").and_then(|text| resolve_url(&text, parent, problems));
    let sha256 =
        problems.required_text(object, parent, "sha256").and_then(|text| resolve_sha256(&text, parent, problems));
    let app = problems.required_text(object, parent, "app_name").and_then(|text| resolve_app(&text, parent, problems));
    let bundle_id = if keys.bundle_id_required {
        problems.required_text(object, parent, "bundle_id")
    } else {
        problems.optional_text(object, parent, "bundle_id").filter(|text| !text.trim().is_empty())
    };
    let bundle_missing = keys.bundle_id_required && bundle_id.is_none();
    let signature = keys.outer_signature.or(SignatureKeys::read(object, parent, problems)).requirement(problems);
    let (source, url, sha256, app) = (source?, url?, sha256?, app?);
    if bundle_missing {
        return None;
    }
    Some(AppPackage { source, url, sha256, app, bundle_id, signature })
}

fn resolve_url(text: &str, parent: &str, problems: &mut Problems) -> Option<DownloadUrl> {
    let key = join_key(parent, "url");
    let url = match Url::parse(text.trim()) {
        Ok(url) => url,
        Err(error) => {
            problems.error(&key, &format!("{:?} is not a URL ({error})", network_rules::redacted_text(text)));
            return None;
        }
    };
    if url.scheme() == "file" {
        let path = url.host_str().filter(|host| !host.is_empty()).map_or_else(|| url.to_file_path().ok(), |_| None);
        let relative = path.as_deref().and_then(|path| relative_path(path, true));
        if relative.is_none() {
            problems.error(&key, "a file:// URL must be an absolute path on this device, without a host or \"..\"");
        }
        return relative.map(|relative| DownloadUrl::File(Path::new("/").join(relative)));
    }
    if !is_allowed_http(&url) {
        let shown = network_rules::redacted(&url);
        let message = "must be https://, file:///, or http:// to a loopback host (127.0.0.1, [::1], localhost)";
        problems.error(&key, &format!("{message}; found {shown:?}"));
        return None;
    }
    Some(DownloadUrl::Http(url))
}

fn resolve_sha256(text: &str, parent: &str, problems: &mut Problems) -> Option<String> {
    let digest = text.trim().to_ascii_lowercase();
    if digest.len() == 64 && digest.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Some(digest);
    }
    problems.error(&join_key(parent, "sha256"), "must be 64 hexadecimal digits (the file's SHA-256)");
    None
}

fn resolve_app(text: &str, parent: &str, problems: &mut Problems) -> Option<AppLocation> {
    let absolute = text.starts_with('/');
    let location = relative_path(Path::new(text), absolute)
        .filter(|relative| relative.extension().is_some_and(|extension| extension == "app"))
        .map(|relative| if absolute { AppLocation::FromRoot(relative) } else { AppLocation::InApplications(relative) });
    if location.is_none() {
        let message =
            "must name an app bundle ending in .app, such as \"Foo.app\" or \"/Applications/Foo.app\", without \"..\"";
        problems.error(&join_key(parent, "app_name"), message);
    }
    location
}

/// `path` without its leading `/` when it is made of plain names only.
fn relative_path(path: &Path, absolute: bool) -> Option<PathBuf> {
    let mut relative = PathBuf::new();
    for (index, component) in path.components().enumerate() {
        match component {
            Component::RootDir if absolute && index == 0 => {}
            Component::Normal(name) => relative.push(name),
            _ => return None,
        }
    }
    (!relative.as_os_str().is_empty()).then_some(relative)
}
