//! Putting an app on the device from a verified download: a zip unpacked by the
//! agent, a pkg through `installer`, or a dmg through `hdiutil` and `ditto`.
//! It serves app items ([`deliver`]) and the agent's own update
//! ([`install_package`]) and knows neither: each says what it needs.
//!
//! An app replaced by a zip or dmg install is swapped, not overwritten: the new
//! bundle is prepared in a root-only staging folder beside its destination,
//! then renamed over the old one, so users never see a half-copied app.
//!
//! When the item names a `team_id`, the pkg, or the staged app before the swap,
//! must pass the signature checks of [`signature`]; a mismatch installs nothing.

mod deliver;
mod dmg;
mod error;
mod pkg;
mod placement;
mod signature;
mod staged_bundle;
mod tools;
mod zip_archive;
mod zip_limits;

pub(crate) use deliver::{Delivered, Delivery, deliver};
pub(crate) use pkg::install as install_package;
pub(crate) use signature::{SignatureCheck, check_package_with as check_package_signature};
