//! A custom app's own scripts (`audit_script`, `preinstall_script`,
//! `postinstall_script`): each runs as a custom script does (written into the
//! run's private folder, its own process group, bounded output, the item's
//! environment with the run and item ids), under `timeouts.custom_script` or the
//! item's deadline, whichever comes first: a script stopped by its own limit
//! fails the item (`timed_out` is kept for the run's budget, the only limit of
//! a custom app, and would mark the items after it not run). Its output goes into the item's
//! record under a heading that names it and says how it ended
//! (`--- postinstall_script (exit 0) ---`).

use crate::blueprint::AppScripts;
use crate::items::custom_script::run_script_until;
use crate::items::{ItemContext, ItemReport};
use crate::process::{ChildEnd, deadline_after};
use crate::tool_runner::Transcript;

/// What a custom app adds around the app flow: its scripts, and a restart after
/// an install. Auto apps have none ([`Steps::NONE`]).
pub(crate) struct Steps<'a> {
    /// The admin's scripts.
    pub scripts: &'a AppScripts,
    /// The Mac restarts after a successful install.
    pub restart: bool,
}

/// No scripts and no restart.
static NO_SCRIPTS: AppScripts = AppScripts { audit: None, preinstall: None, postinstall: None };

impl Steps<'_> {
    /// No scripts and no restart: an auto app.
    pub(crate) const NONE: Steps<'static> = Steps { scripts: &NO_SCRIPTS, restart: false };
}

/// Runs the script `name` (`audit_script`, ...) and records its output; its exit
/// code when it exited by itself, else the report the item ends with (it could
/// not start, timed out, was killed, or the agent is stopping).
pub(super) async fn run(
    name: &str,
    source: &str,
    context: &mut ItemContext<'_>,
    transcript: &mut Transcript,
) -> Result<i32, ItemReport> {
    let timeout = context.config.timeouts.custom_script;
    let own_deadline = deadline_after(tokio::time::Instant::now(), timeout);
    let run = run_script_until(name, source, context, own_deadline.min(context.deadline)).await?;
    transcript.add(name, &run);
    tracing::info!(item_id = %context.item_id, script = %name, end = %run.end, "A custom app's script ended.");
    match run.end {
        ChildEnd::Exited { code } => Ok(code),
        // The script's own limit, not the item's: the item fails, and the run's
        // budget (what `timed_out` means for a custom app) is not taken as spent.
        ChildEnd::TimedOut if own_deadline < context.deadline => {
            let limit = humantime::format_duration(timeout);
            let message = format!("the {name} ran past timeouts.custom_script ({limit}); its processes were stopped");
            Err(ItemReport::failed(message))
        }
        end => Err(ItemReport::tool_ended(end, stopped(name, end))),
    }
}

/// Why a script that did not exit by itself ended.
fn stopped(name: &str, end: ChildEnd) -> String {
    match end {
        ChildEnd::TimedOut => format!("the {name} timed out; its processes were stopped"),
        ChildEnd::Cancelled => format!("stopped during the {name}: the agent is shutting down"),
        ChildEnd::Signalled { signal } => format!("the {name} was killed by signal {signal}"),
        ChildEnd::Exited { code } => format!("the {name} exited {code}"),
    }
}

/// `report` with the scripts' output before its own.
pub(super) fn with_output_before(mut report: ItemReport, before: String) -> ItemReport {
    if !before.is_empty() {
        report.output = before + &report.output;
    }
    report
}
