//! The records a check-in leaves behind, shaped as `agent status --json` shows them.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::plan::CheckinKind;

/// What started a check-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The daemon's own schedule.
    Schedule,
    /// An admin's `agent run`.
    Cli,
    /// A command from the tenant.
    Tenant,
    /// A person at the Mac, through Self Service (an install or a sync).
    SelfService,
}

/// How a whole run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Every item succeeded or was rightly skipped.
    Succeeded,
    /// At least one item failed or hit its own timeout.
    Failed,
    /// The run's budget ran out before every item was done.
    TimedOut,
    /// The agent stopped before the run ended.
    Interrupted,
}

/// How one item ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Compliant, or made compliant.
    Succeeded,
    /// Not compliant, or the handler could not do its job.
    Failed,
    /// Stopped by its own timeout or by the run's budget.
    TimedOut,
    /// Rightly left alone in this check-in (frequency, once done, no enforcement).
    Skipped,
    /// Never reached because the run's budget ran out.
    NotRun,
    /// Its disruptive work waits: a blocking application runs, or the person
    /// at the Mac chose "Later"; the next check-in tries again.
    Deferred,
    /// Only the person at the Mac can do what is left (an OS update on Apple
    /// silicon); they have been told, and the item says how.
    WaitingForUser,
}

macro_rules! text_names {
    ($type:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $type {
            /// The name used in status, history and logs.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),+ }
            }

            /// The value named `text`, if any.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($name => Some(Self::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(self.as_str())
            }
        }
    };
}

text_names!(Trigger { Schedule => "schedule", Cli => "cli", Tenant => "tenant", SelfService => "self_service" });
text_names!(RunOutcome {
    Succeeded => "succeeded",
    Failed => "failed",
    TimedOut => "timed_out",
    Interrupted => "interrupted",
});
text_names!(ItemStatus {
    Succeeded => "succeeded",
    Failed => "failed",
    TimedOut => "timed_out",
    Skipped => "skipped",
    NotRun => "not_run",
    Deferred => "deferred",
    WaitingForUser => "waiting_for_user",
});

/// What differs from what the tenant expects of this device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    /// This agent is older than the blueprint's `minimum_agent_version`.
    pub outdated_client: bool,
    /// No blueprint (or no team) has reached this device.
    pub missing_policy: bool,
    /// The tenant keeps refusing the token.
    pub stale_token: bool,
    /// How many items were found out of compliance and re-applied in the run.
    pub reapplied: u32,
    /// The state store was found damaged and rebuilt, and no daily check-in has
    /// ended since the one that rebuilt it. Absent in runs recorded before it existed.
    #[serde(default)]
    pub store_rebuilt: bool,
    /// How many items ended `deferred` in the run: their disruptive work waits on
    /// the person or a running app, and the next check-in tries again. Absent
    /// (0) in runs recorded before it existed.
    #[serde(default)]
    pub deferred: u32,
    /// How many items ended `waiting_for_user` in the run: only the person at
    /// the Mac can finish them. Absent (0) in runs recorded before it existed.
    #[serde(default)]
    pub waiting_for_user: u32,
}

impl Drift {
    /// Counts the items of `items` that ended `deferred` and `waiting_for_user`
    /// into this drift, in place of what it counted before.
    pub fn count_waiting<'a>(&mut self, items: impl IntoIterator<Item = &'a ItemRecord>) {
        (self.deferred, self.waiting_for_user) = (0, 0);
        for item in items {
            match item.status {
                ItemStatus::Deferred => self.deferred += 1,
                ItemStatus::WaitingForUser => self.waiting_for_user += 1,
                _ => {}
            }
        }
    }
}

/// One kind of drift, named as the `drift.kind` attribute and `agent status` name it.
/// Each is a flag: it holds or it does not. The run's count of re-applied items
/// (`Drift::reapplied`) is no kind: it is the `agent.checkin.reapplied` counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftKind {
    /// The agent is older than the blueprint accepts.
    OutdatedClient,
    /// No policy (or no team) has reached the device.
    MissingPolicy,
    /// The tenant keeps refusing the device's token.
    StaleToken,
    /// The state store was damaged and rebuilt since the last daily check-in.
    StoreRebuilt,
}

impl DriftKind {
    /// Every kind, in the order they are reported.
    pub const ALL: [DriftKind; 4] =
        [DriftKind::OutdatedClient, DriftKind::MissingPolicy, DriftKind::StaleToken, DriftKind::StoreRebuilt];

    /// The name of the kind: `outdated_client`, `missing_policy`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::OutdatedClient => "outdated_client",
            DriftKind::MissingPolicy => "missing_policy",
            DriftKind::StaleToken => "stale_token",
            DriftKind::StoreRebuilt => "store_rebuilt",
        }
    }

    /// The value of this kind in `drift`: 1 while it holds, 0 when not.
    pub fn value(self, drift: &Drift) -> u64 {
        let holds = match self {
            DriftKind::OutdatedClient => drift.outdated_client,
            DriftKind::MissingPolicy => drift.missing_policy,
            DriftKind::StaleToken => drift.stale_token,
            DriftKind::StoreRebuilt => drift.store_rebuilt,
        };
        u64::from(holds)
    }
}

