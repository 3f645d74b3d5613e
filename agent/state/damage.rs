//! A damaged state store: how damage is recognised, and how the damaged files are
//! moved aside so a fresh store can take their place.
//!
//! Three tests, from cheap to thorough:
//! - opening the store reads the file's first 100 bytes ([`check_header`]): a SQLite
//!   header, a sane page size, and (with no write-ahead log waiting) a file as long
//!   as the header says and made of whole pages: a garbage or cut-short file fails
//!   here in microseconds (only the process's first connection reads it, see
//!   `store`'s `OPEN_CONNECTIONS`: a descriptor of its own would drop SQLite's locks);
//! - the first open under the check-in lock in each process, and any open after an
//!   error said "malformed" (a `.suspect` marker beside the store), runs
//!   `PRAGMA quick_check` ([`quick_check_due`]), which reads every page once;
//! - any later SQLite error with the code `SQLITE_CORRUPT` or `SQLITE_NOTADB`
//!   ([`is_damage`]) leaves the marker, so the next open under the lock checks
//!   again and heals.
//!
//! Healing ([`move_aside`]) renames the store and its `-wal` and `-shm` companions
//! to `agent.sqlite3.damaged-<UTC time>` (the companions keep their suffix after
//! it, so the set opens with `sqlite3` as it was) and keeps the newest
//! [`KEPT_DAMAGED_SETS`] sets.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::safe_path::{Folder, SafePathError};

/// How many sets of damaged files are kept beside the store, newest first: enough
/// to look at a damage that comes back, never a folder that fills the disk.
pub const KEPT_DAMAGED_SETS: usize = 3;

/// What sits between the store's name and the time in a damaged file's name.
const DAMAGED_INFIX: &str = ".damaged-";

/// The suffix of the marker an error saying "malformed" leaves beside the store.
const SUSPECT_SUFFIX: &str = ".suspect";

/// The suffixes of SQLite's companions to the database file: the write-ahead log
/// and its shared-memory index.
pub(super) const COMPANION_SUFFIXES: [&str; 2] = ["-wal", "-shm"];

/// The 16 bytes every SQLite database file starts with.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// The length of the SQLite file header.
const HEADER_LENGTH: usize = 100;

/// The last time the store was found damaged and rebuilt, as `agent status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreRebuilt {
    /// When the damaged files were moved aside and a fresh store started.
    pub at: DateTime<Utc>,
    /// What was wrong with the store.
    pub reason: String,
    /// Where the damaged database file now is (its companions beside it).
    pub moved_to: PathBuf,
}

/// Whether `error` says the database file is damaged or not a database at all.
pub(crate) fn is_damage(error: &rusqlite::Error) -> bool {
    matches!(error.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase))
}

/// Reads the header of the store at `path`; `Err` says what is wrong. An empty or
/// missing file is a store not created yet, not damage.
pub(crate) fn check_header(path: &Path) -> Result<(), String> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        // Not damage: the open that follows reports it with its cause.
        Err(_) => return Ok(()),
    };
    let length = file.metadata().map(|metadata| metadata.len()).unwrap_or(0);
    if length == 0 {
        return Ok(());
    }
    let mut header = [0_u8; HEADER_LENGTH];
    if length < HEADER_LENGTH as u64 || file.read_exact(&mut header).is_err() {
        return Err(format!("the file is {length} bytes, shorter than a SQLite header"));
    }
    check_header_bytes(&header, length, write_ahead_log_waits(path))
}

/// The checks of [`check_header`] on the header's bytes and the file's length; the
/// length is only held against the header when no write-ahead log waits to be
/// copied into the file.
fn check_header_bytes(header: &[u8; HEADER_LENGTH], length: u64, log_waits: bool) -> Result<(), String> {
    if &header[..16] != SQLITE_MAGIC {
        return Err("the file does not start with a SQLite header: it is not a database".into());
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        size => u64::from(size),
    };
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(format!("the header names an impossible page size ({page_size})"));
    }
    if log_waits {
        return Ok(());
    }
    if length % page_size != 0 {
        return Err(format!("the file is {length} bytes, not whole pages of {page_size}: it was cut short"));
    }
    // The page count is only valid when its change counter matches (SQLite's rule).
    let pages = u64::from(u32::from_be_bytes([header[28], header[29], header[30], header[31]]));
    if pages > 0 && header[24..28] == header[92..96] && pages * page_size > length {
        return Err(format!(
            "the file is {length} bytes, its header says {pages} pages of {page_size}: it was cut short"
        ));
    }
    Ok(())
}

/// Whether a non-empty write-ahead log sits beside the store.
fn write_ahead_log_waits(path: &Path) -> bool {
    std::fs::metadata(companion(path, COMPANION_SUFFIXES[0])).is_ok_and(|metadata| metadata.len() > 0)
}

