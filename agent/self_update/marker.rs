//! The marker that tells the agent's package the running agent is installing it.
//!
//! The package's preinstall boots the daemon out and its postinstall boots it out
//! and in again: right for an MDM install, fatal when the daemon itself waits on
//! `installer` (the bootout's SIGTERM stops the daemon, and the stopping daemon
//! kills the installer's process group mid-install). So while the agent runs the
//! installer on its own package, `state/agent-update.pending` (0600) says so:
//!
//! ```text
//! pid=1234
//! version=1.3.0
//! expires=1767225600
//! ```
//!
//! The scripts leave launchd alone only while `pid` is alive (`kill -0`) and
//! `expires` (Unix seconds: the installer's deadline plus its grace) has not
//! passed, so a marker a crash left behind never keeps a later MDM install from
//! restarting the daemon. The daemon restarts onto the new binary itself, by
//! exiting once the check-in is over (launchd's KeepAlive starts it again).
//!
//! The marker is removed when the installer ends, whatever came of it (a guard,
//! so also when the install is dropped), and by the next check-in if a crashed
//! agent left one.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use semver::Version;

/// The marker, in place until this is dropped.
#[derive(Debug)]
pub(crate) struct PendingMarker {
    path: PathBuf,
}

impl PendingMarker {
    /// Writes the marker for this process installing `version`, honoured by the
    /// scripts for `valid_for` from now (for ever, when that is past the clock's end).
    pub(crate) fn write(root: &Path, path: &Path, version: &Version, valid_for: Duration) -> std::io::Result<Self> {
        let now = SystemTime::now();
        let expires = now.checked_add(valid_for).unwrap_or(now + Duration::from_secs(u64::from(u32::MAX)));
        let text = marker_text(std::process::id(), version, expires);
        crate::atomic_file::replace_private(root, path, text.as_bytes())?;
        Ok(Self { path: path.to_path_buf() })
    }
}

impl Drop for PendingMarker {
    fn drop(&mut self) {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(path = %self.path.display(), error = %error, "Cannot remove the agent update marker; the package's scripts ignore it once it expires.");
            }
        }
    }
}

/// Removes a marker an agent that stopped during its install left behind. Call
/// with the check-in lock held: no installer of this agent is running then.
pub(crate) fn remove_left_behind(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {
            tracing::warn!(path = %path.display(), "Removed the agent update marker an earlier agent left behind.")
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            tracing::warn!(path = %path.display(), error = %error, "Cannot remove the agent update marker left behind.")
        }
    }
}

/// The marker's lines, as the package's scripts read them.
fn marker_text(pid: u32, version: &Version, expires: SystemTime) -> String {
    let expires = expires.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    format!("pid={pid}\nversion={version}\nexpires={expires}\n")
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_marker_names_the_process_the_version_and_when_it_expires() {
        let expires = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let text = marker_text(4321, &Version::new(1, 3, 0), expires);
        assert_eq!(text, "pid=4321\nversion=1.3.0\nexpires=1767225600\n");
    }

    #[test]
    fn the_marker_is_owner_only_and_gone_once_dropped() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("agent-update.pending");
        let marker =
            PendingMarker::write(folder.path(), &path, &Version::new(2, 0, 0), Duration::from_secs(60)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(&format!("pid={}\nversion=2.0.0\nexpires=", std::process::id())), "{text}");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        drop(marker);
        assert!(!path.exists());
    }

    #[test]
    fn a_marker_left_behind_is_removed() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("agent-update.pending");
        std::fs::write(&path, "pid=1\nversion=1.0.0\nexpires=0\n").unwrap();
        remove_left_behind(&path);
        assert!(!path.exists());
        remove_left_behind(&path);
    }
}
