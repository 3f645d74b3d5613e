//! Why an app could not be put in place.

use std::path::PathBuf;

use crate::downloads::DownloadError;
use crate::state::ItemStatus;

/// A failed install step, in words an admin can act on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InstallError {
    /// A tool could not be started (missing, not executable).
    #[error("cannot start {step}: {reason}")]
    Spawn {
        /// The step, such as `hdiutil attach`.
        step: String,
        /// Why.
        reason: String,
    },
    /// A tool exited with an error.
    #[error("{step} exited {code}{detail}")]
    Failed {
        /// The step, such as `installer`.
        step: String,
        /// Its exit code.
        code: i32,
        /// `: ` and the last line it printed, or nothing.
        detail: String,
    },
    /// A tool was killed by a signal the agent did not send.
    #[error("{step} was killed by signal {signal}")]
    Signalled {
        /// The step.
        step: String,
        /// The signal number.
        signal: i32,
    },
    /// The item's deadline passed during a step; its processes were stopped.
    #[error("{step} ran out of time; its processes were stopped")]
    TimedOut {
        /// The step.
        step: String,
    },
    /// The agent is shutting down; the step's processes were stopped.
    #[error("{step} was stopped: the agent is shutting down")]
    Cancelled {
        /// The step.
        step: String,
    },
    /// The zip could not be unpacked.
    #[error("cannot unpack the zip: {reason}")]
    Unpack {
        /// Why.
        reason: String,
    },
    /// The expected bundle is not in the archive or disk image.
    #[error("{bundle} is not in the {container} (found: {found})")]
    BundleNotFound {
        /// The bundle's name, such as `Foo.app`.
        bundle: String,
        /// `zip` or `disk image`.
        container: &'static str,
        /// The bundles that were there, or `no app`.
        found: String,
    },
    /// A file operation on the device failed.
    #[error("cannot {action} {}: {error}", path.display())]
    Files {
        /// What was being done, such as `move the new app into`.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// Why, as the system said it; part of the message, so not a source
        /// (a chain printed with `{:#}` says it once).
        error: std::io::Error,
    },
    /// A folder on the way to the app's place is a symbolic link, or cannot be reached.
    #[error(transparent)]
    Path(#[from] crate::safe_path::SafePathError),
    /// A symbolic link in the bundle points outside it.
    #[error("refused {bundle}: its symbolic link {link} points to {target}, outside the bundle")]
    LinkOutside {
        /// The bundle's name, such as `Foo.app`.
        bundle: String,
        /// The link, inside the bundle (`Contents/Resources/link`).
        link: String,
        /// Where it points.
        target: String,
    },
    /// A path inside the bundle is longer or deeper than macOS could open.
    #[error("refused {bundle}: its path {path} is {reason}")]
    PathTooLong {
        /// The bundle's name, such as `Foo.app`.
        bundle: String,
        /// The path inside the bundle (its start, when long).
        path: String,
        /// Which limit it passes: `longer than 1024 bytes`, `deeper than 128 levels`.
        reason: String,
    },
    /// A zip goes past one of the limits every zip is held to, or lies about its size.
    #[error("refused the zip {}: {reason}", archive.display())]
    ZipLimit {
        /// The zip, in the download cache.
        archive: PathBuf,
        /// Which limit, such as `it has 1000001 entries, more than the 1000000 allowed`.
        reason: String,
    },
    /// The bundle in a disk image goes past the limits a zip is held to.
    #[error("refused the disk image {}: {reason}", image.display())]
    ImageLimit {
        /// The disk image, in the download cache.
        image: PathBuf,
        /// Which limit, such as `its Foo.app holds 40000000000 bytes, more than the 34359738368 (32 GiB) allowed`.
        reason: String,
    },
    /// The installer or the app is not signed as the item requires; nothing was placed.
    #[error("refused {subject}: {found}")]
    Signature {
        /// What was checked: `the pkg`, or the app's bundle name such as `Foo.app`.
        subject: String,
        /// What was found instead, such as `not signed` or
        /// `signed by team XYZ9876543 ("Developer ID Installer: Other Corp"), not ABCDE12345`.
        found: String,
    },
    /// The disk image stayed mounted after the install step.
    #[error("{outcome}, but the disk image could not be detached: {reason}")]
    Detach {
        /// What happened before the detach, such as `the app was copied`.
        outcome: String,
        /// Why the detach failed.
        reason: String,
    },
}

/// Why an app item could not install its app.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AppError {
    /// Fetching or verifying the installer failed.
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// Installing the verified file failed.
    #[error(transparent)]
    Install(#[from] InstallError),
}

impl AppError {
    /// The item status this failure gives: `timed_out` when the deadline stopped it.
    pub(crate) fn status(&self) -> ItemStatus {
        match self {
            AppError::Download(DownloadError::TimedOut { .. }) | AppError::Install(InstallError::TimedOut { .. }) => {
                ItemStatus::TimedOut
            }
            _ => ItemStatus::Failed,
        }
    }

    /// The exit code of the tool whose failure this is, if a tool failed.
    pub(crate) fn exit_code(&self) -> Option<i32> {
        match self {
            AppError::Install(InstallError::Failed { code, .. }) => Some(*code),
            _ => None,
        }
    }
}
