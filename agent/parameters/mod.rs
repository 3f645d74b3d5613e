//! The blueprint's parameters: device-wide settings enforced before the library
//! items, each reported like an item (type `parameter`).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::blueprint::Parameters;
use crate::config::AgentConfig;
use crate::items::ItemReport;
use crate::paths::AgentPaths;
use crate::plan::CheckinKind;

/// What parameter handlers are given.
pub struct ParameterContext<'a> {
    /// Where everything lives; every managed path is placed under `paths.root`.
    pub paths: &'a AgentPaths,
    /// The agent's configuration.
    pub config: &'a AgentConfig,
    /// Daily parameters run only in the daily check-in.
    pub kind: CheckinKind,
    /// When the run's budget ends.
    pub deadline: tokio::time::Instant,
    /// How long processes get between TERM and KILL.
    pub termination_grace: Duration,
    /// Fires when the agent is shutting down.
    pub cancel: &'a CancellationToken,
}

/// How one parameter went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterReport {
    /// The parameter's key in the blueprint, e.g. `managed_files`.
    pub id: String,
    /// What admins call it, e.g. "Managed files".
    pub name: String,
    /// Its outcome, message and output.
    pub report: ItemReport,
    /// How many things (files, keys, folders) were found out of line and put back.
    pub reapplied: u32,
}

/// Enforces every parameter the blueprint sets, in a fixed order.
pub async fn enforce(parameters: &Parameters, _context: &ParameterContext<'_>) -> Vec<ParameterReport> {
    for key in parameters.keys.keys() {
        tracing::warn!(parameter = %key, "This blueprint parameter is not enforced by this agent.");
    }
    Vec::new()
}
