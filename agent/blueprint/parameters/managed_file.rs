//! `managed_files`: files the agent keeps exactly as declared.
//!
//! ```json
//! { "path": "/etc/motd", "content": "Authorized use only.\n",
//!   "mode": "0644", "owner": "root", "group": "wheel" }
//! ```
//! `content` is text; `content_base64` carries binary content instead (exactly one
//! of the two). `mode` is an octal string; `owner` and `group` are names or ids.
//! Left out, the mode, owner or group of an existing file is not enforced, and a
//! file the agent creates gets `0644` and the agent's own user and group.
//!
//! A mode with set-user-id, set-group-id, sticky or world-write bits (`4755`,
//! `0666`) is refused unless the entry says `"allow_special_modes": true`: a
//! root-owned setuid file or a world-writable one in a system folder is how a
//! typo becomes a privilege escalation.

use std::collections::HashMap;
use std::fmt;

use base64::Engine;
use serde_json::{Map, Value};

use super::device_path::DevicePath;
use super::values::required_path;
use crate::blueprint::document::{Problems, join_key};

/// One managed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedFile {
    /// Where the file lives on the Mac.
    pub path: DevicePath,
    /// Its exact content.
    pub content: Vec<u8>,
    /// Its permission bits (`0o644`), when enforced; special bits only when the
    /// entry allowed them.
    pub mode: Option<u32>,
    /// Its owner, when enforced.
    pub owner: Option<Account>,
    /// Its group, when enforced.
    pub group: Option<Account>,
}

/// A user or group as the blueprint names it; names are looked up at each check-in,
/// so an account created after the blueprint arrived is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    /// A name such as `root` or `wheel`.
    Name(String),
    /// A numeric id such as `0`.
    Id(u32),
}

impl fmt::Display for Account {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::Name(name) => formatter.write_str(name),
            Account::Id(id) => write!(formatter, "{id}"),
        }
    }
}

const KEYS: [&str; 7] = ["path", "content", "content_base64", "mode", "owner", "group", "allow_special_modes"];

/// Set-user-id, set-group-id and sticky bits, and the world-write bit.
const SPECIAL_MODE_BITS: u32 = 0o7002;

/// Checks every entry of `managed_files`; a path may be declared only once.
pub(super) fn resolve_all(entries: &[Value], key: &str, problems: &mut Problems) -> Vec<ManagedFile> {
    let mut first_index_of_path: HashMap<DevicePath, usize> = HashMap::new();
    let mut files = Vec::new();
    for (index, value) in entries.iter().enumerate() {
        let entry_key = format!("{key}[{index}]");
        let Some(file) = resolve(value, &entry_key, problems) else { continue };
        if let Some(first) = first_index_of_path.get(&file.path) {
            let message = format!("{} is already declared by {key}[{first}]", file.path);
            problems.error(&join_key(&entry_key, "path"), &message);
            continue;
        }
        first_index_of_path.insert(file.path.clone(), index);
        files.push(file);
    }
    files
}

fn resolve(value: &Value, key: &str, problems: &mut Problems) -> Option<ManagedFile> {
    let Some(object) = value.as_object() else {
        problems.wrong_type(key, "an object", value);
        return None;
    };
    problems.warn_unknown_keys(key, object, &[&KEYS]);
    let path = required_path(object, key, "path", problems);
    let content = resolve_content(object, key, problems);
    let mode = match object.get("mode") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => report(parse_mode(text), &join_key(key, "mode"), problems),
        Some(other) => {
            problems.wrong_type(&join_key(key, "mode"), "an octal string such as \"0644\"", other);
            None
        }
    };
    let allowed = match object.get("allow_special_modes") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(allowed)) => *allowed,
        Some(other) => {
            problems.wrong_type(&join_key(key, "allow_special_modes"), "true or false", other);
            true
        }
    };
    if let Some(special) = mode.map(|mode| mode & SPECIAL_MODE_BITS).filter(|bits| *bits != 0 && !allowed) {
        let message = format!(
            "{:04o} has {}; set allow_special_modes: true on this entry if that is meant",
            mode.unwrap_or_default(),
            special_bits_text(special)
        );
        problems.error(&join_key(key, "mode"), &message);
    }
    let owner = resolve_account(object, key, "owner", problems);
    let group = resolve_account(object, key, "group", problems);
    Some(ManagedFile { path: path?, content: content?, mode, owner, group })
}

