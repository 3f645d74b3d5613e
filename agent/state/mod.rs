//! The on-disk store: runs, item results and what the device remembers.
//!
//! One SQLite file in WAL mode under the state folder. A commit reaches the
//! operating system at once, so a `kill -9` loses nothing committed; each
//! check-in ends with a checkpoint that puts it on disk for good (a power cut
//! can only undo commits since the last one). A run left without an end is
//! marked `interrupted` by the next run, with every item of its plan ([`interrupted`]).
//! A damaged store is recognised ([`damage`]) and, under the check-in lock,
//! moved aside for a fresh one ([`rebuild`]); the device id survives it
//! ([`device_identity`]). How a check-in groups its item results into commits
//! is decided above the store, by the check-in's run writer. What the store keeps, and how
//! much (`state.max_size`), is [`retention`]'s.

mod agent_updates;
mod damage;
mod device_identity;
mod interrupted;
mod pending_work;
mod process_groups;
mod rebuild;
mod records;
mod retention;
mod runs;
mod schedule_marks;
mod schema;
mod spool;
mod store;
mod tenant_requests;

pub use agent_updates::{AgentUpdate, AgentUpdateOutcome};
pub use damage::{KEPT_DAMAGED_SETS, StoreRebuilt};
pub use device_identity::DEVICE_ID_FILE_NAME;
pub(crate) use device_identity::read_kept as kept_device_id;
pub use interrupted::ClosedRun;
pub use pending_work::{Deferral, PendingWork};
pub(crate) use process_groups::RecordedGroup;
pub use records::{
    Drift, DriftKind, ItemRecord, ItemStatus, PARAMETER_TYPE, RunHeader, RunOutcome, RunRecord, RunSummary,
    StatusCounts, Trigger,
};
pub use retention::{MAX_STORED_OUTPUT, PRUNED_OUTPUT, Pruning, StoreSize};
pub(crate) use store::time_text;
pub use store::{Store, StoreError, create_private_folder};
pub(crate) use tenant_requests::{TenantCommand, TenantRequest};
