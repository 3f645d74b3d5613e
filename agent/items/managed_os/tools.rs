//! Running the system's tools for a managed OS item, and keeping what they said.
//!
//! Every tool runs through [`run_child`] in its own process group, under the
//! item's deadline (the run's budget: OS updates have no timeout of their own)
//! and the agent's cancellation, from the agent's root folder.

use std::ffi::OsString;
use std::path::Path;

use crate::items::{ItemContext, ItemReport};
use crate::process::{ChildEnd, ChildSpec, Limits, SpawnError, run_child};
use crate::state::ItemStatus;

/// How one tool run ended and what it printed (stdout and stderr together:
/// `softwareupdate` prints "No new software available." on stderr).
pub(super) struct Step {
    /// How it ended.
    pub(super) end: ChildEnd,
    /// What it printed, bounded.
    pub(super) output: String,
}

/// The output of every tool run, each under a heading, in order: the item's
/// `output` in `agent history --run`.
#[derive(Default)]
pub(super) struct Transcript(String);

impl Transcript {
    /// Adds a tool's output under `heading`.
    pub(super) fn add(&mut self, heading: &str, step: &Step) {
        let ending = match step.end {
            ChildEnd::Exited { code } => format!("exit {code}"),
            ChildEnd::Signalled { signal } => format!("signal {signal}"),
            ChildEnd::TimedOut => "timed out".into(),
            ChildEnd::Cancelled => "stopped".into(),
        };
        self.note(&format!("{heading} ({ending})"), &step.output);
    }

    /// Adds `text` under `heading`.
    pub(super) fn note(&mut self, heading: &str, text: &str) {
        self.0.push_str(&format!("--- {heading} ---\n{text}"));
        if !text.is_empty() && !text.ends_with('\n') {
            self.0.push('\n');
        }
    }

    /// Everything recorded.
    pub(super) fn into_text(self) -> String {
        self.0
    }
}

/// Runs `program` with `args` until it ends, the item's deadline passes or the
/// agent stops, and records its output under `heading`.
pub(super) async fn run_tool(
    context: &mut ItemContext<'_>,
    heading: &str,
    program: &Path,
    args: &[&str],
    transcript: &mut Transcript,
) -> Result<Step, SpawnError> {
    (context.on_phase)(heading);
    let spec = ChildSpec {
        program: program.to_path_buf(),
        args: args.iter().map(OsString::from).collect(),
        current_dir: Some(context.root.to_path_buf()),
        env: context.environment.clone(),
    };
    let limits = Limits::new(context.deadline, context.termination_grace);
    let outcome = run_child(&spec, &limits, context.cancel).await?;
    let step = Step { end: outcome.end, output: outcome.output.to_text() };
    transcript.add(heading, &step);
    Ok(step)
}

/// The report for a tool that did not exit 0: `what` names the tool run
/// (`softwareupdate --list`), `doing` what it was for.
pub(super) fn not_done(what: &str, doing: &str, end: ChildEnd) -> ItemReport {
    let (status, message, exit_code) = match end {
        ChildEnd::Exited { code } => (ItemStatus::Failed, format!("cannot {doing}: {what} exited {code}"), Some(code)),
        ChildEnd::Signalled { signal } => {
            (ItemStatus::Failed, format!("cannot {doing}: {what} was killed by signal {signal}"), None)
        }
        ChildEnd::TimedOut => {
            (ItemStatus::TimedOut, format!("timed out while {what} ran to {doing}; its processes were stopped"), None)
        }
        ChildEnd::Cancelled => {
            (ItemStatus::Failed, format!("stopped while {what} ran to {doing}: the agent is shutting down"), None)
        }
    };
    ItemReport { status, message, exit_code, output: String::new(), reapplied: false }
}
