//! `folder_permissions`: which folders the daily check-in searches for
//! world-writable entries, and whether it fixes them.
//!
//! `true` checks the default folders and fixes what it finds; an object sets
//! `folders`, `fix`, `max_depth` and `max_entries`:
//! ```json
//! { "folders": ["/Applications", "/Library/Application Support"], "fix": true,
//!   "max_depth": 5, "max_entries": 100000 }
//! ```

use serde_json::{Map, Value};

use super::device_path::DevicePath;
use super::values::{optional_bool, optional_count, path_from_text};
use crate::blueprint::document::{Problems, join_key};

/// The folder permission check's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderPermissions {
    /// The folders searched, each with everything below it.
    pub folders: Vec<DevicePath>,
    /// Clear the world-write bit of what is found (else only report it).
    pub fix: bool,
    /// How many folder levels below each folder are searched.
    pub max_depth: u32,
    /// How many entries of each folder are examined at most, so a huge tree cannot stall a check-in.
    pub max_entries: u32,
}

/// The folders of CIS macOS 5.1.5 and 5.1.6: system-wide apps and the writable
/// part of the system folder.
pub const DEFAULT_FOLDERS: [&str; 2] = ["/Applications", "/System/Volumes/Data/System"];
/// Deep enough for an app bundle's `Contents/MacOS`, `Contents/Resources/*` and
/// framework binaries; shallow enough to stay quick on `Xcode.app`.
pub const DEFAULT_MAX_DEPTH: u32 = 5;
/// About a second of `lstat` calls on an SSD.
pub const DEFAULT_MAX_ENTRIES: u32 = 100_000;

impl Default for FolderPermissions {
    fn default() -> Self {
        Self {
            folders: DEFAULT_FOLDERS.iter().filter_map(|text| DevicePath::parse(text).ok()).collect(),
            fix: true,
            max_depth: DEFAULT_MAX_DEPTH,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

const KEYS: [&str; 4] = ["folders", "fix", "max_depth", "max_entries"];

/// Checks `parent.folder_permissions`: absent or `false` is off, `true` the defaults.
pub(super) fn resolve(value: Option<&Value>, parent: &str, problems: &mut Problems) -> Option<FolderPermissions> {
    let key = join_key(parent, "folder_permissions");
    let object = match value {
        None | Some(Value::Null) | Some(Value::Bool(false)) => return None,
        Some(Value::Bool(true)) => return Some(FolderPermissions::default()),
        Some(Value::Object(object)) => object,
        Some(other) => {
            problems.wrong_type(&key, "true, false or an object", other);
            return None;
        }
    };
    problems.warn_unknown_keys(&key, object, &[&KEYS]);
    let defaults = FolderPermissions::default();
    let folders = resolve_folders(object, &key, problems).unwrap_or(defaults.folders);
    Some(FolderPermissions {
        folders,
        fix: optional_bool(object, &key, "fix", defaults.fix, problems),
        max_depth: optional_count(object, &key, "max_depth", defaults.max_depth, problems),
        max_entries: optional_count(object, &key, "max_entries", defaults.max_entries, problems),
    })
}

/// The `folders` list, or `None` for the defaults; duplicates are checked once.
fn resolve_folders(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<Vec<DevicePath>> {
    let folders_key = join_key(key, "folders");
    let entries = match object.get("folders") {
        None | Some(Value::Null) => return None,
        Some(Value::Array(entries)) if entries.is_empty() => {
            problems.error(&folders_key, "must name at least one folder (leave it out for the defaults)");
            return None;
        }
        Some(Value::Array(entries)) => entries,
        Some(other) => {
            problems.wrong_type(&folders_key, "an array of paths", other);
            return None;
        }
    };
    let mut folders = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let entry_key = format!("{folders_key}[{index}]");
        match entry {
            Value::String(text) => {
                if let Some(path) = path_from_text(text, &entry_key, problems).filter(|path| !folders.contains(path)) {
                    folders.push(path);
                }
            }
            other => problems.wrong_type(&entry_key, "a path", other),
        }
    }
    Some(folders)
}
