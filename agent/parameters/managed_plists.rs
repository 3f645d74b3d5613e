//! Managed plists: at every check-in each declared key is read back from its plist
//! (XML or binary) and set again where it is missing or differs.
//!
//! The keys of one file are handled together: the file is read once and, only when
//! a key changed, written once, atomically, in the format it already had, with its
//! mode and owner, every other key untouched. A file that exists but cannot be
//! read as a dictionary plist is never overwritten: its keys fail with the reason.

use std::fs::Metadata;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::sys::stat::SFlag;

use super::ParameterReport;
use super::file_system::{self, Ownership, permission_bits};
use super::summary::Findings;
use crate::accounts::{group_name, user_name};
use crate::blueprint::{DevicePath, ManagedPlistKey, PlistFormat};
use crate::safe_path::is_kind;
use crate::structured_input::{self, InputKind};

/// The parameter's key in the blueprint.
pub(crate) const ID: &str = "managed_plists";
const NAME: &str = "Managed plists";
/// The mode of a plist the agent creates, as `defaults write` gives it.
const NEW_FILE_MODE: u32 = 0o644;
/// Preference files are small; a larger one is not what an admin meant to manage.
const LARGEST_PLIST: u64 = InputKind::PreferenceFile.max_bytes();

/// Checks every managed key under `root`, puts back what drifted, and reports.
pub(crate) fn enforce(keys: &[ManagedPlistKey], root: &Path) -> ParameterReport {
    let mut findings = Findings::new("key", "keys");
    for (path, entries) in by_file(keys) {
        let target = path.under(root);
        match enforce_file(root, &target, &entries) {
            Ok(changes) => {
                for entry in &entries {
                    match changes.iter().find(|(key, _)| *key == entry.key) {
                        Some((_, was)) => findings.changed("re-applied", format!("{path} {} ({was})", entry.key)),
                        None => findings.compliant(format!("{path} {}", entry.key)),
                    }
                }
            }
            Err(reason) => findings.failed(entries.len(), format!("{path}: {reason}")),
        }
    }
    let compliant = format!("{} as declared", findings.count(findings.checked()));
    let message = findings.message("re-applied", &compliant);
    findings.into_report(ID, NAME, message)
}

/// The entries grouped by file, files in the order the blueprint first names them.
fn by_file(keys: &[ManagedPlistKey]) -> Vec<(&DevicePath, Vec<&ManagedPlistKey>)> {
    let mut files: Vec<(&DevicePath, Vec<&ManagedPlistKey>)> = Vec::new();
    for entry in keys {
        match files.iter_mut().find(|(path, _)| *path == &entry.path) {
            Some((_, entries)) => entries.push(entry),
            None => files.push((&entry.path, vec![entry])),
        }
    }
    files
}

/// A plist as read from disk.
struct Existing {
    dictionary: plist::Dictionary,
    format: PlistFormat,
    metadata: Metadata,
}

/// Sets the keys of one file; the keys changed with what they held, or why not.
fn enforce_file(root: &Path, target: &Path, entries: &[&ManagedPlistKey]) -> Result<Vec<(String, String)>, String> {
    let existing = read(root, target)?;
    let declared_format = entries.iter().find_map(|entry| entry.format).unwrap_or(PlistFormat::Xml);
    let (mut dictionary, format, metadata) = match existing {
        Some(Existing { dictionary, format, metadata }) => (dictionary, format, Some(metadata)),
        None => (plist::Dictionary::new(), declared_format, None),
    };
    let mut changes = Vec::new();
    for entry in entries {
        let was = match dictionary.get(&entry.key) {
            Some(current) if *current == entry.value => continue,
            Some(current) => format!("was {}", describe(current)),
            None if metadata.is_none() => "file missing".to_string(),
            None => "missing".to_string(),
        };
        dictionary.insert(entry.key.clone(), entry.value.clone());
        changes.push((entry.key.clone(), was));
    }
    if changes.is_empty() {
        return Ok(changes);
    }
    let bytes = serialise(dictionary, format).map_err(|error| format!("cannot encode the plist: {error}"))?;
    let (mode, ownership) = match &metadata {
        Some(metadata) => {
            (permission_bits(metadata), Ownership { uid: Some(metadata.uid()), gid: Some(metadata.gid()) })
        }
        None => (NEW_FILE_MODE, Ownership::default()),
    };
    let names = metadata.as_ref().map(|metadata| (user_name(metadata.uid()), group_name(metadata.gid())));
    let names = names.unwrap_or_default();
    file_system::write_atomically(root, target, &bytes, mode, ownership, (&names.0, &names.1))
        .map_err(|error| error.to_string())?;
    Ok(changes)
}

