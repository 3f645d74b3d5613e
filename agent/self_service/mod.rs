//! Self Service: what a person at the Mac may see and ask for without admin
//! rights (see README "Self Service").
//!
//! [`catalog`] says which library items are offered and how each stands on this
//! Mac; [`device_summary`] is the Device Info a person sees. The daemon answers
//! both over its control socket (the store and the blueprint are root-only), and
//! root reads them directly when no daemon runs.

pub mod catalog;
pub mod device_summary;

pub use catalog::{CatalogError, OfferedItem, OfferedState, offered_items};
pub use device_summary::{DeviceSummary, device_summary};
