//! The device and application inventory: collectors behind one entry,
//! [`collect`], parsers of each macOS tool's output as plain functions, the
//! inventory's JSON model, and the last inventory saved on disk.
//!
//! Parsers are free of platform code and tested on every OS against fixtures in
//! each tool's exact output format (`tests/fixtures/inventory/`).

mod applications;
mod assemble;
mod certificates;
mod collect;
mod enrollment;
mod fdesetup;
mod ioreg;
mod linux;
mod model;
mod parse_error;
mod platform;
mod profiles;
mod render;
mod saved;
mod system;
mod system_profiler;
mod tool;

#[cfg(test)]
pub(crate) use crate::der::test_certificate;
pub(crate) use crate::der::{Validity, certificate_validity};
pub use collect::collect;
#[cfg(test)]
pub(crate) use fdesetup::fixtures as fdesetup_fixtures;
pub(crate) use fdesetup::parse_fdesetup_status;
pub use model::{
    Application, AssignedUser, Certificate, CollectorError, Device, Disk, Enrollment, FileVault, FileVaultState,
    Hardware, Inventory, OperatingSystem, Payload, Profile, Security, SoftwareUpdate, User,
};
pub use platform::Platform;
pub use render::render;
pub(crate) use saved::{CheapFacts, cheap_facts};
pub use saved::{SavedInventoryError, collect_and_save, load, save};
pub(crate) use tool::{ToolError, ToolRunner};
