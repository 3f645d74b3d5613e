//! `agent doctor`: the checklist a Mac admin walks through when a device seems
//! out of control, each line a verdict (pass, warn, fail, or skipped where it
//! does not apply), the value measured, and the fix to try.
//!
//! ```text
//! installation.rs   agent binary, launchd job file, launchctl print  (launchctl.rs parses it)
//! tenant.rs         TCP to the tenant, GET blueprint with the token   (network.rs times connects)
//! network.rs        TCP to Apple push on each port
//! checkin.rs        last check-in: the tenant's answer, else the last run
//! inventory_age.rs  last inventory
//! mdm.rs            MDM profile installed, identity certificate expiry
//! filevault.rs      fdesetup status
//! thresholds.rs     the age and expiry rules, as plain functions
//! diagnose.rs       runs them all (network and tools at once), builds the Report
//! ```

mod check;
mod checkin;
mod diagnose;
mod filevault;
mod installation;
mod inventory_age;
mod launchctl;
mod mdm;
mod network;
mod render;
mod tenant;
mod thresholds;

pub use check::Verdict;
pub use diagnose::diagnose;
pub use render::render;
