//! What operating system a device runs and which updates it is offered.
//!
//! The facts come from the system's own tools (`sw_vers`, `softwareupdate`) or,
//! on Linux where the agent is built and tested, from `/etc/os-release`. Their
//! outputs are read by plain functions, free of any platform code, so the same
//! fixtures test them on every OS.

mod installed;
mod os_release;
mod software_update;
mod sw_vers;
mod version;

pub use installed::InstalledOs;
pub use os_release::{os_release_pretty_name, parse_os_release};
pub use software_update::{AvailableUpdate, parse_software_update_list};
pub use sw_vers::parse_sw_vers;
pub use version::OsVersion;
