//! Running the macOS install tools (`installer`, `hdiutil`, `ditto`) through the
//! supervised child runner, and keeping what they printed.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::error::InstallError;
use crate::items::ItemContext;
use crate::process::{ChildEnd, ChildSpec, Limits, run_child};

/// How long a clean-up step (detaching a disk image) may take, even after the
/// item's deadline or during shutdown: a disk image left mounted is worse than
/// a few more seconds.
const CLEANUP_WINDOW: Duration = Duration::from_secs(15);

/// The outputs of every tool run, each under a heading, in order, and the
/// exit code of the last tool that exited by itself.
#[derive(Debug, Default)]
pub(crate) struct Transcript {
    text: String,
    last_exit_code: Option<i32>,
}

impl Transcript {
    /// Adds one step's output under a heading naming how it ended.
    fn add(&mut self, step: &str, end: &ChildEnd, output: &str) {
        let ending = match end {
            ChildEnd::Exited { code } => format!("exit {code}"),
            ChildEnd::Signalled { signal } => format!("signal {signal}"),
            ChildEnd::TimedOut => "timed out".into(),
            ChildEnd::Cancelled => "stopped".into(),
        };
        self.text.push_str(&format!("--- {step} ({ending}) ---\n{output}"));
        if !output.is_empty() && !output.ends_with('\n') {
            self.text.push('\n');
        }
        if let ChildEnd::Exited { code } = end {
            self.last_exit_code = Some(*code);
        }
    }

    /// The exit code of the last tool that exited by itself, if any ran.
    pub(crate) fn last_exit_code(&self) -> Option<i32> {
        self.last_exit_code
    }

    /// Everything recorded.
    pub(crate) fn into_text(self) -> String {
        self.text
    }
}

/// Runs tools for one item: in the agent's root, with the item's environment,
/// under the item's deadline.
pub(super) struct Tools<'a> {
    root: &'a Path,
    environment: &'a [(OsString, OsString)],
    deadline: Instant,
    grace: Duration,
    cancel: &'a CancellationToken,
    transcript: &'a mut Transcript,
}

impl<'a> Tools<'a> {
    /// Tools bound by `context`, recording into `transcript`.
    pub(super) fn new(context: &'a ItemContext<'_>, transcript: &'a mut Transcript) -> Self {
        Self {
            root: context.root,
            environment: &context.environment,
            deadline: context.deadline,
            grace: context.termination_grace,
            cancel: context.cancel,
            transcript,
        }
    }

    /// Tools outside any item (the agent's own update): in `root`, with the agent's
    /// own environment, until `deadline`, stopped early only through `cancel`.
    pub(super) fn detached(
        root: &'a Path,
        deadline: Instant,
        grace: Duration,
        cancel: &'a CancellationToken,
        transcript: &'a mut Transcript,
    ) -> Self {
        Self { root, environment: &[], deadline, grace, cancel, transcript }
    }

    /// Runs `program` with `args` until it ends; any ending but exit 0 is an error.
    pub(super) async fn run(&mut self, step: &str, program: &Path, args: Vec<OsString>) -> Result<(), InstallError> {
        let limits = Limits::new(self.deadline, self.grace);
        let cancel = self.cancel.clone();
        self.run_with(step, program, args, limits, &cancel).await
    }

    /// Like [`Tools::run`], but with its own short window and deaf to shutdown,
    /// for a step that undoes an earlier one.
    pub(super) async fn run_cleanup(
        &mut self,
        step: &str,
        program: &Path,
        args: Vec<OsString>,
    ) -> Result<(), InstallError> {
        let limits = Limits::new(Instant::now() + CLEANUP_WINDOW, self.grace);
        self.run_with(step, program, args, limits, &CancellationToken::new()).await
    }

    async fn run_with(
        &mut self,
        step: &str,
        program: &Path,
        args: Vec<OsString>,
        limits: Limits,
        cancel: &CancellationToken,
    ) -> Result<(), InstallError> {
        let spec = ChildSpec {
            program: program.to_path_buf(),
            args,
            current_dir: Some(self.root.to_path_buf()),
            env: self.environment.to_vec(),
        };
        let outcome = run_child(&spec, &limits, cancel)
            .await
            .map_err(|error| InstallError::Spawn { step: step.to_string(), reason: error.to_string() })?;
        let output = outcome.output.to_text();
        self.transcript.add(step, &outcome.end, &output);
        let step = step.to_string();
        match outcome.end {
            ChildEnd::Exited { code: 0 } => Ok(()),
            ChildEnd::Exited { code } => Err(InstallError::Failed { step, code, detail: last_line(&output) }),
            ChildEnd::Signalled { signal } => Err(InstallError::Signalled { step, signal }),
            ChildEnd::TimedOut => Err(InstallError::TimedOut { step }),
            ChildEnd::Cancelled => Err(InstallError::Cancelled { step }),
        }
    }
}

/// `: ` and the last non-empty line of `output` (at most 200 characters), or nothing.
fn last_line(output: &str) -> String {
    output
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())
        .map(|line| format!(": {}", line.chars().take(200).collect::<String>()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_explains_a_failure() {
        assert_eq!(
            last_line("installing\ninstaller: Error - damaged package\n\n"),
            ": installer: Error - damaged package"
        );
        assert_eq!(last_line(""), "");
        assert_eq!(last_line(&"x".repeat(500)).len(), 202);
    }

    #[test]
    fn each_step_gets_a_heading() {
        let mut transcript = Transcript::default();
        transcript.add("hdiutil attach", &ChildEnd::Exited { code: 0 }, "/dev/disk4\t/mnt");
        transcript.add("ditto", &ChildEnd::TimedOut, "");
        assert_eq!(transcript.last_exit_code(), Some(0));
        assert_eq!(
            transcript.into_text(),
            "--- hdiutil attach (exit 0) ---\n/dev/disk4\t/mnt\n--- ditto (timed out) ---\n"
        );
    }
}
