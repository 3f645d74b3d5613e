//! Downloads into the agent's root-only cache, resumed when cut short and checked
//! against their sha256 before anything may use them.
//!
//! A download is written to `<cache>/<sha256>.<ext>.partial` and renamed to
//! `<sha256>.<ext>` only once its digest matches, so a file without the
//! `.partial` suffix has been verified. A partial file left by an earlier run
//! (cut connection, timeout, shutdown) is continued with an HTTP `Range`
//! request; a server that ignores the range answers `200` and the file starts
//! over. A digest mismatch deletes the file: nothing unverified stays behind.
//! The daily check-in prunes the cache ([`prune_cache`]).

mod bounds;
mod error;
mod fetch;
mod http;
mod partial;
mod prune;

pub use bounds::Downloader;
pub use error::DownloadError;
pub use fetch::{Downloaded, Obtained};
pub use prune::prune_unneeded;
