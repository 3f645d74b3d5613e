//! The self-update pin as the Payload holds it: when the package carries
//! `config.d/00-package.plist`, it is a root:wheel 0644 file in a root:wheel folder
//! nobody else can write (the agent skips a fragment, or the whole folder, that is
//! not), and it sets `self_update.team_id` to a Team ID and nothing else. A package
//! ships no other fragment: an admin's own fragments are the admin's.

use std::path::Path;

use super::Problems;
use super::contents::Listing;
use crate::pin::{CONFIG_DROPIN_PATH, FRAGMENT_PATH, check_fragment};

/// Checks the drop-in folder in the `payload` listing, extracted into
/// `payload_dir`; returns the team the package pins, if it pins one.
pub(super) fn check(payload: &Listing, payload_dir: &Path, problems: &mut Problems) -> Option<String> {
    let inside = format!("{CONFIG_DROPIN_PATH}/");
    for path in payload.keys().filter(|path| path.starts_with(&inside) && path.as_str() != FRAGMENT_PATH) {
        problems.add(format!("the Payload holds {path}; a package ships no fragment but {FRAGMENT_PATH}"));
    }
    if let Some(folder) = payload.get(CONFIG_DROPIN_PATH) {
        if folder.kind != "dir" || folder.uid != 0 || folder.gid != 0 || folder.permissions & 0o022 != 0 {
            problems.add(format!(
                "{CONFIG_DROPIN_PATH} must be a root:wheel folder nobody else can write (the agent skips it otherwise), not {} {}:{} mode {:o}",
                folder.kind, folder.uid, folder.gid, folder.permissions
            ));
        }
    }
    let fragment = payload.get(FRAGMENT_PATH)?;
    if !payload.contains_key(CONFIG_DROPIN_PATH) {
        problems.add(format!("the Payload holds {FRAGMENT_PATH} but not its folder"));
    }
    if fragment.kind != "file" || fragment.uid != 0 || fragment.gid != 0 || fragment.permissions != 0o644 {
        problems.add(format!(
            "{FRAGMENT_PATH} must be a root:wheel file with mode 644, not {} {}:{} mode {:o}",
            fragment.kind, fragment.uid, fragment.gid, fragment.permissions
        ));
    }
    let bytes = std::fs::read(payload_dir.join(FRAGMENT_PATH)).unwrap_or_default();
    match check_fragment(&bytes) {
        Ok(team_id) => Some(team_id),
        Err(found) => {
            for problem in found {
                problems.add(format!("{FRAGMENT_PATH}: {problem}"));
            }
            None
        }
    }
}
