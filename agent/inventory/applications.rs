//! The application inventory: every `.app` bundle in the root's `Applications`
//! folder and in each user's `~/Applications` (under the root's `Users`).
//!
//! Folders are walked without following links, a few levels deep (vendors keep
//! apps in subfolders: `Applications/Microsoft Office/…`), never into a bundle.
//! Each bundle's `Contents/Info.plist` is read, XML or binary; a key it lacks is
//! left out, and a bundle whose plist cannot be read is still listed by its file
//! name. Any local user can write `~/Applications`, so an `Info.plist` over the
//! limits of `structured_input` (too large, too deep, not a file) is hostile: that
//! bundle is skipped and named, and the rest are listed. Its size is every file
//! inside it. The walk asks whether to stop as it
//! goes (deadline, shutdown), so a huge tree does not hold a thread past its time.

use std::path::{Path, PathBuf};

use super::model::Application;
use crate::structured_input::{self, InputKind, InputProblem, StructuredInputError};

/// How deep below an Applications folder bundles are looked for.
const MAX_DEPTH: usize = 4;

/// The scan was stopped: its time ran out, or the agent is shutting down.
#[derive(Debug, thiserror::Error)]
#[error("the scan of the Applications folders was stopped before its end ({found} apps found so far)")]
pub(crate) struct ScanTimedOut {
    /// How many bundles had been read.
    found: usize,
}

/// What a scan found.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ApplicationScan {
    /// Every bundle read, sorted by path.
    pub(crate) applications: Vec<Application>,
    /// Why each skipped bundle was skipped, naming its `Info.plist`.
    pub(crate) skipped: Vec<String>,
}

/// Every app bundle under `root`'s Applications folders, sorted by path;
/// `stop` is asked as the walk goes whether to give up.
pub(crate) fn scan_applications(root: &Path, stop: &dyn Fn() -> bool) -> Result<ApplicationScan, ScanTimedOut> {
    let mut bundles = Vec::new();
    for folder in application_folders(root) {
        find_bundles(&folder, MAX_DEPTH, stop, &mut bundles)?;
    }
    bundles.sort();
    bundles.dedup();
    let mut scan = ApplicationScan { applications: Vec::with_capacity(bundles.len()), skipped: Vec::new() };
    for bundle in bundles {
        if stop() {
            return Err(ScanTimedOut { found: scan.applications.len() });
        }
        let size_bytes = bundle_size(&bundle, stop).ok_or(ScanTimedOut { found: scan.applications.len() })?;
        match read_bundle(&bundle, size_bytes) {
            Ok(application) => scan.applications.push(application),
            Err(refused) => scan.skipped.push(format!("{refused}; the app is not listed")),
        }
    }
    Ok(scan)
}

/// `Applications` under the root, then `Users/<name>/Applications` of every user.
fn application_folders(root: &Path) -> Vec<PathBuf> {
    let mut folders = vec![root.join("Applications")];
    let users = std::fs::read_dir(root.join("Users")).into_iter().flatten().flatten();
    let mut homes: Vec<PathBuf> = users
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
        .map(|entry| entry.path().join("Applications"))
        .collect();
    homes.sort();
    folders.extend(homes);
    folders
}

/// Adds the bundles in `folder` (and its subfolders down to `depth`) to `found`.
fn find_bundles(
    folder: &Path,
    depth: usize,
    stop: &dyn Fn() -> bool,
    found: &mut Vec<PathBuf>,
) -> Result<(), ScanTimedOut> {
    let Ok(entries) = std::fs::read_dir(folder) else { return Ok(()) };
    for entry in entries.flatten() {
        if stop() {
            return Err(ScanTimedOut { found: found.len() });
        }
        // `file_type` does not follow links: a link to an app elsewhere is not listed twice.
        if !entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            continue;
        }
        let path = entry.path();
        if path.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("app")) {
            found.push(path);
        } else if depth > 1 {
            find_bundles(&path, depth - 1, stop, found)?;
        }
    }
    Ok(())
}

/// The bytes of every regular file under `bundle`; `None` when told to stop.
fn bundle_size(bundle: &Path, stop: &dyn Fn() -> bool) -> Option<u64> {
    let mut total = 0u64;
    let mut pending = vec![bundle.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            if stop() {
                return None;
            }
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                total = total.saturating_add(entry.metadata().map_or(0, |metadata| metadata.len()));
            }
        }
    }
    Some(total)
}

/// What the bundle's `Info.plist` says about it; an error when that file is over
/// the limits (the bundle is then not listed).
pub(crate) fn read_bundle(bundle: &Path, size_bytes: u64) -> Result<Application, StructuredInputError> {
    let stem = bundle.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default();
    let info = match structured_input::read_plist_file(&bundle.join("Contents/Info.plist"), InputKind::InfoPlist) {
        Ok(info) => Some(info),
        Err(StructuredInputError { problem: InputProblem::Unreadable(_) | InputProblem::PropertyList(_), .. }) => None,
        Err(refused) => return Err(refused),
    };
    let dictionary = info.as_ref().and_then(plist::Value::as_dictionary);
    let text = |key: &str| {
        let value = dictionary?.get(key)?.as_string()?.trim();
        (!value.is_empty()).then(|| value.to_string())
    };
    Ok(Application {
        name: text("CFBundleDisplayName").or_else(|| text("CFBundleName")).unwrap_or(stem),
        bundle_id: text("CFBundleIdentifier"),
        version: text("CFBundleVersion"),
        short_version: text("CFBundleShortVersionString"),
        size_bytes,
        path: bundle.display().to_string(),
    })
}

#[cfg(test)]
#[path = "applications_tests.rs"]
mod tests;
