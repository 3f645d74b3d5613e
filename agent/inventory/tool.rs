//! Running one system tool for a collector, through the process module: its own
//! process group, a deadline, the agent's cancellation, bounded output.
//!
//! A tool that does not exist is [`ToolError::Missing`]; whether that is an error
//! or just a collector that does not apply is the platform's call (see
//! `collect`). Output is stdout and stderr together, as the process module keeps
//! it, so parsers of plist output look for the document inside it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::process::{ChildEnd, ChildSpec, Limits, SpawnError, run_child};

/// The most output a tool may print: a System keychain or a profile list with
/// many payloads stays far below, and nothing is ever half-parsed.
const MAX_OUTPUT_BYTES: usize = 16 * 1024 * 1024;

/// How much of a failing tool's output goes into its error message.
const MESSAGE_OUTPUT_CHARS: usize = 200;

/// How a tool is run: when it must be done, and how it is stopped.
#[derive(Debug, Clone)]
pub(crate) struct ToolRunner {
    /// When every tool of this collection is stopped.
    pub(crate) deadline: Instant,
    /// Time between SIGTERM and SIGKILL.
    pub(crate) grace: Duration,
    /// The agent is stopping.
    pub(crate) cancel: CancellationToken,
    /// The folder tools start in (the agent's root).
    pub(crate) current_dir: PathBuf,
}

/// Why a tool gave no usable output.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ToolError {
    /// The program does not exist.
    #[error("{} does not exist", program.display())]
    Missing {
        /// The configured program.
        program: PathBuf,
    },
    /// It could not be started.
    #[error(transparent)]
    Spawn(SpawnError),
    /// It exited with a code other than 0.
    #[error("{} exited {code}{}", program.display(), excerpt(output))]
    Exited {
        /// The program.
        program: PathBuf,
        /// Its exit code.
        code: i32,
        /// What it printed.
        output: String,
    },
    /// A signal the agent did not send ended it.
    #[error("{} was killed by signal {signal}", program.display())]
    Signalled {
        /// The program.
        program: PathBuf,
        /// The signal.
        signal: i32,
    },
    /// The collector's time ran out; its processes were stopped.
    #[error("{} did not finish in time; its processes were stopped", program.display())]
    TimedOut {
        /// The program.
        program: PathBuf,
    },
    /// The agent is shutting down.
    #[error("{} was stopped: the agent is shutting down", program.display())]
    Cancelled {
        /// The program.
        program: PathBuf,
    },
    /// It printed more than the agent reads.
    #[error("{} printed more than {MAX_OUTPUT_BYTES} bytes", program.display())]
    TooMuchOutput {
        /// The program.
        program: PathBuf,
    },
}

impl ToolRunner {
    /// Runs `program` with `args` and returns what it printed when it exits 0.
    pub(crate) async fn output(&self, program: &Path, args: &[&str]) -> Result<String, ToolError> {
        let spec = ChildSpec {
            program: program.to_path_buf(),
            args: args.iter().map(OsString::from).collect(),
            current_dir: Some(self.current_dir.clone()),
            env: Vec::new(),
        };
        let limits =
            Limits { capture_head: MAX_OUTPUT_BYTES, capture_tail: 0, ..Limits::new(self.deadline, self.grace) };
        let outcome = match run_child(&spec, &limits, &self.cancel).await {
            Ok(outcome) => outcome,
            Err(SpawnError::NotFound { .. }) => return Err(ToolError::Missing { program: program.to_path_buf() }),
            Err(error) => return Err(ToolError::Spawn(error)),
        };
        let program = program.to_path_buf();
        match outcome.end {
            _ if outcome.output.is_truncated() => Err(ToolError::TooMuchOutput { program }),
            ChildEnd::Exited { code: 0 } => Ok(outcome.output.to_text()),
            ChildEnd::Exited { code } => Err(ToolError::Exited { program, code, output: outcome.output.to_text() }),
            ChildEnd::Signalled { signal } => Err(ToolError::Signalled { program, signal }),
            ChildEnd::TimedOut => Err(ToolError::TimedOut { program }),
            ChildEnd::Cancelled => Err(ToolError::Cancelled { program }),
        }
    }
}

/// `: <the start of the output>` for an error message, or nothing when it is empty.
fn excerpt(output: &str) -> String {
    let flat: String = output.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        return String::new();
    }
    let mut shortened: String = flat.chars().take(MESSAGE_OUTPUT_CHARS).collect();
    if shortened.len() < flat.len() {
        shortened.push('…');
    }
    format!(": {shortened}")
}

/// The XML property list inside a tool's output: from `<?xml` (or `<plist`) to
/// the last `</plist>`, so log lines a tool writes to stderr around it (merged
/// into the same output) do not spoil it.
pub(crate) fn plist_document(output: &str) -> Option<&str> {
    let start = output.find("<?xml").or_else(|| output.find("<plist"))?;
    let end = output.rfind("</plist>")? + "</plist>".len();
    (end > start).then(|| &output[start..end])
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn runner(folder: &Path, limit: Duration) -> ToolRunner {
        ToolRunner {
            deadline: Instant::now() + limit,
            grace: Duration::from_millis(100),
            cancel: CancellationToken::new(),
            current_dir: folder.to_path_buf(),
        }
    }

    fn script(folder: &Path, body: &str) -> PathBuf {
        let path = folder.join("tool");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[tokio::test]
    async fn a_tool_gives_its_output_or_says_how_it_failed() {
        let folder = tempfile::tempdir().unwrap();
        let run = runner(folder.path(), Duration::from_secs(10));
        let tool = script(folder.path(), "echo \"$1 $2\"");
        assert_eq!(run.output(&tool, &["status", "-v"]).await.unwrap(), "status -v\n");
        let failing = script(folder.path(), "echo 'profiles: this command requires root' >&2; exit 3");
        let error = run.output(&failing, &[]).await.unwrap_err();
        assert!(matches!(error, ToolError::Exited { code: 3, .. }), "{error}");
        assert!(error.to_string().ends_with("exited 3: profiles: this command requires root"), "{error}");
        let missing = folder.path().join("nowhere/system_profiler");
        assert!(matches!(run.output(&missing, &[]).await, Err(ToolError::Missing { .. })));
    }

    #[tokio::test]
    async fn a_hanging_tool_is_stopped_at_the_deadline() {
        let folder = tempfile::tempdir().unwrap();
        let tool = script(folder.path(), "sleep 30");
        let started = std::time::Instant::now();
        let error = runner(folder.path(), Duration::from_millis(300)).output(&tool, &[]).await.unwrap_err();
        assert!(matches!(error, ToolError::TimedOut { .. }), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn the_plist_is_found_among_log_lines() {
        let output = "2024-05-01 system_profiler[12:34] SPUSB: no devices\n<?xml version=\"1.0\"?>\n<plist version=\"1.0\"><array/></plist>\nwarning: done\n";
        assert_eq!(plist_document(output), Some("<?xml version=\"1.0\"?>\n<plist version=\"1.0\"><array/></plist>"));
        assert_eq!(
            plist_document("<plist version=\"1.0\"><dict/></plist>"),
            Some("<plist version=\"1.0\"><dict/></plist>")
        );
        assert_eq!(plist_document("profiles: no profiles\n"), None);
        assert_eq!(plist_document("</plist> <?xml"), None);
    }
}