/// Exactly one of `content` (text, may be empty) and `content_base64`.
fn resolve_content(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<Vec<u8>> {
    let text = problems.optional_text(object, key, "content");
    let encoded = problems.optional_text(object, key, "content_base64");
    let present = |field: &str| object.get(field).is_some_and(|value| !value.is_null());
    match (text, encoded) {
        (Some(_), Some(_)) => {
            problems.error(&join_key(key, "content_base64"), "give either content or content_base64, not both");
            None
        }
        (Some(text), None) => Some(text.into_bytes()),
        (None, Some(encoded)) => {
            let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim());
            let message = |error: base64::DecodeError| format!("not valid base64 ({error})");
            report(decoded.map_err(message), &join_key(key, "content_base64"), problems)
        }
        // A value of the wrong type was reported above.
        (None, None) if present("content") || present("content_base64") => None,
        (None, None) => {
            problems.error(&join_key(key, "content"), "is required (or content_base64 for binary content)");
            None
        }
    }
}

/// A user or group: a name, a numeric string, or a whole number.
fn resolve_account(object: &Map<String, Value>, parent: &str, field: &str, problems: &mut Problems) -> Option<Account> {
    let key = join_key(parent, field);
    match object.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => report(parse_account(text), &key, problems),
        Some(Value::Number(number)) => match number.as_u64().and_then(|id| u32::try_from(id).ok()) {
            Some(id) => Some(Account::Id(id)),
            None => {
                problems.error(&key, &format!("{number} is not a user or group id"));
                None
            }
        },
        Some(other) => {
            problems.wrong_type(&key, "a name or a numeric id", other);
            None
        }
    }
}

/// An octal mode such as `"0644"`, `"644"` or `"4755"`.
pub(crate) fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.trim();
    let octal = digits.len() >= 3 && digits.len() <= 4 && digits.bytes().all(|digit| (b'0'..=b'7').contains(&digit));
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if octal => Ok(mode),
        _ => Err(format!("{text:?} is not an octal mode such as \"0644\"")),
    }
}

/// The special bits of a mode in words: `the set-user-id and world-write bits`.
fn special_bits_text(bits: u32) -> String {
    let names = [(0o4000, "set-user-id"), (0o2000, "set-group-id"), (0o1000, "sticky"), (0o002, "world-write")];
    let present: Vec<&str> = names.iter().filter(|(bit, _)| bits & bit != 0).map(|(_, name)| *name).collect();
    match present.as_slice() {
        [one] => format!("the {one} bit"),
        [rest @ .., last] => format!("the {} and {last} bits", rest.join(", ")),
        [] => String::new(),
    }
}

/// A name, or digits meaning a numeric id.
fn parse_account(text: &str) -> Result<Account, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    if trimmed.bytes().all(|byte| byte.is_ascii_digit()) {
        return trimmed.parse().map(Account::Id).map_err(|_| format!("{text:?} is not a user or group id"));
    }
    if trimmed.contains([':', '/']) || trimmed.chars().any(char::is_whitespace) {
        return Err(format!("{text:?} is not a user or group name"));
    }
    Ok(Account::Name(trimmed.to_string()))
}

/// The value, or `None` with the error recorded at `key`.
fn report<T>(result: Result<T, String>, key: &str, problems: &mut Problems) -> Option<T> {
    result.map_err(|message| problems.error(key, &message)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_octal_strings() {
        let cases = [
            ("0644", Some(0o644)),
            ("644", Some(0o644)),
            ("4755", Some(0o4755)),
            ("0000", Some(0)),
            ("0o644", None),
            ("0x1a4", None),
            ("0648", None),
            ("64", None),
            ("07777", None),
            ("rw-r--r--", None),
            ("", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_mode(text).ok(), expected, "{text:?}");
        }
    }

    #[test]
    fn special_bits_are_named() {
        assert_eq!(special_bits_text(0o4000), "the set-user-id bit");
        assert_eq!(special_bits_text(0o6002), "the set-user-id, set-group-id and world-write bits");
    }

    #[test]
    fn accounts_are_names_or_ids() {
        let cases = [
            ("root", Ok(Account::Name("root".into()))),
            (" _www ", Ok(Account::Name("_www".into()))),
            ("501", Ok(Account::Id(501))),
            ("99999999999", Err("is not a user or group id")),
            ("", Err("must not be empty")),
            ("a b", Err("is not a user or group name")),
            ("root:wheel", Err("is not a user or group name")),
        ];
        for (text, expected) in cases {
            match (parse_account(text), expected) {
                (Ok(account), Ok(want)) => assert_eq!(account, want, "{text:?}"),
                (Err(message), Err(fragment)) => assert!(message.contains(fragment), "{text:?}: {message}"),
                (got, want) => panic!("{text:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
