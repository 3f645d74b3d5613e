//! Running CUPS' tools under the item's deadline, and keeping what they said.
//!
//! Every tool goes through the item's [`ToolRunner`](crate::tool_runner::ToolRunner):
//! its own process group, bounded output, the item's deadline, TERM then KILL.
//! The tools find the CUPS server the way CUPS always does (`CUPS_SERVER`,
//! `client.conf`, the local socket), from the environment the agent passes on.

use std::ffi::OsString;
use std::path::Path;

use super::super::{ItemContext, ItemReport};
use super::cups_output::complaints;
use crate::process::ChildEnd;
use crate::tool_runner::{ToolRun, Transcript};

/// The last line a tool printed, which is where CUPS' tools say what failed.
pub(super) fn last_line(run: &ToolRun) -> &str {
    run.last_line().unwrap_or("it printed nothing")
}

/// Runs `program` (the configured path of CUPS' tool `tool`) with `arguments`
/// until it exits or the item must stop. The transcript keeps every `lpadmin`
/// call, and any other tool's that did not exit 0 or complained.
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
) -> Result<ToolRun, ItemReport> {
    let command_line = describe_command(tool, arguments);
    let run = context
        .tools()
        .run(program, arguments.to_vec())
        .await
        .map_err(|error| ItemReport::failed(format!("cannot run {}: {error}", program.display())))?;
    if tool == "lpadmin" || !run.succeeded() || !complaints(tool, &run.output).is_empty() {
        transcript.add(&command_line, &run);
    }
    let stopped = match run.end {
        ChildEnd::Exited { .. } => return Ok(run),
        ChildEnd::TimedOut => format!("timed out while running {command_line}"),
        ChildEnd::Cancelled => format!("stopped while running {command_line}: the agent is shutting down"),
        ChildEnd::Signalled { signal } => format!("{command_line} was killed by signal {signal}"),
    };
    Err(ItemReport::tool_ended(run.end, stopped))
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
        let failed = |output: &str| ToolRun { end: ChildEnd::Exited { code: 1 }, output: output.into() };
        assert_eq!(
            last_line(&failed("lpadmin: Printer drivers are deprecated.\nlpadmin: Bad device-uri.\n\n")),
            "lpadmin: Bad device-uri."
        );
        assert_eq!(last_line(&failed("")), "it printed nothing");
    }
}
