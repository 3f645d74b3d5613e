//! Keeping the download cache small: at the daily check-in, partial files nobody
//! continued for a week and verified files no library item names are removed.
//!
//! Only the cache's own names are looked at (`<sha256>.<ext>` and
//! `<sha256>.<ext>.partial`); anything else in the folder is left alone. Entries
//! are examined and removed relative to the folder, never through a link.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::time::{Duration, SystemTime};

use nix::sys::stat::{FileStat, SFlag};

use crate::blueprint::Blueprint;
use crate::paths::AgentPaths;
use crate::safe_path::{Folder, Missing, SafePathError, is_kind};

/// How long a partial file may sit untouched before it is removed: a transfer
/// that resumes writes to it, so only an abandoned one gets this old.
pub const PARTIAL_FILE_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The suffix of a download still in progress.
const PARTIAL_SUFFIX: &str = ".partial";

/// One file the pruning removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrunedFile {
    /// Its name in the cache.
    pub name: OsString,
    /// Its size.
    pub bytes: u64,
    /// Why it went.
    pub reason: PruneReason,
}

/// Why a cache file was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PruneReason {
    /// A partial download untouched for longer than [`PARTIAL_FILE_MAX_AGE`].
    AbandonedPartial,
    /// A verified file whose sha256 no library item names.
    NotReferenced,
}

impl PruneReason {
    /// How logs name the reason.
    pub fn as_str(self) -> &'static str {
        match self {
            PruneReason::AbandonedPartial => "partial download untouched for a week",
            PruneReason::NotReferenced => "no library item names its sha256",
        }
    }
}

/// Removes from the download cache what no library item of `blueprint` needs any
/// more, each file logged; a failure is logged too, never the check-in's.
pub fn prune_unneeded(paths: &AgentPaths, blueprint: &Blueprint) {
    let wanted = blueprint.installer_digests();
    match prune_cache(&paths.root, &paths.download_cache, &wanted, SystemTime::now()) {
        Ok(pruned) => {
            for file in pruned {
                let name = file.name.to_string_lossy();
                let reason = file.reason.as_str();
                tracing::info!(file = %name, bytes = file.bytes, reason, "Removed from the download cache.");
            }
        }
        Err(error) => tracing::warn!(error = %error, "Cannot prune the download cache."),
    }
}

/// Removes from the cache folder `cache_dir` (below `root`) the partial files
/// last written before `now - PARTIAL_FILE_MAX_AGE` and the verified files whose
/// sha256 is not in `wanted` (lowercase hex). A missing folder holds nothing to
/// prune. Files that cannot be removed are skipped with a warning.
pub fn prune_cache(
    root: &Path,
    cache_dir: &Path,
    wanted: &HashSet<String>,
    now: SystemTime,
) -> Result<Vec<PrunedFile>, SafePathError> {
    let cache = match Folder::beneath(root, cache_dir, Missing::Fail) {
        Ok(cache) => cache,
        Err(SafePathError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Vec::new());
        }
        Err(error) => return Err(error),
    };
    let mut pruned = Vec::new();
    for name in cache.names()? {
        let Some(stat) = cache.entry(&name)? else { continue };
        if !is_kind(&stat, SFlag::S_IFREG) {
            continue;
        }
        let Some(reason) = prune_reason(&name, &stat, wanted, now) else { continue };
        match cache.remove_file(&name) {
            Ok(()) => pruned.push(PrunedFile { name, bytes: u64::try_from(stat.st_size).unwrap_or(0), reason }),
            Err(error) => tracing::warn!(error = %error, "Cannot remove a file from the download cache."),
        }
    }
    Ok(pruned)
}

/// Why the cache file `name` should go, if it should.
fn prune_reason(name: &OsStr, stat: &FileStat, wanted: &HashSet<String>, now: SystemTime) -> Option<PruneReason> {
    let name = name.to_str()?;
    let (verified_name, partial) = match name.strip_suffix(PARTIAL_SUFFIX) {
        Some(verified_name) => (verified_name, true),
        None => (name, false),
    };
    let (digest, extension) = verified_name.split_once('.')?;
    let is_cache_name = digest.len() == 64
        && digest.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
        && !extension.is_empty()
        && !extension.contains('.');
    if !is_cache_name {
        return None;
    }
    if partial {
        let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(stat.st_mtime).unwrap_or(0));
        let age = now.duration_since(modified).unwrap_or_default();
        return (age > PARTIAL_FILE_MAX_AGE).then_some(PruneReason::AbandonedPartial);
    }
    (!wanted.contains(digest)).then_some(PruneReason::NotReferenced)
}

#[cfg(test)]
mod tests {
    use std::fs::{File, FileTimes};

    use super::*;

    const KEPT: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const DROPPED: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn write_aged(path: &Path, age: Duration) {
        std::fs::write(path, b"bytes").unwrap();
        let times = FileTimes::new().set_modified(SystemTime::now() - age);
        File::options().write(true).open(path).unwrap().set_times(times).unwrap();
    }

    #[test]
    fn abandoned_partials_and_unnamed_verified_files_go_and_the_rest_stays() {
        let root = tempfile::tempdir().unwrap();
        let cache = root.path().join("state/downloads");
        std::fs::create_dir_all(&cache).unwrap();
        let day = Duration::from_secs(24 * 60 * 60);
        let names = [
            (format!("{KEPT}.dmg"), Duration::ZERO),
            (format!("{DROPPED}.zip"), Duration::ZERO),
            (format!("{DROPPED}.pkg.partial"), 8 * day),
            (format!("{KEPT}.pkg.partial"), 6 * day),
            ("notes.txt".to_string(), 30 * day),
            (format!("{DROPPED}.tar.gz.partial"), 30 * day),
        ];
        for (name, age) in &names {
            write_aged(&cache.join(name), *age);
        }
        std::os::unix::fs::symlink(cache.join(format!("{KEPT}.dmg")), cache.join(format!("{DROPPED}.dmg"))).unwrap();
        let wanted = HashSet::from([KEPT.to_string()]);

        let mut pruned = prune_cache(root.path(), &cache, &wanted, SystemTime::now()).unwrap();
        pruned.sort_by(|a, b| a.name.cmp(&b.name));

        let reasons: Vec<_> = pruned.iter().map(|file| (file.name.to_str().unwrap(), file.reason)).collect();
        assert_eq!(
            reasons,
            vec![
                (format!("{DROPPED}.pkg.partial").as_str(), PruneReason::AbandonedPartial),
                (format!("{DROPPED}.zip").as_str(), PruneReason::NotReferenced),
            ]
        );
        assert_eq!(pruned[0].bytes, 5);
        let mut left: Vec<_> =
            std::fs::read_dir(&cache).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        let mut expected = vec![
            format!("{DROPPED}.dmg"),
            format!("{DROPPED}.tar.gz.partial"),
            format!("{KEPT}.dmg"),
            format!("{KEPT}.pkg.partial"),
            "notes.txt".to_string(),
        ];
        expected.sort();
        assert_eq!(left, expected, "links, other names and young partials are left alone");
    }

    #[test]
    fn a_missing_cache_holds_nothing_to_prune() {
        let root = tempfile::tempdir().unwrap();
        let pruned = prune_cache(root.path(), &root.path().join("state/downloads"), &HashSet::new(), SystemTime::now());
        assert_eq!(pruned.unwrap(), Vec::new());
    }
}
