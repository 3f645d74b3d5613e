//! One download into the cache: reuse a verified file, else fetch or copy it,
//! then check its sha256 before it gets its final name.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;

use tokio::io::AsyncReadExt;

use super::bounds::{Downloader, cache_error};
use super::error::DownloadError;
use super::http;
use super::partial::{PartialFile, create_cache_folder, file_digest};
use crate::blueprint::DownloadUrl;
use crate::safe_path::Folder;

/// How much of a `file://` source is copied at a time.
const COPY_CHUNK_SIZE: usize = 256 * 1024;

/// A verified file in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// `<cache>/<sha256>.<ext>`.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Where the bytes came from this time.
    pub obtained: Obtained,
}

/// Where a verified file's bytes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Obtained {
    /// Already in the cache, verified again.
    Cached,
    /// Downloaded; `resumed_from` is the partial file's size when a range request continued it.
    Downloaded {
        /// The byte the transfer resumed at.
        resumed_from: Option<u64>,
    },
    /// Copied from a `file://` source.
    Copied,
}

impl Downloaded {
    /// A short account for messages: "downloaded 1234 bytes (resumed at byte 600)".
    pub fn describe(&self) -> String {
        match self.obtained {
            Obtained::Cached => format!("used the verified {} bytes already in the cache", self.bytes),
            Obtained::Downloaded { resumed_from: None } => format!("downloaded {} bytes", self.bytes),
            Obtained::Downloaded { resumed_from: Some(offset) } => {
                format!("downloaded {} bytes (resumed at byte {offset})", self.bytes)
            }
            Obtained::Copied => format!("copied {} bytes", self.bytes),
        }
    }
}