/// Runs `PRAGMA quick_check` on `connection`: `Err` with SQLite's first findings.
pub(crate) fn quick_check(connection: &rusqlite::Connection) -> Result<(), rusqlite::Error> {
    let mut statement = connection.prepare("PRAGMA quick_check(3)")?;
    let findings: Vec<String> = statement.query_map([], |row| row.get(0))?.collect::<Result<_, _>>()?;
    if findings.len() == 1 && findings[0] == "ok" {
        return Ok(());
    }
    Err(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
        Some(findings.join("; ")),
    ))
}

/// The stores this process has checked in full.
static CHECKED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

/// Whether the store at `path` is due a full check: not yet checked by this
/// process, or an error said it is damaged.
pub(crate) fn quick_check_due(path: &Path) -> bool {
    let checked = CHECKED.lock().unwrap_or_else(PoisonError::into_inner);
    let checked_here = checked.as_ref().is_some_and(|paths| paths.contains(path));
    !checked_here || suspect_marker(path).exists()
}

/// Remembers that the store at `path` passed its full check (or is fresh).
pub(crate) fn checked(path: &Path) {
    let mut checked = CHECKED.lock().unwrap_or_else(PoisonError::into_inner);
    checked.get_or_insert_with(HashSet::new).insert(path.to_path_buf());
    let _ = std::fs::remove_file(suspect_marker(path));
}

/// Notes that an error said the store at `path` is damaged: the next open under
/// the check-in lock checks it in full, in this process or another.
pub(crate) fn suspect(path: &Path) {
    if let Some(paths) = CHECKED.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
        paths.remove(path);
    }
    let marker = suspect_marker(path);
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(&marker);
    if let Err(error) = created {
        tracing::warn!(path = %marker.display(), error = %error, "Cannot leave the mark that the state store must be checked.");
    }
}

fn suspect_marker(path: &Path) -> PathBuf {
    companion(path, SUSPECT_SUFFIX)
}

/// `path` with `suffix` appended to its file name.
pub(super) fn companion(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Moves the store at `path` and its companions aside under `<name>.damaged-<at>`
/// (`-wal`, `-shm` after it), removes the sets beyond the newest
/// [`KEPT_DAMAGED_SETS`], and returns where the database file went. Call with no
/// connection open and under the check-in lock.
pub(crate) fn move_aside(path: &Path, at: DateTime<Utc>) -> Result<PathBuf, SafePathError> {
    let (folder, name) = folder_and_name(path)?;
    let aside = aside_name(&name, at);
    for suffix in ["", COMPANION_SUFFIXES[0], COMPANION_SUFFIXES[1]] {
        let (from, to) = (with_suffix(&name, suffix), with_suffix(&aside, suffix));
        if folder.entry(&from)?.is_some() {
            folder.rename(&from, &folder, &to)?;
        }
    }
    folder.remove_file(&with_suffix(&name, SUSPECT_SUFFIX))?;
    for old in sets_beyond_kept(&folder.names()?, &name) {
        folder.remove_file(&old)?;
    }
    folder.sync()?;
    Ok(folder.path().join(aside))
}

fn folder_and_name(path: &Path) -> Result<(Folder, OsString), SafePathError> {
    let parent = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or(OsStr::new("agent.sqlite3")).to_os_string();
    Ok((Folder::trusted(parent)?, name))
}

/// `<name>.damaged-20261206T175312.123Z`: text order is time order.
fn aside_name(name: &OsStr, at: DateTime<Utc>) -> OsString {
    with_suffix(name, &format!("{DAMAGED_INFIX}{}", at.format("%Y%m%dT%H%M%S%.3fZ")))
}

fn with_suffix(name: &OsStr, suffix: &str) -> OsString {
    let mut joined = name.to_os_string();
    joined.push(suffix);
    joined
}

/// The files (among `names`) of the damaged sets of the store `name` older than
/// the newest [`KEPT_DAMAGED_SETS`].
fn sets_beyond_kept(names: &[OsString], name: &OsStr) -> Vec<OsString> {
    let prefix = with_suffix(name, DAMAGED_INFIX);
    let set_of = |file: &OsString| -> Option<Vec<u8>> {
        let rest = file.as_bytes().strip_prefix(prefix.as_bytes())?;
        let time = COMPANION_SUFFIXES.iter().find_map(|suffix| rest.strip_suffix(suffix.as_bytes())).unwrap_or(rest);
        Some(time.to_vec())
    };
    let mut sets: Vec<Vec<u8>> = names.iter().filter_map(set_of).collect();
    sets.sort_unstable();
    sets.dedup();
    let removed: HashSet<Vec<u8>> = sets.iter().rev().skip(KEPT_DAMAGED_SETS).cloned().collect();
    names.iter().filter(|file| set_of(file).is_some_and(|set| removed.contains(&set))).cloned().collect()
}

#[cfg(test)]
#[path = "damage_tests.rs"]
mod tests;
