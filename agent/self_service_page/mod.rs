//! The Self Service page (`agent self-service open`): a small web server on
//! 127.0.0.1, run by the person at the Mac as themselves, that shows the updates
//! waiting on this Mac, the catalog and Device Info and asks the daemon, over its
//! control socket, to do an update now, install an offered item or sync.
//!
//! ```text
//!  server (listen, stop when closed or idle) ──► routes ──► access (Host, Origin, cookie)
//!     │  browser (open the one-time URL)          │    ├──► assets (the page, built in)
//!     └── lifetime (closed, idle, running)        │    └──► daemon_requests ──► daemon::client
//!                                                 └──► responses (headers on every answer)
//! ```

mod access;
mod assets;
mod browser;
mod daemon_requests;
mod lifetime;
mod responses;
mod routes;
mod server;

pub(crate) use lifetime::Limits;
pub(crate) use server::{PageSettings, serve};
