//! Running CUPS' tools under the item's deadline, and keeping what they said.
//!
//! Every tool goes through [`run_child`]: its own process group, bounded output,
//! the item's deadline, TERM then KILL. The tools find the CUPS server the way
//! CUPS always does (`CUPS_SERVER`, `client.conf`, the local socket), from the
//! environment the agent passes on.

use std::ffi::OsString;
use std::path::Path;

use super::super::{ItemContext, ItemReport};
use super::cups_output::complaints;
use crate::process::{ChildEnd, ChildSpec, Limits, run_child};
use crate::state::ItemStatus;

/// A tool that exited by itself.
pub(super) struct Ran {
    /// Its exit code.
    pub(super) code: i32,
    /// Its stdout and stderr, merged.
    pub(super) output: String,
}

impl Ran {
    /// The last line the tool printed, which is where CUPS' tools say what failed.
    pub(super) fn last_line(&self) -> &str {
        self.output.lines().map(str::trim).rfind(|line| !line.is_empty()).unwrap_or("it printed nothing")
    }
}

/// What the tools printed that an admin should see: every `lpadmin` call, and
/// any other tool's complaints.
#[derive(Default)]
pub(super) struct Transcript(String);

impl Transcript {
    fn add(&mut self, command_line: &str, ending: &str, output: &str) {
        self.0.push_str(&format!("--- {command_line} ({ending}) ---\n{output}"));
        if !output.is_empty() && !output.ends_with('\n') {
            self.0.push('\n');
        }
    }

    /// The transcript as the item's output.
    pub(super) fn into_text(self) -> String {
        self.0
    }
}

/// Runs `program` (the configured path of CUPS' tool `tool`) with `arguments`
/// until it exits or the item must stop.
///
/// # Errors
///
/// The item's report when the tool cannot start, times out, is stopped or is
/// killed: the item cannot go on without its answer.
pub(super) async fn run_tool(
    tool: &str,
    program: &Path,
    arguments: &[OsString],
    context: &ItemContext<'_>,
    transcript: &mut Transcript,
) -> Result<Ran, ItemReport> {
    let command_line = describe_command(tool, arguments);
    let spec = ChildSpec {
        program: program.to_path_buf(),
        args: arguments.to_vec(),
        current_dir: Some(context.root.to_path_buf()),
        env: context.environment.clone(),
    };
    let limits = Limits::new(context.deadline, context.termination_grace);
    let outcome = run_child(&spec, &limits, context.cancel)
        .await
        .map_err(|error| ItemReport::failed(format!("cannot run {}: {error}", program.display())))?;
    let output = outcome.output.to_text();
    let (ending, stopped) = match outcome.end {
        ChildEnd::Exited { code } => (format!("exit {code}"), None),
        ChildEnd::TimedOut => {
            ("timed out".into(), Some((ItemStatus::TimedOut, format!("timed out while running {command_line}"))))
        }
        ChildEnd::Cancelled => (
            "stopped".into(),
            Some((ItemStatus::Failed, format!("stopped while running {command_line}: the agent is shutting down"))),
        ),
        ChildEnd::Signalled { signal } => (
            format!("signal {signal}"),
            Some((ItemStatus::Failed, format!("{command_line} was killed by signal {signal}"))),
        ),
    };
    let said_something = !complaints(tool, &output).is_empty();
    if tool == "lpadmin" || stopped.is_some() || said_something || !matches!(outcome.end, ChildEnd::Exited { code: 0 })
    {
        transcript.add(&command_line, &ending, &output);
    }
    if let Some((status, message)) = stopped {
        return Err(ItemReport { status, ..ItemReport::failed(message) });
    }
    let code = match outcome.end {
        ChildEnd::Exited { code } => code,
        _ => -1,
    };
    Ok(Ran { code, output })
}

/// The command as an admin would type it, arguments with spaces quoted.
fn describe_command(tool: &str, arguments: &[OsString]) -> String {
    let mut line = tool.to_string();
    for argument in arguments {
        let text = argument.to_string_lossy();
        if text.is_empty() || text.contains(|character: char| character.is_whitespace() || "'\"\\".contains(character))
        {
            line.push_str(&format!(" {text:?}"));
        } else {
            line.push(' ');
            line.push_str(&text);
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_read_as_typed() {
        let arguments: Vec<OsString> = ["-p", "office", "-D", "Office 1", "-L", ""].iter().map(Into::into).collect();
        assert_eq!(describe_command("lpadmin", &arguments), "lpadmin -p office -D \"Office 1\" -L \"\"");
    }

    #[test]
    fn the_last_line_names_the_failure() {
        let ran =
            Ran { code: 1, output: "lpadmin: Printer drivers are deprecated.\nlpadmin: Bad device-uri.\n\n".into() };
        assert_eq!(ran.last_line(), "lpadmin: Bad device-uri.");
        assert_eq!(Ran { code: 1, output: String::new() }.last_line(), "it printed nothing");
    }
}
