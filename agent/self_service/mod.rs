//! Self Service: what a person at the Mac may see and ask for without admin
//! rights (see README "Self Service").
//!
//! [`catalog`] says which library items are offered and how each stands on this
//! Mac; [`device_summary`] is the Device Info a person sees; [`updates`] is the
//! disruptive work already due here, which a person may ask to have done now.
//! The daemon answers them over its control socket (the store and the blueprint
//! are root-only), and root reads them directly when no daemon runs.

pub mod catalog;
pub mod device_summary;
pub mod updates;

pub use catalog::{CatalogError, OfferedItem, OfferedState, offered_items};
pub use device_summary::{DeviceSummary, device_summary};
pub use updates::{PendingUpdate, UpdatesError, pending_updates, waiting_update};