/// The plist at `target`, `None` when there is none; an error (and no write) when
/// something else is there or it cannot be read as a dictionary.
fn read(root: &Path, target: &Path) -> Result<Option<Existing>, String> {
    let Some((folder, name)) = file_system::open_parent(root, target).map_err(|error| error.to_string())? else {
        return Ok(None);
    };
    let Some(stat) = folder.entry(&name).map_err(|error| error.to_string())? else {
        return Ok(None);
    };
    if is_kind(&stat, SFlag::S_IFLNK) {
        return Err("is a symbolic link; left untouched".into());
    }
    if !is_kind(&stat, SFlag::S_IFREG) {
        return Err("is not a regular file; left untouched".into());
    }
    if stat.st_size as u64 > LARGEST_PLIST {
        return Err(format!("is larger than {} MiB; left untouched", LARGEST_PLIST / 1024 / 1024));
    }
    let (file, metadata) = file_system::open_in(&folder, &name).map_err(|error| error.to_string())?;
    let mut bytes = Vec::new();
    file.take(LARGEST_PLIST + 1).read_to_end(&mut bytes).map_err(|error| format!("cannot read it: {error}"))?;
    let (dictionary, format) = parse(&bytes)?;
    Ok(Some(Existing { dictionary, format, metadata }))
}

/// A plist's top-level dictionary and format, within the limits of
/// `structured_input` (a file too deep or too large is left untouched). An empty
/// file (what `touch` leaves) is an empty XML plist; anything else must parse as a
/// dictionary.
fn parse(bytes: &[u8]) -> Result<(plist::Dictionary, PlistFormat), String> {
    if bytes.is_empty() {
        return Ok((plist::Dictionary::new(), PlistFormat::Xml));
    }
    let format = if bytes.starts_with(b"bplist00") { PlistFormat::Binary } else { PlistFormat::Xml };
    let value = structured_input::parse_plist(bytes, "the preference file", InputKind::PreferenceFile)
        .map_err(|error| format!("{}; left untouched", error.problem))?;
    match value {
        plist::Value::Dictionary(dictionary) => Ok((dictionary, format)),
        other => Err(format!("holds {} at its top level, not a dictionary; left untouched", describe(&other))),
    }
}

fn serialise(dictionary: plist::Dictionary, format: PlistFormat) -> Result<Vec<u8>, plist::Error> {
    let value = plist::Value::Dictionary(dictionary);
    let mut bytes = Vec::new();
    match format {
        PlistFormat::Xml => value.to_writer_xml(&mut bytes)?,
        PlistFormat::Binary => value.to_writer_binary(&mut bytes)?,
    }
    if format == PlistFormat::Xml {
        bytes.push(b'\n');
    }
    Ok(bytes)
}

/// A short description of a plist value for messages: `false`, `3`, `"text"`, `an array of 2`.
fn describe(value: &plist::Value) -> String {
    const LONGEST_TEXT: usize = 40;
    match value {
        plist::Value::Boolean(flag) => flag.to_string(),
        plist::Value::Integer(number) => number.to_string(),
        plist::Value::Real(number) => format!("{number:?}"),
        plist::Value::String(text) if text.chars().count() > LONGEST_TEXT => {
            format!("{:?}…", text.chars().take(LONGEST_TEXT).collect::<String>())
        }
        plist::Value::String(text) => format!("{text:?}"),
        plist::Value::Date(date) => format!("the date {}", date.to_xml_format()),
        plist::Value::Data(bytes) => format!("{} bytes of data", bytes.len()),
        plist::Value::Array(values) => format!("an array of {}", values.len()),
        plist::Value::Dictionary(dictionary) => format!("a dictionary of {} keys", dictionary.len()),
        _ => "a value of another type".to_string(),
    }
}

#[cfg(test)]
#[path = "managed_plists_tests.rs"]
mod tests;
