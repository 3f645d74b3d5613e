//! Running the macOS install tools (`installer`, `hdiutil`, `ditto`, and the
//! signature checks' `pkgutil`, `codesign`, `spctl`) for an install, keeping
//! what they printed, and saying how each step failed.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::error::InstallError;
use crate::process::ChildEnd;
use crate::tool_runner::{ToolRun, ToolRunner, Transcript};

/// How long a clean-up step (detaching a disk image) may take, even after the
/// item's deadline or during shutdown: a disk image left mounted is worse than
/// a few more seconds.
const CLEANUP_WINDOW: Duration = Duration::from_secs(15);

/// How many characters of a failed tool's last line go into the error.
const DETAIL_CHARACTERS: usize = 200;

/// Runs an install's steps with `runner`, recording each into a transcript.
pub(super) struct Tools<'a> {
    runner: ToolRunner<'a>,
    transcript: &'a mut Transcript,
}

impl<'a> Tools<'a> {
    /// Steps run by `runner` (an item's, or the agent's own update's), recorded
    /// into `transcript`.
    pub(super) fn new(runner: ToolRunner<'a>, transcript: &'a mut Transcript) -> Self {
        Self { runner, transcript }
    }

    /// The agent's root, which the tools start in and the app's place is inside.
    pub(super) fn root(&self) -> &'a Path {
        self.runner.root
    }

    /// Runs `program` with `args` until it ends; any ending but exit 0 is an error.
    pub(super) async fn run(&mut self, step: &str, program: &Path, args: Vec<OsString>) -> Result<(), InstallError> {
        let runner = self.runner;
        self.run_with(&runner, step, program, args).await
    }

    /// Like [`Tools::run`], but with its own short window and deaf to shutdown,
    /// for a step that undoes an earlier one.
    pub(super) async fn run_cleanup(
        &mut self,
        step: &str,
        program: &Path,
        args: Vec<OsString>,
    ) -> Result<(), InstallError> {
        let never = CancellationToken::new();
        let runner = ToolRunner { deadline: Instant::now() + CLEANUP_WINDOW, cancel: &never, ..self.runner };
        self.run_with(&runner, step, program, args).await
    }

    /// Runs `program` with `args` until it ends and gives back what it printed,
    /// whatever its exit code: for a check whose answer is its output. Any other
    /// ending (signal, deadline, shutdown) is an error.
    pub(super) async fn inspect(
        &mut self,
        step: &str,
        program: &Path,
        args: Vec<OsString>,
    ) -> Result<ToolRun, InstallError> {
        let runner = self.runner;
        let run = self.record(&runner, step, program, args).await?;
        let step = step.to_string();
        match run.end {
            ChildEnd::Exited { .. } => Ok(run),
            ChildEnd::Signalled { signal } => Err(InstallError::Signalled { step, signal }),
            ChildEnd::TimedOut => Err(InstallError::TimedOut { step }),
            ChildEnd::Cancelled => Err(InstallError::Cancelled { step }),
        }
    }

    async fn run_with(
        &mut self,
        runner: &ToolRunner<'_>,
        step: &str,
        program: &Path,
        args: Vec<OsString>,
    ) -> Result<(), InstallError> {
        let run = self.record(runner, step, program, args).await?;
        let step = step.to_string();
        match run.end {
            ChildEnd::Exited { code: 0 } => Ok(()),
            ChildEnd::Exited { code } => Err(InstallError::Failed { step, code, detail: detail(&run) }),
            ChildEnd::Signalled { signal } => Err(InstallError::Signalled { step, signal }),
            ChildEnd::TimedOut => Err(InstallError::TimedOut { step }),
            ChildEnd::Cancelled => Err(InstallError::Cancelled { step }),
        }
    }

    /// Runs `program` and adds what it printed to the transcript under `step`.
    async fn record(
        &mut self,
        runner: &ToolRunner<'_>,
        step: &str,
        program: &Path,
        args: Vec<OsString>,
    ) -> Result<ToolRun, InstallError> {
        let run = runner
            .run(program, args)
            .await
            .map_err(|error| InstallError::Spawn { step: step.to_string(), reason: error.to_string() })?;
        self.transcript.add(step, &run);
        Ok(run)
    }
}

/// `: ` and the last line `run` printed (at most [`DETAIL_CHARACTERS`]), or nothing.
fn detail(run: &ToolRun) -> String {
    run.last_line()
        .map(|line| format!(": {}", line.chars().take(DETAIL_CHARACTERS).collect::<String>()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(output: &str) -> ToolRun {
        ToolRun { end: ChildEnd::Exited { code: 1 }, output: output.into() }
    }

    #[test]
    fn the_last_line_explains_a_failure() {
        assert_eq!(
            detail(&failed("installing\ninstaller: Error - damaged package\n\n")),
            ": installer: Error - damaged package"
        );
        assert_eq!(detail(&failed("")), "");
        assert_eq!(detail(&failed(&"x".repeat(500))).len(), 202);
    }
}
