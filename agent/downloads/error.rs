//! Why a download failed, in words an admin can act on.

use std::path::PathBuf;

/// A failed download. Messages name the URL without its query string.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The cache folder or a file in it could not be used.
    #[error("cannot use the download cache at {}: {error}", path.display())]
    Cache {
        /// The folder or file.
        path: PathBuf,
        /// Why, as the system said it; part of the message, so not a source
        /// (a chain printed with `{:#}` says it once).
        error: std::io::Error,
    },
    /// A `file://` source could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Source {
        /// The file on the device.
        path: PathBuf,
        /// Why, as the system said it; part of the message, so not a source
        /// (a chain printed with `{:#}` says it once).
        error: std::io::Error,
    },
    /// The request could not be made or answered.
    #[error("cannot download {url}: {reason}")]
    Request {
        /// The URL, without its query.
        url: String,
        /// The error and its causes, joined.
        reason: String,
    },
    /// The server answered with an HTTP error.
    #[error("cannot download {url}: the server answered HTTP {status}")]
    Status {
        /// The URL, without its query.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The transfer stopped part way; what arrived is kept to resume.
    #[error(
        "the download of {url} stopped after {received} bytes ({reason}); the partial file is kept and the next check-in resumes it"
    )]
    Interrupted {
        /// The URL, without its query.
        url: String,
        /// Bytes in the partial file.
        received: u64,
        /// The error and its causes, joined.
        reason: String,
    },
    /// The file's sha256 is not the expected one; it was deleted.
    #[error(
        "sha256 mismatch for {url}: expected {expected}, got {actual}; the download was deleted and nothing was installed"
    )]
    Mismatch {
        /// The URL, without its query.
        url: String,
        /// The digest the blueprint gives.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// The file is larger than `downloads.max_size`; it was stopped and deleted.
    #[error(
        "the download of {url} is larger than downloads.max_size ({limit} bytes){announced}; it was stopped and deleted"
    )]
    TooLarge {
        /// The URL, without its query.
        url: String,
        /// The limit, in bytes.
        limit: u64,
        /// `" (the server announced N bytes)"` when it was refused before the body, else empty.
        announced: String,
    },
    /// The server sent more than its `Content-Length`; the file was deleted.
    #[error(
        "the download of {url} sent more than the {announced} bytes its Content-Length announced; it was stopped and deleted"
    )]
    LongerThanAnnounced {
        /// The URL, without its query.
        url: String,
        /// The `Content-Length`.
        announced: u64,
    },
    /// Writing the file would leave less than `downloads.min_free_space` free; it was
    /// stopped and deleted.
    #[error(
        "the download of {url} would leave less than downloads.min_free_space ({limit} bytes) free on the volume of {}: {free} bytes are free and {needed} more are needed; it was stopped and deleted",
        cache.display()
    )]
    NoRoom {
        /// The URL, without its query.
        url: String,
        /// The limit, in bytes.
        limit: u64,
        /// The download cache.
        cache: PathBuf,
        /// Bytes free on its volume.
        free: u64,
        /// Bytes still to write, as far as they are known.
        needed: u64,
    },
    /// The transfer averaged less than `downloads.min_rate` over a window; it was
    /// stopped and deleted.
    #[error(
        "the download of {url} received {received} bytes in {window}, less than downloads.min_rate ({min_rate} bytes per second over {window}); it was stopped and deleted"
    )]
    TooSlow {
        /// The URL, without its query.
        url: String,
        /// Bytes received in the window.
        received: u64,
        /// The window, as admins write it (`"1m"`).
        window: String,
        /// The rate, in bytes per second.
        min_rate: u64,
    },
    /// The item's deadline passed; what arrived is kept to resume.
    #[error("the download of {url} ran out of time after {received} bytes; the partial file is kept to resume")]
    TimedOut {
        /// The URL, without its query.
        url: String,
        /// Bytes in the partial file.
        received: u64,
    },
    /// The agent is shutting down; what arrived is kept to resume.
    #[error("the download of {url} was stopped: the agent is shutting down")]
    Cancelled {
        /// The URL, without its query.
        url: String,
    },
}

impl DownloadError {
    /// Whether the partial file must go: what arrived broke a limit and cannot be resumed.
    pub(super) fn discards_partial(&self) -> bool {
        matches!(
            self,
            DownloadError::TooLarge { .. }
                | DownloadError::LongerThanAnnounced { .. }
                | DownloadError::NoRoom { .. }
                | DownloadError::TooSlow { .. }
        )
    }
}
