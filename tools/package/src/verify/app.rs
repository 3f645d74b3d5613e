//! The Self Service app as the Payload holds it: the bundle's folders and files are
//! there, root's and writable by root alone (every person on the Mac runs it), the
//! executable is runnable by everyone and runs the installed agent's
//! `self-service open`, and Info.plist names the app and the package's version.

use std::path::Path;

use super::Problems;
use super::contents::Listing;
use crate::app::{
    self, APP_PATH, CONTENTS_PATH, EXECUTABLE_PATH, INFO_PLIST_PATH, MACOS_PATH, PKG_INFO, PKG_INFO_PATH,
};

/// Checks the app in the `payload` listing, extracted into `payload_dir`, against
/// the package `version`.
pub(super) fn check(payload: &Listing, payload_dir: &Path, version: &str, problems: &mut Problems) {
    let expected = [
        (APP_PATH, "dir"),
        (CONTENTS_PATH, "dir"),
        (MACOS_PATH, "dir"),
        (INFO_PLIST_PATH, "file"),
        (PKG_INFO_PATH, "file"),
        (EXECUTABLE_PATH, "file"),
    ];
    let mut complete = true;
    for (path, kind) in expected {
        if payload.get(path).is_none_or(|entry| entry.kind != kind) {
            problems.add(format!("the Self Service app: the Payload holds no {kind} {path}"));
            complete = false;
        }
    }
    let bundle =
        payload.iter().filter(|(path, _)| path.as_str() == APP_PATH || path.starts_with(&format!("{APP_PATH}/")));
    for (path, entry) in bundle {
        if entry.uid != 0 || entry.gid != 0 || entry.permissions & 0o022 != 0 {
            problems.add(format!(
                "the Self Service app: {path} must be root:wheel and writable by root alone, not {}:{} mode {:o}",
                entry.uid, entry.gid, entry.permissions
            ));
        }
    }
    if !complete {
        return;
    }
    if payload[EXECUTABLE_PATH].permissions & 0o111 != 0o111 {
        problems.add(format!("the Self Service app: {EXECUTABLE_PATH} is not executable by everyone"));
    }
    let read = |path: &str| std::fs::read(payload_dir.join(path)).unwrap_or_default();
    for problem in app::check_executable(&read(EXECUTABLE_PATH)) {
        problems.add(format!("the Self Service app: {EXECUTABLE_PATH} {problem}"));
    }
    for problem in app::check_info_plist(&read(INFO_PLIST_PATH), version) {
        problems.add(format!("the Self Service app: {INFO_PLIST_PATH}: {problem}"));
    }
    if read(PKG_INFO_PATH) != PKG_INFO {
        problems.add(format!("the Self Service app: {PKG_INFO_PATH} is not APPL????"));
    }
}
