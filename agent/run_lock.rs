//! One check-in at a time on a device: an exclusive `flock` on a file in the state
//! folder, which the kernel releases when its holder exits, even after `kill -9`.
//!
//! The holder writes its pid and start time into the file so a waiting `agent run`
//! can say whom it waits for.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

/// How often a waiting check-in tries the lock again.
const RETRY_EVERY: Duration = Duration::from_millis(100);

/// How long a check-in that may not wait keeps trying, so that a status reader
/// briefly probing the lock never makes it give up.
const NO_WAIT_PATIENCE: Duration = Duration::from_millis(500);

/// Who holds the check-in lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The holding process.
    pub pid: u32,
    /// When its check-in started.
    pub started_at: DateTime<Utc>,
}

/// A failure to take the check-in lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another check-in holds it and waiting was refused.
    #[error("another check-in is running{}", describe(.holder.as_ref()))]
    Busy {
        /// Who holds it, when the lock file says.
        holder: Option<Holder>,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot use the check-in lock {path}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn describe(holder: Option<&Holder>) -> String {
    holder.map_or_else(String::new, |holder| {
        format!(" (started at {}, pid {})", holder.started_at.to_rfc3339(), holder.pid)
    })
}

/// The held check-in lock; dropping it lets the next check-in start.
#[derive(Debug)]
pub struct CheckinLock {
    _file: Flock<File>,
}

/// Whether a check-in holds the lock right now, without taking it for more than
/// an instant. `None` when no check-in runs.
pub fn current_holder(path: &Path) -> Result<Option<Holder>, LockError> {
    let Ok(file) = OpenOptions::new().read(true).open(path) else {
        return Ok(None);
    };
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(_shared) => Ok(None),
        Err((mut file, Errno::EWOULDBLOCK)) => {
            Ok(Some(read_holder(&mut file).unwrap_or(Holder { pid: 0, started_at: DateTime::UNIX_EPOCH })))
        }
        Err((_, errno)) => Err(io_error(path, errno)),
    }
}

/// Takes the check-in lock. When another check-in holds it, `on_wait` is told
/// who (once) and this waits for it, unless `wait` is false: then `Busy`.
pub async fn acquire(
    path: &Path,
    started_at: DateTime<Utc>,
    wait: bool,
    mut on_wait: impl FnMut(Option<&Holder>),
) -> Result<CheckinLock, LockError> {
    let mut told = false;
    let patience = tokio::time::Instant::now() + NO_WAIT_PATIENCE;
    loop {
        let file = open_lock_file(path)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut locked) => {
                write_holder(&mut locked, started_at)
                    .map_err(|source| LockError::Io { path: path.to_path_buf(), source })?;
                return Ok(CheckinLock { _file: locked });
            }
            Err((mut file, Errno::EWOULDBLOCK)) => {
                let holder = read_holder(&mut file);
                if !wait && tokio::time::Instant::now() >= patience {
                    return Err(LockError::Busy { holder });
                }
                if wait && !told {
                    on_wait(holder.as_ref());
                    told = true;
                }
            }
            Err((_, errno)) => return Err(io_error(path, errno)),
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
}

fn open_lock_file(path: &Path) -> Result<File, LockError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        // A link at the lock's name is refused, never followed (ELOOP).
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path)
        .map_err(|source| LockError::Io { path: path.to_path_buf(), source })
}

fn io_error(path: &Path, errno: Errno) -> LockError {
    LockError::Io { path: path.to_path_buf(), source: std::io::Error::from(errno) }
}

fn write_holder(file: &mut File, started_at: DateTime<Utc>) -> std::io::Result<()> {
    let holder = Holder { pid: std::process::id(), started_at };
    let text = serde_json::to_string(&holder).map_err(std::io::Error::other)?;
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(text.as_bytes())?;
    file.flush()
}

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_taker_is_busy_until_the_first_lets_go() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("checkin.lock");
        let now = Utc::now();
        let first = acquire(&path, now, false, |_| {}).await.unwrap();
        let holder = current_holder(&path).unwrap().expect("held");
        assert_eq!(holder.pid, std::process::id());
        match acquire(&path, now, false, |_| {}).await {
            Err(LockError::Busy { holder: Some(holder) }) => assert_eq!(holder.pid, std::process::id()),
            other => panic!("expected busy, got {other:?}"),
        }
        drop(first);
        assert_eq!(current_holder(&path).unwrap(), None);
        acquire(&path, now, false, |_| {}).await.unwrap();
    }

    #[tokio::test]
    async fn a_link_at_the_lock_is_refused_not_followed() {
        let folder = tempfile::tempdir().unwrap();
        let victim = folder.path().join("victim");
        std::fs::write(&victim, "kept").unwrap();
        let path = folder.path().join("checkin.lock");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        assert!(acquire(&path, Utc::now(), false, |_| {}).await.is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "kept");
    }

    #[tokio::test]
    async fn a_waiting_taker_is_told_once_and_gets_the_lock_later() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("checkin.lock");
        let first = acquire(&path, Utc::now(), false, |_| {}).await.unwrap();
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            drop(first);
        });
        let mut told = 0;
        acquire(&path, Utc::now(), true, |_| told += 1).await.unwrap();
        release.await.unwrap();
        assert_eq!(told, 1);
    }
}
