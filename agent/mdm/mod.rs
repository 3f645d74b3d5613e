//! The MDM daily check-in (`agent update-mdm`): the answers to Apple's six
//! inventory queries, built from one collected [`Inventory`](crate::inventory::Inventory)
//! in Apple's response format, to be sent to the tenant.
//!
//! ```text
//!  Inventory ─┬─ profile_list                ProfileList               (profiles of the device)
//!             ├─ installed_application_list  InstalledApplicationList  (applications)
//!             ├─ security_info               SecurityInfo              (FileVault, SIP, enrollment)
//!             ├─ certificate_list            CertificateList           (System keychain)
//!             ├─ available_os_updates        AvailableOSUpdates        (softwareupdate)
//!             └─ device_information          DeviceInformation         (device, hardware, OS)
//!                   └──► report: each in the envelope (CommandUUID, Status, UDID, RequestType)
//! ```
//!
//! Key names and types are Apple's (`tests/fixtures/apple-mdm/`). An optional key
//! is sent only when its value is known; what a builder had to leave out is
//! named in [`MdmReport::left_out`], never sent as a guess.

mod available_os_updates;
mod built;
mod certificate_list;
mod device_information;
mod envelope;
mod installed_application_list;
mod profile_list;
mod report;
mod security_info;
mod summary;

pub use envelope::Status;
#[cfg(test)]
pub(crate) use report::LeftOut;
pub use report::{MdmReport, build_report};
pub use summary::render;
