//! The saved blueprint: what the tenant sent last, kept for when it cannot be
//! reached.
//!
//! A new blueprint is written beside the saved one, checked exactly as a check-in
//! will load it, and only then renamed over it (by the one atomic writer,
//! [`crate::atomic_file`]), so the saved blueprint is always
//! one the agent can run, whole, even after a crash mid-write or a garbage reply.
//! A saved blueprint damaged anyway (a disk fault, a hand edit) counts as absent:
//! the tenant is asked for its full copy, which replaces it.

use crate::paths::AgentPaths;
use crate::safe_path::{Folder, Missing, SafePathError};

/// Why a received blueprint was not saved.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SaveError {
    /// Writing or renaming failed.
    #[error("cannot save the blueprint at {path}: {error}")]
    Io {
        /// The file being written.
        path: std::path::PathBuf,
        /// Why, as the system said it; part of the message, so not a source
        /// (a chain printed with `{:#}` says it once).
        error: std::io::Error,
    },
    /// The body is not a blueprint this agent can run.
    #[error(transparent)]
    Invalid(#[from] crate::blueprint::BlueprintErrors),
}

/// Checks `body` as a blueprint and, when it is one, makes it the saved blueprint.
/// Returns its id. The state folder is reached without following a link; the new
/// blueprint is checked at its temporary name beside the saved one
/// ([`crate::atomic_file::replace_checked`]).
pub(crate) fn save(paths: &AgentPaths, body: &[u8]) -> Result<String, SaveError> {
    let failed = |error: SafePathError| SaveError::Io { path: paths.saved_blueprint.clone(), error: error.into() };
    let folder = Folder::beneath(&paths.root, &paths.state_dir, Missing::Create(0o700)).map_err(failed)?;
    let saved_name = paths.saved_blueprint.file_name().unwrap_or_default();
    let loaded =
        crate::atomic_file::replace_checked(&folder, saved_name, body, crate::blueprint::load).map_err(failed)??;
    Ok(loaded.blueprint.id)
}

/// Why the saved blueprint cannot run, when one is saved but does not load
/// (unreadable, garbage, truncated, too deep: the checks of any blueprint file).
pub(crate) fn damage(paths: &AgentPaths) -> Option<crate::blueprint::BlueprintErrors> {
    if !paths.saved_blueprint.exists() {
        return None;
    }
    crate::blueprint::load(&paths.saved_blueprint).err()
}

/// Whether a saved blueprint is there and loads: only then is its `ETag` worth
/// sending (`If-None-Match`).
pub(crate) fn usable(paths: &AgentPaths) -> bool {
    paths.saved_blueprint.exists() && damage(paths).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_blueprint_replaces_the_saved_one_and_garbage_does_not() {
        let root = tempfile::tempdir().unwrap();
        let paths = AgentPaths::under(root.path());
        std::fs::create_dir_all(&paths.state_dir).unwrap();
        let first = br#"{"id": "bp-1", "name": "One", "team_id": "T", "library_items": []}"#;
        assert_eq!(save(&paths, first).unwrap(), "bp-1");
        assert_eq!(std::fs::read(&paths.saved_blueprint).unwrap(), first);
        assert!(matches!(save(&paths, b"<html>502 Bad Gateway</html>"), Err(SaveError::Invalid(_))));
        assert!(matches!(save(&paths, br#"{"id": 3}"#), Err(SaveError::Invalid(_))));
        assert_eq!(std::fs::read(&paths.saved_blueprint).unwrap(), first, "the saved blueprint is untouched");
        let names: Vec<_> =
            std::fs::read_dir(&paths.state_dir).unwrap().map(|entry| entry.unwrap().file_name()).collect();
        assert_eq!(names, ["blueprint.json"], "no incoming blueprint is left beside the saved one");
    }

    #[test]
    fn a_damaged_saved_blueprint_is_not_usable() {
        let root = tempfile::tempdir().unwrap();
        let paths = AgentPaths::under(root.path());
        std::fs::create_dir_all(&paths.state_dir).unwrap();
        assert!(!usable(&paths) && damage(&paths).is_none(), "none saved: absent, not damaged");
        let body = r#"{"id": "bp-1", "name": "One", "team_id": "T", "library_items": []}"#;
        std::fs::write(&paths.saved_blueprint, body).unwrap();
        assert!(usable(&paths));
        std::fs::write(&paths.saved_blueprint, &body[..20]).unwrap();
        assert!(!usable(&paths) && damage(&paths).is_some(), "truncated");
        std::fs::write(&paths.saved_blueprint, "[".repeat(10_000)).unwrap();
        assert!(!usable(&paths) && damage(&paths).is_some(), "too deep");
    }
}
