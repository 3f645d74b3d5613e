//! The JSON bodies the agent sends and the replies it reads.

use serde::{Deserialize, Serialize};

/// `POST /api/v1/agent/checkin`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CheckinBody {
    pub(crate) device_id: String,
    pub(crate) kind: String,
    pub(crate) agent_version: String,
    pub(crate) serial_number: String,
    pub(crate) hostname: String,
    pub(crate) os_version: String,
}

/// `POST /api/v1/agent/enroll`: who the device is, sent with the enrollment secret.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EnrollBody {
    pub(crate) device_id: String,
    pub(crate) serial_number: String,
    pub(crate) hostname: String,
    pub(crate) os_version: String,
    pub(crate) agent_version: String,
}

/// The tenant's answer to an enrollment.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct EnrollReply {
    /// The token this device carries from now on.
    pub(crate) device_token: String,
}

/// The tenant's answer to a check-in.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct CheckinReply {
    /// What the tenant wants done.
    #[serde(default)]
    pub(crate) commands: Vec<Command>,
    /// The oldest agent the tenant accepts.
    #[serde(default)]
    pub(crate) minimum_agent_version: Option<String>,
    /// The agent the tenant offers, `{version, url, sha256}`: kept as JSON here and
    /// checked by `self_update`, so a malformed offer is a logged error there and
    /// never makes the rest of the reply unreadable.
    #[serde(default)]
    pub(crate) latest_agent: Option<serde_json::Value>,
}

/// One queued command.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Command {
    /// The tenant's id for it, for the logs.
    #[serde(default)]
    pub(crate) id: String,
    /// `blankpush`, `dailycheckin` or `updateinventory`.
    #[serde(rename = "type")]
    pub(crate) command_type: String,
}

/// `POST /api/v1/agent/results`: the run as `agent status --json` shows `last_run`,
/// with the person's deferrals in it and the disruptive work still pending.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ResultsBody<'a> {
    pub(crate) device_id: &'a str,
    pub(crate) run_id: &'a str,
    pub(crate) run: &'a crate::state::RunRecord,
    /// Every deferral the run recorded, in order: `{item_id, at, user, choice,
    /// reason}`; empty when none.
    pub(crate) deferrals: &'a [crate::state::Deferral],
    /// The disruptive work that waits on the person or a deadline as the run
    /// ended, as `agent status --json` lists it; empty when none.
    pub(crate) pending_work: &'a [crate::state::PendingWork],
    /// The newest self-update attempt no earlier report carried, as `agent status`
    /// shows it; absent when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) agent_update: Option<&'a crate::state::AgentUpdate>,
}

/// `POST /api/v1/agent/inventory`: the inventory the daily check-in (or an
/// `updateinventory` command) collected.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct InventoryBody<'a> {
    pub(crate) device_id: &'a str,
    pub(crate) report_id: &'a str,
    pub(crate) inventory: &'a crate::inventory::Inventory,
}
