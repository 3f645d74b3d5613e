//! What a check-in tells as it goes: one [`ProgressEvent`] per step, handed to
//! the function its caller gave. Every consumer takes the same events: `agent run`
//! shows them (a live line on a terminal, plain lines otherwise, only the wait with
//! `--json`; see `progress`), the daemon streams them over its control
//! socket to the `agent run` that asked, and a scheduled check-in logs the wait.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::run_lock::Holder;
use crate::state::{ItemRecord, RunRecord};

/// One step of a check-in, as data (also the `progress` reply of the daemon's
/// control socket).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// Another check-in holds the lock; this one waits for it.
    Waiting {
        /// Who runs it, when known.
        holder: Option<Holder>,
    },
    /// A Self Service sync was already under way (waiting or running): this
    /// request follows that one instead of running a second (told by the daemon).
    Joined {
        /// Who asked for the sync under way.
        requested_by: Option<String>,
        /// When.
        asked_at: DateTime<Utc>,
    },
    /// The run started.
    RunStarted {
        /// The run as recorded at its start.
        run: RunRecord,
        /// How many library items the plan holds.
        items: usize,
    },
    /// A library item started.
    ItemStarted {
        /// Its place in the plan, from 0.
        position: usize,
        /// How many items the plan holds.
        total: usize,
        /// Its type, e.g. `custom_script`.
        item_type: String,
        /// Its name, as a label.
        name: String,
    },
    /// A blueprint parameter was enforced (before any item).
    ParameterFinished {
        /// Its result.
        record: ItemRecord,
    },
    /// The running item entered a phase (`audit`, `remediation`, ...).
    ItemPhase {
        /// The phase.
        phase: String,
    },
    /// A library item ended (or was skipped, or never reached).
    ItemFinished {
        /// Its place in the plan, from 0.
        position: usize,
        /// How many items the plan holds.
        total: usize,
        /// Its result.
        record: ItemRecord,
    },
    /// The run ended.
    RunFinished {
        /// The whole run record.
        run: RunRecord,
    },
}
