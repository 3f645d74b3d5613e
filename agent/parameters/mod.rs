//! The blueprint's parameters: device-wide settings enforced before the library
//! items, each reported like an item (type `parameter`).
//!
//! They run in a fixed order: secure home folders and folder permissions (both in
//! the daily check-in only; a recurring check-in records them `skipped`), then
//! managed files and managed plists (every check-in). A parameter the blueprint
//! leaves out (or turns off) is neither enforced nor reported. Every path is
//! placed under the agent's root.

mod file_system;
mod folder_permissions;
mod managed_files;
mod managed_plists;
mod secure_home_folders;
mod summary;

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::blueprint::Parameters;
use crate::items::ItemReport;
use crate::paths::AgentPaths;
use crate::plan::CheckinKind;

/// What parameter handlers are given.
pub struct ParameterContext<'a> {
    /// Where everything lives; every managed path is placed under `paths.root`.
    pub paths: &'a AgentPaths,
    /// Daily parameters run only in the daily check-in.
    pub kind: CheckinKind,
    /// When the run's budget ends.
    pub deadline: tokio::time::Instant,
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

/// Why a daily parameter is left alone in a recurring check-in.
const DAILY_ONLY: &str = "runs in the daily check-in only";

/// Enforces every parameter the blueprint sets, in a fixed order.
pub async fn enforce(parameters: &Parameters, context: &ParameterContext<'_>) -> Vec<EnforcedParameter> {
    let root = &context.paths.root;
    let daily = context.kind == CheckinKind::Daily;
    let mut reports = Stopwatch::start();
    if parameters.secure_home_folders {
        reports.push(if daily {
            secure_home_folders::enforce(root)
        } else {
            summary::skipped(secure_home_folders::ID, secure_home_folders::NAME, DAILY_ONLY)
        });
    }
    if let Some(settings) = &parameters.folder_permissions {
        reports.push(if daily {
            folder_permissions::enforce(settings, context).await
        } else {
            summary::skipped(folder_permissions::ID, folder_permissions::NAME, DAILY_ONLY)
        });
    }
    if !parameters.managed_files.is_empty() {
        reports.push(managed_files::enforce(&parameters.managed_files, root));
    }
    if !parameters.managed_plists.is_empty() {
        reports.push(managed_plists::enforce(&parameters.managed_plists, root));
    }
    reports.finished
}

/// A parameter's report with when it ran and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnforcedParameter {
    /// What it found and did.
    pub report: ParameterReport,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration: Duration,
}

/// Times parameters run one after the other: each lasts from the end of the one
/// before it to when its report is pushed.
struct Stopwatch {
    started_at: DateTime<Utc>,
    started: std::time::Instant,
    finished: Vec<EnforcedParameter>,
}

impl Stopwatch {
    fn start() -> Self {
        Self { started_at: Utc::now(), started: std::time::Instant::now(), finished: Vec::new() }
    }

    fn push(&mut self, report: ParameterReport) {
        let duration = self.started.elapsed();
        self.finished.push(EnforcedParameter { report, started_at: self.started_at, duration });
        self.started_at = Utc::now();
        self.started = std::time::Instant::now();
    }
}
