//! What a handler is given, and what it answers.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::config::AgentConfig;
use crate::paths::AgentPaths;
use crate::process::ChildEnd;
use crate::state::{ItemStatus, Store};
use crate::tool_runner::ToolRunner;

use super::RunFolder;

/// Everything a handler needs besides the item itself.
pub struct ItemContext<'a> {
    /// The item's id, the key for what the device remembers about it.
    pub item_id: &'a str,
    /// The item's name, for what people read (pending work in `agent status`).
    pub item_name: &'a str,
    /// The run's id, for what the item records against its run (deferrals).
    pub run_id: &'a str,
    /// The person who asked for this one item in Self Service (an install, or
    /// Update Now on pending work), if one did: for a managed OS item their
    /// "Update Now". `None` in every check-in, a Self Service sync's included.
    pub requested_by: Option<&'a str>,
    /// The agent's configuration (command paths, timeouts).
    pub config: &'a AgentConfig,
    /// Where everything lives (download cache, Applications folder, root).
    pub paths: &'a AgentPaths,
    /// The state store, for per-item markers ([`Store::item_marker`]).
    pub store: &'a Store,
    /// When the check-in started, for deadlines an item compares against.
    pub now: DateTime<Utc>,
    /// A path only this item uses in this run, inside the run's private (0700)
    /// folder, which exists. Nothing is there yet: an item type that needs a
    /// folder creates it; scripts are files beside it (`<path>.<phase>`). All of
    /// it is removed with the run's folder when the run ends.
    pub work_dir: &'a Path,
    /// The run's private folder, which writes and deletes the item's scripts.
    pub run_folder: &'a RunFolder,
    /// The folder programs start in: the agent's root (`/` on a Mac).
    pub root: &'a Path,
    /// When the item must be done: its own timeout or the run's budget, whichever is first.
    pub deadline: tokio::time::Instant,
    /// How long processes get between TERM and KILL.
    pub termination_grace: Duration,
    /// Fires when the agent is shutting down.
    pub cancel: &'a CancellationToken,
    /// Variables added to every program's environment (run and item ids).
    pub environment: Vec<(OsString, OsString)>,
    /// Told the name of each phase as it starts (`audit`, `remediation`, ...).
    pub on_phase: &'a mut dyn FnMut(&str),
}

impl ItemContext<'_> {
    /// How this item runs its tools: from the root, with its environment, until
    /// its deadline, stopped when the agent shuts down.
    pub(crate) fn tools(&self) -> ToolRunner<'_> {
        ToolRunner {
            root: self.root,
            environment: &self.environment,
            deadline: self.deadline,
            grace: self.termination_grace,
            cancel: self.cancel,
        }
    }
}

/// How one item went, before the check-in adds times and names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemReport {
    /// The outcome.
    pub status: ItemStatus,
    /// One line for admins: what was found, what was done.
    pub message: String,
    /// The exit code of the last program run, if one exited.
    pub exit_code: Option<i32>,
    /// The programs' output, each part bounded.
    pub output: String,
    /// The item was out of compliance and the handler brought it back.
    pub reapplied: bool,
}

impl ItemReport {
    /// A failure that ran nothing.
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            status: ItemStatus::Failed,
            message: message.into(),
            exit_code: None,
            output: String::new(),
            reapplied: false,
        }
    }

    /// The report for a tool that ended as `end` when the item needed it to exit
    /// 0: timed out when it ran out of time, failed otherwise, with its exit code
    /// when it exited; `message` says what happened.
    pub(crate) fn tool_ended(end: ChildEnd, message: String) -> Self {
        let status = if end == ChildEnd::TimedOut { ItemStatus::TimedOut } else { ItemStatus::Failed };
        let exit_code = match end {
            ChildEnd::Exited { code } => Some(code),
            _ => None,
        };
        Self { status, exit_code, ..Self::failed(message) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_that_ran_out_of_time_times_the_item_out_and_any_other_end_fails_it() {
        let timed_out = ItemReport::tool_ended(ChildEnd::TimedOut, "timed out while running lpstat -e".into());
        assert_eq!((timed_out.status, timed_out.exit_code), (ItemStatus::TimedOut, None));
        assert_eq!(timed_out.message, "timed out while running lpstat -e");
        let exited = ItemReport::tool_ended(ChildEnd::Exited { code: 3 }, "cannot list: it exited 3".into());
        assert_eq!((exited.status, exited.exit_code), (ItemStatus::Failed, Some(3)));
        for end in [ChildEnd::Cancelled, ChildEnd::Signalled { signal: 9 }] {
            let report = ItemReport::tool_ended(end, String::new());
            assert_eq!((report.status, report.exit_code, report.reapplied), (ItemStatus::Failed, None, false));
        }
    }
}
