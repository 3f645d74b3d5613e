//! Running the system's tools for a managed OS item, and saying how one that
//! was needed ended.
//!
//! Every tool runs through the item's [`ToolRunner`](crate::tool_runner::ToolRunner):
//! in its own process group, under the item's deadline (the run's budget: OS
//! updates have no timeout of their own) and the agent's cancellation, from the
//! agent's root folder. Its output goes into the item's transcript, stdout and
//! stderr together (`softwareupdate` prints "No new software available." on stderr).

use std::ffi::OsString;
use std::path::Path;

use crate::items::{ItemContext, ItemReport};
use crate::process::{ChildEnd, SpawnError};
use crate::tool_runner::{ToolRun, Transcript};

/// Runs `program` with `args` until it ends, the item's deadline passes or the
/// agent stops, and records its output under `heading`.
pub(super) async fn run_tool(
    context: &mut ItemContext<'_>,
    heading: &str,
    program: &Path,
    args: &[&str],
    transcript: &mut Transcript,
) -> Result<ToolRun, SpawnError> {
    (context.on_phase)(heading);
    let run = context.tools().run(program, args.iter().map(OsString::from).collect()).await?;
    transcript.add(heading, &run);
    Ok(run)
}

/// The report for a tool that did not exit 0: `what` names the tool run
/// (`softwareupdate --list`), `doing` what it was for.
pub(super) fn not_done(what: &str, doing: &str, end: ChildEnd) -> ItemReport {
    let message = match end {
        ChildEnd::Exited { code } => format!("cannot {doing}: {what} exited {code}"),
        ChildEnd::Signalled { signal } => format!("cannot {doing}: {what} was killed by signal {signal}"),
        ChildEnd::TimedOut => format!("timed out while {what} ran to {doing}; its processes were stopped"),
        ChildEnd::Cancelled => format!("stopped while {what} ran to {doing}: the agent is shutting down"),
    };
    ItemReport::tool_ended(end, message)
}
