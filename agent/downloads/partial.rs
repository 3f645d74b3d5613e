//! The file a download is written into, hashed as it grows.
//!
//! Bytes already in a partial file from an earlier run are hashed when it is
//! opened, so a resumed transfer ends with the digest of the whole file
//! without reading it twice.
//!
//! The cache folder is reached without following a link, and its files are
//! opened relative to it, never through a link (see [`crate::safe_path`]).

use std::ffi::OsStr;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::safe_path::{Folder, Missing, SafePathError, free_bytes};

/// How much is read from disk at a time while hashing.
const READ_CHUNK_SIZE: usize = 256 * 1024;

/// A download in progress: the open file, its length, and the digest so far.
pub(super) struct PartialFile {
    path: PathBuf,
    file: tokio::fs::File,
    hasher: Sha256,
    length: u64,
}

impl PartialFile {
    /// Opens (creating, owner-only) the partial file `name` in the cache `folder`.
    /// Existing bytes are hashed, chunk by chunk, through `between_chunks`, which
    /// may stop the work (deadline, shutdown) by returning an error.
    pub(super) async fn open<E>(
        folder: &Folder,
        name: &OsStr,
        mut between_chunks: impl FnMut() -> Result<(), E>,
    ) -> Result<Result<Self, E>, std::io::Error> {
        let file = folder.open_file(name, OFlag::O_RDWR | OFlag::O_CREAT, 0o600)?;
        let mut file = tokio::fs::File::from_std(file);
        Ok(hash_to_end(&mut file, &mut between_chunks).await?.map(|(hasher, length)| Self {
            path: folder.path().join(name),
            file,
            hasher,
            length,
        }))
    }

    /// Bytes in the file so far.
    pub(super) fn len(&self) -> u64 {
        self.length
    }

    /// The bytes still free on the file's volume.
    pub(super) fn free_bytes(&self) -> std::io::Result<u64> {
        free_bytes(&self.file).map_err(std::io::Error::from)
    }

    /// Empties the file, for a transfer that starts over.
    pub(super) async fn restart(&mut self) -> std::io::Result<()> {
        self.file.set_len(0).await?;
        self.file.seek(SeekFrom::Start(0)).await?;
        self.hasher = Sha256::new();
        self.length = 0;
        Ok(())
    }

    /// Adds `bytes` at the end.
    pub(super) async fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.write_all(bytes).await?;
        self.hasher.update(bytes);
        self.length += bytes.len() as u64;
        Ok(())
    }

    /// Writes what is buffered to disk, so an interrupted transfer resumes from it.
    pub(super) async fn persist(&mut self) -> std::io::Result<()> {
        self.file.flush().await?;
        self.file.sync_all().await
    }

    /// Closes the file; returns its path, length and sha256 in lowercase hex.
    pub(super) async fn finish(mut self) -> std::io::Result<(PathBuf, u64, String)> {
        self.persist().await?;
        Ok((self.path, self.length, hex(&self.hasher.finalize())))
    }
}

/// The sha256 of the open `file`, in lowercase hex; `between_chunks` may stop it.
pub(super) async fn file_digest<E>(
    file: std::fs::File,
    mut between_chunks: impl FnMut() -> Result<(), E>,
) -> std::io::Result<Result<String, E>> {
    let mut file = tokio::fs::File::from_std(file);
    Ok(hash_to_end(&mut file, &mut between_chunks).await?.map(|(hasher, _)| hex(&hasher.finalize())))
}

/// Hashes `file` from where it stands to its end, chunk by chunk, asking
/// `between_chunks` before each whether to go on; gives the hasher and the length read.
async fn hash_to_end<E>(
    file: &mut tokio::fs::File,
    between_chunks: &mut impl FnMut() -> Result<(), E>,
) -> std::io::Result<Result<(Sha256, u64), E>> {
    let mut hasher = Sha256::new();
    let mut length = 0;
    let mut buffer = vec![0; READ_CHUNK_SIZE];
    loop {
        if let Err(stop) = between_chunks() {
            return Ok(Err(stop));
        }
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            return Ok(Ok((hasher, length)));
        }
        hasher.update(&buffer[..read]);
        length += read as u64;
    }
}

/// Opens the cache `folder` below the agent's `root` without following a link,
/// creating it (and its parents) readable by its owner only.
pub(super) fn create_cache_folder(root: &Path, folder: &Path) -> Result<Folder, SafePathError> {
    let opened = Folder::beneath(root, folder, Missing::Create(0o700))?;
    opened.set_mode(0o700)?;
    Ok(opened)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    const HELLO_SHA256: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    fn never_stop() -> Result<(), ()> {
        Ok(())
    }

    #[tokio::test]
    async fn a_resumed_file_hashes_as_a_whole() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("file.partial");
        std::fs::write(&path, "he").unwrap();
        let cache = Folder::trusted(folder.path()).unwrap();
        let mut partial = PartialFile::open(&cache, OsStr::new("file.partial"), never_stop).await.unwrap().unwrap();
        assert_eq!(partial.len(), 2);
        partial.append(b"llo").await.unwrap();
        let (finished, length, digest) = partial.finish().await.unwrap();
        assert_eq!((finished, length, digest.as_str()), (path.clone(), 5, HELLO_SHA256));
        assert_eq!(file_digest(std::fs::File::open(&path).unwrap(), never_stop).await.unwrap().unwrap(), HELLO_SHA256);
    }

    #[tokio::test]
    async fn a_restart_forgets_what_was_there() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("file.partial");
        std::fs::write(&path, "stale bytes").unwrap();
        let cache = Folder::trusted(folder.path()).unwrap();
        let mut partial = PartialFile::open(&cache, OsStr::new("file.partial"), never_stop).await.unwrap().unwrap();
        partial.restart().await.unwrap();
        partial.append(b"hello").await.unwrap();
        let (_, length, digest) = partial.finish().await.unwrap();
        assert_eq!((length, digest.as_str()), (5, HELLO_SHA256));
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
    }

    #[tokio::test]
    async fn new_files_are_owner_only_and_hashing_can_be_stopped() {
        let folder = tempfile::tempdir().unwrap();
        let cache = folder.path().join("a/cache");
        let opened = create_cache_folder(folder.path(), &cache).unwrap();
        assert_eq!(std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777, 0o700);
        let path = cache.join("new.partial");
        let partial = PartialFile::open(&opened, OsStr::new("new.partial"), never_stop).await.unwrap().unwrap();
        drop(partial);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let stopped = file_digest(std::fs::File::open(&path).unwrap(), || Err("deadline")).await.unwrap();
        assert_eq!(stopped, Err("deadline"));
    }
}