impl Downloader<'_> {
    /// Puts the file `url` names into the cache as `<sha256>.<extension>`, checked
    /// against `sha256` (lowercase hex). A mismatch deletes it and fails.
    pub async fn fetch(&self, url: &DownloadUrl, sha256: &str, extension: &str) -> Result<Downloaded, DownloadError> {
        let cache = create_cache_folder(self.root, self.cache_dir)
            .map_err(|error| cache_error(self.cache_dir)(error.into()))?;
        let verified_name = OsString::from(format!("{sha256}.{extension}"));
        let verified = self.cache_dir.join(&verified_name);
        if let Some(found) = self.reuse(&cache, &verified_name, sha256, url).await? {
            return Ok(found);
        }
        let partial_name = OsString::from(format!("{sha256}.{extension}.partial"));
        let partial_path = self.cache_dir.join(&partial_name);
        let mut partial = match PartialFile::open(&cache, &partial_name, || self.check()).await {
            Ok(Ok(partial)) => partial,
            Ok(Err(stopped)) => return Err(self.stopped(stopped, url, 0)),
            Err(error) => return Err(cache_error(&partial_path)(error)),
        };
        let transfer = match self.check_room(&partial, 0, url) {
            Err(error) => Err(error),
            Ok(()) => self.transfer(url, &mut partial).await,
        };
        let obtained = match transfer {
            Ok(obtained) => obtained,
            Err(error) => {
                if error.discards_partial() {
                    drop(partial);
                    cache.remove_file(&partial_name).map_err(|error| cache_error(&partial_path)(error.into()))?;
                }
                return Err(error);
            }
        };
        let (path, bytes, digest) = partial.finish().await.map_err(cache_error(&partial_path))?;
        if digest != sha256 {
            cache.remove_file(&partial_name).map_err(|error| cache_error(&path)(error.into()))?;
            return Err(DownloadError::Mismatch { url: url.redacted(), expected: sha256.to_string(), actual: digest });
        }
        cache.rename(&partial_name, &cache, &verified_name).map_err(|error| cache_error(&verified)(error.into()))?;
        Ok(Downloaded { path: verified, bytes, obtained })
    }

    /// Fetches or copies `url` into `partial`.
    async fn transfer(&self, url: &DownloadUrl, partial: &mut PartialFile) -> Result<Obtained, DownloadError> {
        match url {
            DownloadUrl::Http(address) => {
                http::download(self, address, partial).await.map(|resumed_from| Obtained::Downloaded { resumed_from })
            }
            DownloadUrl::File(path) => self
                .copy(&self.root.join(path.strip_prefix("/").unwrap_or(path)), partial, url)
                .await
                .map(|()| Obtained::Copied),
        }
    }

    /// A verified file already in the cache, hashed again in case it was changed;
    /// one that no longer matches (or is not a plain file) is deleted.
    async fn reuse(
        &self,
        cache: &Folder,
        name: &OsStr,
        sha256: &str,
        url: &DownloadUrl,
    ) -> Result<Option<Downloaded>, DownloadError> {
        let path = cache.path().join(name);
        let remove = || cache.remove_file(name).map_err(|error| cache_error(&path)(error.into()));
        let Ok(file) = cache.open_file(name, OFlag::O_RDONLY | OFlag::O_NONBLOCK, 0) else {
            remove()?;
            return Ok(None);
        };
        let bytes = match file.metadata() {
            Ok(metadata) if metadata.is_file() => metadata.len(),
            _ => {
                remove()?;
                return Ok(None);
            }
        };
        match file_digest(file, || self.check()).await {
            Ok(Ok(digest)) if digest == sha256 => Ok(Some(Downloaded { path, bytes, obtained: Obtained::Cached })),
            Ok(Ok(_)) | Err(_) => {
                remove()?;
                Ok(None)
            }
            Ok(Err(stopped)) => Err(self.stopped(stopped, url, 0)),
        }
    }

    /// Copies a file on the device into `partial`, from its start.
    async fn copy(&self, source: &Path, partial: &mut PartialFile, url: &DownloadUrl) -> Result<(), DownloadError> {
        let source_error = |source_path: &Path| {
            let path = source_path.to_path_buf();
            move |error| DownloadError::Source { path, error }
        };
        let mut file = tokio::fs::File::open(source).await.map_err(source_error(source))?;
        partial.restart().await.map_err(cache_error(self.cache_dir))?;
        let length = file.metadata().await.map_err(source_error(source))?.len();
        self.check_size(length, url)?;
        self.check_room(partial, length, url)?;
        let mut buffer = vec![0; COPY_CHUNK_SIZE];
        loop {
            let read = match self.bounded(file.read(&mut buffer)).await {
                Ok(read) => read.map_err(source_error(source))?,
                Err(stopped) => return Err(self.stopped(stopped, url, partial.len())),
            };
            if read == 0 {
                return Ok(());
            }
            self.check_size(partial.len() + read as u64, url)?;
            self.check_room(partial, read as u64, url)?;
            partial.append(&buffer[..read]).await.map_err(cache_error(self.cache_dir))?;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;
    use tokio_util::sync::CancellationToken;

    use super::*;

    const HELLO_SHA256: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    fn downloader<'a>(root: &'a Path, cache: &'a Path, cancel: &'a CancellationToken) -> Downloader<'a> {
        Downloader {
            cache_dir: cache,
            root,
            deadline: Instant::now() + Duration::from_secs(30),
            cancel,
            max_size: 1 << 20,
            min_free_space: 0,
            min_rate: 1,
            min_rate_window: Duration::from_secs(60),
            ca_file: None,
        }
    }

    #[tokio::test]
    async fn a_file_url_is_copied_verified_and_then_reused() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("Shared")).unwrap();
        std::fs::write(root.path().join("Shared/hello.zip"), "hello").unwrap();
        let cache = root.path().join("cache");
        let cancel = CancellationToken::new();
        let downloader = downloader(root.path(), &cache, &cancel);
        let url = DownloadUrl::File(PathBuf::from("/Shared/hello.zip"));
        let first = downloader.fetch(&url, HELLO_SHA256, "zip").await.unwrap();
        assert_eq!(first.path, cache.join(format!("{HELLO_SHA256}.zip")));
        assert_eq!((first.bytes, first.obtained), (5, Obtained::Copied));
        let second = downloader.fetch(&url, HELLO_SHA256, "zip").await.unwrap();
        assert_eq!(second.obtained, Obtained::Cached);
        std::fs::write(&second.path, "tampered").unwrap();
        let third = downloader.fetch(&url, HELLO_SHA256, "zip").await.unwrap();
        assert_eq!(third.obtained, Obtained::Copied, "a changed cache file is not trusted");
        assert_eq!(std::fs::read(&third.path).unwrap(), b"hello");
    }

    #[tokio::test]
    async fn a_mismatch_leaves_nothing_in_the_cache() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("evil.zip"), "not hello").unwrap();
        let cache = root.path().join("cache");
        let cancel = CancellationToken::new();
        let error = downloader(root.path(), &cache, &cancel)
            .fetch(&DownloadUrl::File(PathBuf::from("/evil.zip")), HELLO_SHA256, "zip")
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("sha256 mismatch for file:///evil.zip: expected 2cf24d"), "{message}");
        assert!(message.ends_with("the download was deleted and nothing was installed"), "{message}");
        assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_missing_source_and_a_shutdown_are_reported() {
        let root = tempfile::tempdir().unwrap();
        let cache = root.path().join("cache");
        let cancel = CancellationToken::new();
        let missing = downloader(root.path(), &cache, &cancel)
            .fetch(&DownloadUrl::File(PathBuf::from("/none.zip")), HELLO_SHA256, "zip")
            .await
            .unwrap_err();
        assert!(missing.to_string().starts_with(&format!("cannot read {}", root.path().join("none.zip").display())));
        cancel.cancel();
        std::fs::write(root.path().join("hello.zip"), "hello").unwrap();
        let stopped = downloader(root.path(), &cache, &cancel)
            .fetch(&DownloadUrl::File(PathBuf::from("/hello.zip")), HELLO_SHA256, "zip")
            .await
            .unwrap_err();
        assert!(matches!(stopped, DownloadError::Cancelled { .. }), "{stopped}");
    }
}
