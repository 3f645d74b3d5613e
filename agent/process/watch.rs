//! Telling someone outside the process module when a supervised program's process
//! group starts and when it is gone, without threading a parameter through every
//! item type: a check-in sets a [`GroupWatcher`] for the task that runs an item
//! ([`watching`]), and [`super::run_child`] reports to whichever is set: a group
//! that has run for a moment (`WATCH_AFTER`) or is about to be stopped, not one
//! whose program was over before.
//!
//! The check-in records each group in the state store so that, after a `kill -9`
//! of the agent, the next agent can stop what the item left running
//! ([`crate::orphans`]). Programs run outside a check-in (no watcher) are not
//! reported.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use nix::unistd::Pid;

/// Told when a supervised program's process group starts and ends.
pub(crate) trait GroupWatcher: Send + Sync {
    /// `program` started as the leader of process group `group` (its own pid).
    fn started(&self, group: Pid, program: &Path);
    /// The group was stopped and its leader reaped, or the supervision was
    /// dropped (which kills the group).
    fn ended(&self, group: Pid);
}

tokio::task_local! {
    static WATCHER: Arc<dyn GroupWatcher>;
}

/// Runs `future` with `watcher` told about every program [`super::run_child`]
/// starts inside it.
pub(crate) async fn watching<F: Future>(watcher: Arc<dyn GroupWatcher>, future: F) -> F::Output {
    WATCHER.scope(watcher, future).await
}

/// A started group as the watcher knows it; tells the watcher it ended when
/// dropped, however the supervision ends.
pub(super) struct Watched {
    group: Pid,
    watcher: Option<Arc<dyn GroupWatcher>>,
}

impl Watched {
    /// Tells the watcher set for this task, if any, that `group` started.
    pub(super) fn started(group: Pid, program: &Path) -> Self {
        let watcher = WATCHER.try_with(Arc::clone).ok();
        if let Some(watcher) = &watcher {
            watcher.started(group, program);
        }
        Watched { group, watcher }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Some(watcher) = &self.watcher {
            watcher.ended(self.group);
        }
    }
}
