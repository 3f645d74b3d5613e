//! An app item's `blocking_applications` and `force_install_after`: what must not
//! be running while its app is replaced, and from when the agent quits it anyway.
//!
//! ```json
//! { "blocking_applications": ["Foo.app", "/Applications/Foo Helper.app", "foo-daemon"],
//!   "force_install_after": "2026-12-31T17:00:00Z" }
//! ```
//! Without `blocking_applications`, the app being installed blocks its own install;
//! an empty list means nothing blocks it. As Munki's `blocking_applications` and
//! `force_install_after_date`.
//!
//! Each entry is read by its shape: an absolute path ending in `.app` is a bundle
//! at that path (under the agent's root), a name ending in `.app` is any bundle of
//! that name, any other name is a process name. At most 64 entries of 1 to 1024
//! characters, without control characters; a path holds no `..`.

use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::document::{Problems, join_key, resolve_time};

/// What keeps an app item from replacing its app, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Blocking {
    /// The applications that must not be running; `None`: the app being installed.
    pub applications: Option<Vec<BlockingApplication>>,
    /// From this moment on a blocking application is asked to quit, then stopped,
    /// and the app installed; until then the install waits. `None`: it always waits.
    pub force_install_after: Option<DateTime<Utc>>,
}

/// One entry of `blocking_applications`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockingApplication {
    /// An absolute path ending in `.app` (`/Applications/Foo.app`, read under the
    /// agent's root): a process whose executable lies inside that bundle.
    BundlePath(PathBuf),
    /// A bundle's name (`Foo.app`): a process whose executable lies inside a
    /// bundle of that name, wherever it is.
    BundleName(String),
    /// Any other name (`foo-daemon`): a process of that name.
    ProcessName(String),
}

impl BlockingApplication {
    /// The entry as the admin wrote it (normalised), for messages.
    pub fn as_text(&self) -> String {
        match self {
            BlockingApplication::BundlePath(path) => path.display().to_string(),
            BlockingApplication::BundleName(name) | BlockingApplication::ProcessName(name) => name.clone(),
        }
    }
}

/// The keys this module reads, for the item types' lists of known keys.
pub(crate) const KEYS: [&str; 2] = ["blocking_applications", "force_install_after"];

/// The most entries `blocking_applications` may have.
const MOST_ENTRIES: usize = 64;
/// The most characters one entry may have.
const LONGEST_ENTRY: usize = 1024;

/// Reads the item's `blocking_applications` and `force_install_after`, every
/// problem at once; `None` when one is wrong.
pub(crate) fn resolve(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<Blocking> {
    let applications = resolve_applications(object, key, problems);
    let force_install_after = resolve_time(object, key, "force_install_after", problems);
    Some(Blocking { applications: applications?, force_install_after: force_install_after? })
}

/// `Some(None)` when absent, `None` when wrong.
fn resolve_applications(
    object: &Map<String, Value>,
    parent: &str,
    problems: &mut Problems,
) -> Option<Option<Vec<BlockingApplication>>> {
    let key = join_key(parent, "blocking_applications");
    let entries = match object.get("blocking_applications") {
        None | Some(Value::Null) => return Some(None),
        Some(Value::Array(entries)) => entries,
        Some(other) => {
            problems.wrong_type(&key, "an array of strings", other);
            return None;
        }
    };
    if entries.len() > MOST_ENTRIES {
        problems.error(&key, &format!("has {} entries; at most {MOST_ENTRIES} are allowed", entries.len()));
        return None;
    }
    let mut applications = Vec::with_capacity(entries.len());
    let mut all_valid = true;
    for (index, entry) in entries.iter().enumerate() {
        let entry_key = format!("{key}[{index}]");
        let Value::String(text) = entry else {
            problems.wrong_type(&entry_key, "a string", entry);
            all_valid = false;
            continue;
        };
        match parse_application(text) {
            Ok(application) => applications.push(application),
            Err(message) => {
                problems.error(&entry_key, &message);
                all_valid = false;
            }
        }
    }
    all_valid.then_some(Some(applications))
}

/// Reads one entry by its shape; the problem, as a lowercase fragment, otherwise.
pub(crate) fn parse_application(text: &str) -> Result<BlockingApplication, String> {
    let length = text.chars().count();
    if text.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if length > LONGEST_ENTRY {
        return Err(format!("is longer than {LONGEST_ENTRY} characters"));
    }
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    let is_bundle = |name: &str| name.len() > ".app".len() && name.ends_with(".app");
    if text.starts_with('/') {
        let path = normalised_absolute(text).ok_or_else(|| format!("{text:?} must be a path without \"..\""))?;
        if !path.file_name().and_then(|name| name.to_str()).is_some_and(is_bundle) {
            return Err(format!("{text:?} is a path, so it must name an app bundle ending in .app"));
        }
        return Ok(BlockingApplication::BundlePath(path));
    }
    if text.contains('/') {
        return Err(format!(
            "{text:?} must be an absolute path to an app (\"/Applications/Foo.app\"), a bundle name (\"Foo.app\") or a process name (\"foo-daemon\")"
        ));
    }
    if is_bundle(text) {
        Ok(BlockingApplication::BundleName(text.to_string()))
    } else {
        Ok(BlockingApplication::ProcessName(text.to_string()))
    }
}

/// `text` (absolute) with repeated `/` and `.` removed; `None` when it holds `..`.
fn normalised_absolute(text: &str) -> Option<PathBuf> {
    let mut path = PathBuf::from("/");
    for component in Path::new(text).components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(name) => path.push(name),
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(path)
}

#[cfg(test)]
#[path = "blocking_tests.rs"]
mod tests;
