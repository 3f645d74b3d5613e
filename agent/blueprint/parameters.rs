//! The blueprint's `parameters`: device-wide settings enforced before the library
//! items, at every check-in (managed files and plists) or in the daily one only
//! (home folders, folder permissions).
//!
//! Each parameter checks its own keys in its own file under `parameters/`; this
//! file only dispatches and warns about keys no parameter knows. A parameter that
//! is absent, `false`, or an empty list is off: it is not enforced and not reported.

mod device_path;
mod folder_permissions;
mod managed_file;
mod managed_plist;
mod values;

#[cfg(test)]
mod tests;

pub use device_path::DevicePath;
pub use folder_permissions::FolderPermissions;
pub use managed_file::{Account, ManagedFile};
pub use managed_plist::{ManagedPlistKey, PlistFormat};

use serde_json::{Map, Value};

use super::document::{Problems, join_key};

/// The blueprint's parameters, checked and typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parameters {
    /// `secure_home_folders`: every home folder under `/Users` loses its group and
    /// other permissions (daily check-in).
    pub secure_home_folders: bool,
    /// `folder_permissions`: world-writable entries are reported and, unless told
    /// otherwise, fixed (daily check-in).
    pub folder_permissions: Option<FolderPermissions>,
    /// `managed_files`: files whose content, mode and owner are put back at every check-in.
    pub managed_files: Vec<ManagedFile>,
    /// `managed_plists`: plist keys whose value is put back at every check-in.
    pub managed_plists: Vec<ManagedPlistKey>,
}

/// The parameter keys this agent knows.
const KEYS: [&str; 4] = ["secure_home_folders", "folder_permissions", "managed_files", "managed_plists"];

/// Checks the `parameters` object; every problem goes to `problems` with its key path.
pub(crate) fn resolve(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> Parameters {
    problems.warn_unknown_keys(key, object, &[&KEYS]);
    let secure_home_folders = match object.get("secure_home_folders") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(enabled)) => *enabled,
        Some(other) => {
            problems.wrong_type(&join_key(key, "secure_home_folders"), "true or false", other);
            false
        }
    };
    let folder_permissions = folder_permissions::resolve(object.get("folder_permissions"), key, problems);
    let managed_files = resolve_list(object, key, "managed_files", problems, managed_file::resolve_all);
    let managed_plists = resolve_list(object, key, "managed_plists", problems, managed_plist::resolve_all);
    Parameters { secure_home_folders, folder_permissions, managed_files, managed_plists }
}

/// The entries of the list at `parent.field`, each checked by `resolve_entries`.
fn resolve_list<T>(
    object: &Map<String, Value>,
    parent: &str,
    field: &str,
    problems: &mut Problems,
    resolve_entries: fn(&[Value], &str, &mut Problems) -> Vec<T>,
) -> Vec<T> {
    let key = join_key(parent, field);
    match object.get(field) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(entries)) => resolve_entries(entries, &key, problems),
        Some(other) => {
            problems.wrong_type(&key, "an array", other);
            Vec::new()
        }
    }
}