impl fmt::Display for DriftKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The `type` recorded for a blueprint parameter's result.
pub const PARAMETER_TYPE: &str = "parameter";

/// The result of one library item (or blueprint parameter) in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemRecord {
    /// The item's id in the blueprint.
    pub id: String,
    /// The item's name, as a label.
    pub name: String,
    /// The item's type (`custom_script`, ...).
    #[serde(rename = "type")]
    pub item_type: String,
    /// How it ended.
    pub status: ItemStatus,
    /// When it started (for skipped and not-run items: when that was decided).
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// How long it ran.
    pub duration_ms: u64,
    /// The exit code of the last program it ran, if any.
    pub exit_code: Option<i32>,
    /// One line for admins: what was found and what was done.
    pub message: String,
    /// The programs' combined output, head and tail kept.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
}

/// What every view of a check-in starts with: which run, what started it, when,
/// and how it ended. Its fields appear at the top level of the JSON of a
/// [`RunRecord`] and a [`RunSummary`] (`agent status --json`, `agent history --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunHeader {
    /// Unique, time-ordered run id.
    pub id: String,
    /// Recurring or daily.
    pub kind: CheckinKind,
    /// What started it.
    pub trigger: Trigger,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended; `None` while it runs.
    pub finished_at: Option<DateTime<Utc>>,
    /// How it ended; `None` while it runs.
    pub outcome: Option<RunOutcome>,
    /// The user who asked for it through Self Service (`self_service` runs);
    /// absent for the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
}

impl RunHeader {
    /// Run `id` of `kind`, started by `trigger` at `started_at`, as a check-in
    /// begins it: not ended yet.
    pub fn begun(id: String, kind: CheckinKind, trigger: Trigger, started_at: DateTime<Utc>) -> Self {
        RunHeader { id, kind, trigger, started_at, finished_at: None, outcome: None, requested_by: None }
    }

    /// How long the run took, in milliseconds; `None` while it runs. Never
    /// negative: a clock stepped back during the run reads as 0.
    pub fn duration_ms(&self) -> Option<u64> {
        let finished_at = self.finished_at?;
        Some((finished_at - self.started_at).num_milliseconds().max(0) as u64)
    }
}

/// One check-in as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Which run, what started it, when, and how it ended.
    #[serde(flatten)]
    pub header: RunHeader,
    /// The blueprint it enforced.
    pub blueprint_id: Option<String>,
    /// The drift found during the run.
    pub drift: Drift,
    /// What is wrong with the run's record, when something is: the state store
    /// could not record some of its results or its end (a full disk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The blueprint parameters, enforced before the items (type `parameter`).
    #[serde(default)]
    pub parameters: Vec<ItemRecord>,
    /// The items, in execution order.
    pub items: Vec<ItemRecord>,
}

#[cfg(test)]
impl ItemRecord {
    /// A script item `id` that ended with `status` at `at`, after 5 ms, exit 0,
    /// having printed `out`.
    pub(crate) fn ended(id: &str, status: ItemStatus, at: DateTime<Utc>) -> Self {
        ItemRecord {
            id: id.into(),
            name: id.into(),
            item_type: "custom_script".into(),
            status,
            started_at: at,
            finished_at: at,
            duration_ms: 5,
            exit_code: Some(0),
            message: String::new(),
            output: "out".into(),
        }
    }
}

#[cfg(test)]
impl RunRecord {
    /// A run of blueprint `bp` as a check-in begins it: no end, no results yet.
    pub(crate) fn begun(id: &str, kind: CheckinKind, trigger: Trigger, started_at: DateTime<Utc>) -> Self {
        RunRecord {
            header: RunHeader::begun(id.into(), kind, trigger, started_at),
            blueprint_id: Some("bp".into()),
            drift: Drift::default(),
            message: None,
            parameters: Vec::new(),
            items: Vec::new(),
        }
    }

    /// This run as it ended at `at` with `outcome`.
    pub(crate) fn finished(self, at: DateTime<Utc>, outcome: RunOutcome) -> Self {
        let header = RunHeader { finished_at: Some(at), outcome: Some(outcome), ..self.header };
        RunRecord { header, ..self }
    }
}

/// One line of history: a run without its items.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// Which run, what started it, when, and how it ended.
    #[serde(flatten)]
    pub header: RunHeader,
    /// What is wrong with the run's record, when something is (see [`RunRecord`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How many items ended with each status.
    pub counts: StatusCounts,
}

/// How many items of a run ended with each status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    /// Items that succeeded.
    pub succeeded: u32,
    /// Items that failed.
    pub failed: u32,
    /// Items that timed out.
    pub timed_out: u32,
    /// Items rightly skipped.
    pub skipped: u32,
    /// Items never reached.
    pub not_run: u32,
    /// Items whose disruptive work waits on the person or a running app.
    #[serde(default)]
    pub deferred: u32,
    /// Items only the person at the Mac can finish.
    #[serde(default)]
    pub waiting_for_user: u32,
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
