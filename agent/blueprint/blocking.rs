//! An app item's `blocking_applications` and `force_install_after`: what must not
//! be running while its app is replaced, and from when the agent quits it anyway.
//!
//! ```json
//! { "blocking_applications": ["Foo.app", "/Applications/Foo Helper.app", "foo-daemon"],
//!   "force_install_after": "2026-12-31T17:00:00Z" }
//! ```
//! Without `blocking_applications`, the app being installed blocks its own install.
//! As Munki's `blocking_applications` and `force_install_after_date`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

/// What keeps an app item from replacing its app, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Blocking {
    /// The applications that must not be running; `None`: the app being installed.
    pub applications: Option<Vec<BlockingApplication>>,
    /// From this moment on a blocking application is asked to quit, then stopped,
    /// and the app installed; until then the install waits. `None`: it always waits.
    pub force_install_after: Option<DateTime<Utc>>,
}

/// One entry of `blocking_applications`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockingApplication {
    /// An absolute path ending in `.app` (`/Applications/Foo.app`, read under the
    /// agent's root): a process whose executable lies inside that bundle.
    BundlePath(PathBuf),
    /// A bundle's name (`Foo.app`): a process whose executable lies inside a
    /// bundle of that name, wherever it is.
    BundleName(String),
    /// Any other name (`foo-daemon`): a process of that name.
    ProcessName(String),
}
