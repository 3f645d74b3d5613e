//! Running a tool for an item (or for the agent's own update), and keeping what
//! it printed: the one way every program an item starts is run and described.
//! It stands just above `process` (which supervises one child) and below
//! `installers`, `items` and `self_update`, which all run tools through it.
//!
//! A [`ToolRunner`] holds what each run needs: the agent's root (the folder it
//! starts in), the variables added to its environment, the deadline, the grace
//! between `TERM` and `KILL`, and the token that stops it. Each run goes through
//! [`run_child`] with the default output bounds ([`Limits::new`]); its process
//! group is recorded by whichever watcher the check-in set (`process::watching`),
//! not here. A [`Transcript`] keeps each run's output under a heading that says
//! how it ended (`--- installer (exit 1) ---`): the item's `output` in
//! `agent history --run`.

use std::ffi::OsString;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::process::{ChildEnd, ChildSpec, Limits, SpawnError, run_child};

/// Where and how long tools run: from `root`, with `environment` added, until
/// `deadline` or until `cancel` fires.
#[derive(Debug, Clone, Copy)]
pub struct ToolRunner<'a> {
    /// The folder every tool starts in: the agent's root (`/` on a Mac).
    pub root: &'a Path,
    /// Variables added to every tool's environment (run and item ids).
    pub environment: &'a [(OsString, OsString)],
    /// When a tool still running is stopped.
    pub deadline: Instant,
    /// How long a stopped tool's processes get between `TERM` and `KILL`.
    pub grace: Duration,
    /// Stops a running tool when it fires (the agent shutting down).
    pub cancel: &'a CancellationToken,
}

impl ToolRunner<'_> {
    /// Runs `program` with `args` until it ends, the deadline passes or the
    /// runner is cancelled; its process group is stopped either way.
    ///
    /// # Errors
    ///
    /// [`SpawnError`] when the program cannot be started or its exit observed.
    pub async fn run(&self, program: &Path, args: Vec<OsString>) -> Result<ToolRun, SpawnError> {
        let spec = ChildSpec {
            program: program.to_path_buf(),
            args,
            current_dir: Some(self.root.to_path_buf()),
            env: self.environment.to_vec(),
        };
        let limits = Limits::new(self.deadline, self.grace);
        let outcome = run_child(&spec, &limits, self.cancel).await?;
        Ok(ToolRun { end: outcome.end, output: outcome.output.to_text() })
    }
}

/// How one tool run ended and what it printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolRun {
    /// How it ended.
    pub end: ChildEnd,
    /// Its stdout and stderr, merged in the order written, bounded.
    pub output: String,
}

impl ToolRun {
    /// The tool exited 0.
    pub fn succeeded(&self) -> bool {
        self.end == ChildEnd::Exited { code: 0 }
    }

    /// The tool's exit code, when it exited by itself.
    pub fn exit_code(&self) -> Option<i32> {
        match self.end {
            ChildEnd::Exited { code } => Some(code),
            _ => None,
        }
    }

    /// The last line the tool printed that is not blank, trimmed: where most
    /// tools say what failed.
    pub fn last_line(&self) -> Option<&str> {
        self.output.lines().map(str::trim).rfind(|line| !line.is_empty())
    }
}

/// How a program ended, as a transcript's heading says it: `exit 1`,
/// `signal 9`, `timed out`, `stopped`.
impl fmt::Display for ChildEnd {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildEnd::Exited { code } => write!(formatter, "exit {code}"),
            ChildEnd::Signalled { signal } => write!(formatter, "signal {signal}"),
            ChildEnd::TimedOut => formatter.write_str("timed out"),
            ChildEnd::Cancelled => formatter.write_str("stopped"),
        }
    }
}

/// The output of every tool run, each under a heading, in order, and the exit
/// code of the last tool that exited by itself.
#[derive(Debug, Default)]
pub struct Transcript {
    text: String,
    last_exit_code: Option<i32>,
}

impl Transcript {
    /// Adds `run`'s output under `heading` and how it ended.
    pub fn add(&mut self, heading: &str, run: &ToolRun) {
        self.note(&format!("{heading} ({})", run.end), &run.output);
        if let Some(code) = run.exit_code() {
            self.last_exit_code = Some(code);
        }
    }

    /// Adds `text` under `heading`.
    pub fn note(&mut self, heading: &str, text: &str) {
        self.text.push_str(&format!("--- {heading} ---\n{text}"));
        if !text.is_empty() && !text.ends_with('\n') {
            self.text.push('\n');
        }
    }

    /// The exit code of the last tool that exited by itself, if any ran.
    pub fn last_exit_code(&self) -> Option<i32> {
        self.last_exit_code
    }

    /// Everything recorded.
    pub fn into_text(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ran(end: ChildEnd, output: &str) -> ToolRun {
        ToolRun { end, output: output.into() }
    }

    #[test]
    fn each_run_gets_a_heading_naming_how_it_ended() {
        let mut transcript = Transcript::default();
        transcript.add("hdiutil attach", &ran(ChildEnd::Exited { code: 0 }, "/dev/disk4\t/mnt"));
        transcript.add("ditto", &ran(ChildEnd::TimedOut, ""));
        transcript.add("lpadmin", &ran(ChildEnd::Signalled { signal: 9 }, "half\n"));
        transcript.note("os-release", "ID=debian");
        transcript.add("installer", &ran(ChildEnd::Cancelled, ""));
        assert_eq!(transcript.last_exit_code(), Some(0));
        assert_eq!(
            transcript.into_text(),
            "--- hdiutil attach (exit 0) ---\n/dev/disk4\t/mnt\n--- ditto (timed out) ---\n\
             --- lpadmin (signal 9) ---\nhalf\n--- os-release ---\nID=debian\n--- installer (stopped) ---\n"
        );
    }

    #[test]
    fn the_last_line_names_the_failure() {
        let run = ran(
            ChildEnd::Exited { code: 1 },
            "lpadmin: Printer drivers are deprecated.\n  lpadmin: Bad device-uri. \n\n",
        );
        assert_eq!(run.last_line(), Some("lpadmin: Bad device-uri."));
        assert_eq!(run.exit_code(), Some(1));
        assert!(!run.succeeded());
        assert_eq!(ran(ChildEnd::TimedOut, " \n").last_line(), None);
        assert_eq!(ran(ChildEnd::TimedOut, "").exit_code(), None);
    }

    #[tokio::test]
    async fn a_tool_runs_from_the_root_with_the_environment() {
        let root = tempfile::tempdir().expect("tempdir");
        let cancel = CancellationToken::new();
        let environment = [(OsString::from("ITEM"), OsString::from("printer-1"))];
        let runner = ToolRunner {
            root: root.path(),
            environment: &environment,
            deadline: Instant::now() + Duration::from_secs(30),
            grace: Duration::from_secs(1),
            cancel: &cancel,
        };
        let args = vec!["-c".into(), "pwd; echo $ITEM; exit 3".into()];
        let run = runner.run(Path::new("/bin/sh"), args).await.expect("sh runs");
        let expected = format!("{}\nprinter-1\n", root.path().canonicalize().expect("root").display());
        assert_eq!(run, ran(ChildEnd::Exited { code: 3 }, &expected));
    }
}
