//! The on-disk store: runs, item results and what the device remembers.
//!
//! One SQLite file in WAL mode under the state folder. Every item result is
//! committed the moment it finishes, so a `kill -9` loses nothing already
//! recorded; a run left without an end is marked `interrupted` by the next run.

mod agent_updates;
mod process_groups;
mod records;
mod runs;
mod schedule_marks;
mod spool;
mod store;
mod tenant_requests;

pub use agent_updates::{AgentUpdate, AgentUpdateOutcome};
pub(crate) use process_groups::RecordedGroup;
pub use records::{
    Drift, ItemRecord, ItemStatus, PARAMETER_TYPE, RunOutcome, RunRecord, RunSummary, StatusCounts, Trigger,
};
pub(crate) use store::time_text;
pub use store::{Store, StoreError, create_private_folder};
pub(crate) use tenant_requests::{TenantCommand, TenantRequest};
