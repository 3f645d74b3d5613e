//! What a download is held to: its cache folder, its deadline and the agent's
//! shutdown, the largest file, the room it leaves free, the slowest rate; shared
//! by fetching from the cache or a file and by the HTTP transfer.

use std::future::Future;
use std::path::Path;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::error::DownloadError;
use super::partial::PartialFile;
use crate::blueprint::DownloadUrl;
use crate::config::AgentConfig;
use crate::paths::AgentPaths;

/// Fetches into one cache folder, bounded by a deadline and a shutdown signal.
pub struct Downloader<'a> {
    /// The root-only cache folder (created 0700 when missing).
    pub cache_dir: &'a Path,
    /// The agent's root: `file://` paths are joined under it.
    pub root: &'a Path,
    /// When the transfer must stop; what arrived is kept to resume.
    pub deadline: Instant,
    /// Fires when the agent is shutting down.
    pub cancel: &'a CancellationToken,
    /// The most bytes the file may have (`downloads.max_size`).
    pub max_size: u64,
    /// The bytes the download must leave free on the cache's volume (`downloads.min_free_space`).
    pub min_free_space: u64,
    /// The bytes per second a transfer must average over each window (`downloads.min_rate`).
    pub min_rate: u64,
    /// That window (`downloads.min_rate_window`).
    pub min_rate_window: std::time::Duration,
    /// `tenant.ca_file`: anchors trusted beside the system's, so a package served
    /// by a tenant with its own CA downloads too.
    pub ca_file: Option<std::path::PathBuf>,
}

impl<'a> Downloader<'a> {
    /// A downloader into the agent's cache, held to the `downloads.*` limits of
    /// `config`, stopping at `deadline` or when `cancel` fires.
    pub fn for_agent(
        paths: &'a AgentPaths,
        config: &AgentConfig,
        deadline: Instant,
        cancel: &'a CancellationToken,
    ) -> Self {
        let limits = &config.downloads;
        Downloader {
            cache_dir: &paths.download_cache,
            root: &paths.root,
            deadline,
            cancel,
            max_size: limits.max_size,
            min_free_space: limits.min_free_space,
            min_rate: limits.min_rate,
            min_rate_window: limits.min_rate_window,
            ca_file: config.tenant.ca_file.clone(),
        }
    }
}

/// Why a transfer stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stopped {
    TimedOut,
    Cancelled,
}

impl Downloader<'_> {
    /// Fails when a file of `bytes` would pass `downloads.max_size`.
    pub(super) fn check_size(&self, bytes: u64, url: &DownloadUrl) -> Result<(), DownloadError> {
        if bytes > self.max_size {
            return Err(DownloadError::TooLarge {
                url: url.redacted(),
                limit: self.max_size,
                announced: String::new(),
            });
        }
        Ok(())
    }

    /// Fails when writing `more` bytes into `partial` would leave less than
    /// `downloads.min_free_space` free on its volume.
    pub(super) fn check_room(&self, partial: &PartialFile, more: u64, url: &DownloadUrl) -> Result<(), DownloadError> {
        let free = partial.free_bytes().map_err(cache_error(self.cache_dir))?;
        if free.saturating_sub(more) < self.min_free_space {
            let (limit, cache) = (self.min_free_space, self.cache_dir.to_path_buf());
            return Err(DownloadError::NoRoom { url: url.redacted(), limit, cache, free, needed: more });
        }
        Ok(())
    }

    /// Whether the work must stop now.
    pub(super) fn check(&self) -> Result<(), Stopped> {
        if self.cancel.is_cancelled() {
            Err(Stopped::Cancelled)
        } else if Instant::now() >= self.deadline {
            Err(Stopped::TimedOut)
        } else {
            Ok(())
        }
    }

    /// Awaits `future` unless the deadline passes or the agent shuts down first.
    pub(super) async fn bounded<F: Future>(&self, future: F) -> Result<F::Output, Stopped> {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Err(Stopped::Cancelled),
            () = tokio::time::sleep_until(self.deadline) => Err(Stopped::TimedOut),
            output = future => Ok(output),
        }
    }

    /// The error for a transfer stopped after `received` bytes.
    pub(super) fn stopped(&self, stopped: Stopped, url: &DownloadUrl, received: u64) -> DownloadError {
        match stopped {
            Stopped::TimedOut => DownloadError::TimedOut { url: url.redacted(), received },
            Stopped::Cancelled => DownloadError::Cancelled { url: url.redacted() },
        }
    }
}

/// Maps an I/O error on `path` in the cache to a [`DownloadError`].
pub(super) fn cache_error(path: &Path) -> impl Fn(std::io::Error) -> DownloadError + '_ {
    move |error| DownloadError::Cache { path: path.to_path_buf(), error }
}
