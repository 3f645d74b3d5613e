//! Custom scripts: audit, then remediation when the audit fails, then the audit
//! again to confirm. Each script is written into the run's private folder and
//! executed directly, so its own shebang picks the interpreter. The audit is
//! written ahead, while the item before runs ([`prepare`]).

use std::path::{Path, PathBuf};

use super::{ItemContext, ItemReport, RunFolder};
use crate::blueprint::CustomScript;
use crate::process::{ChildEnd, SpawnError};
use crate::state::ItemStatus;
use crate::tool_runner::{ToolRun, ToolRunner, Transcript};

/// Runs the audit, and the remediation with a confirming audit when needed.
pub async fn run(script: &CustomScript, context: &mut ItemContext<'_>) -> ItemReport {
    let mut log = Transcript::default();
    let audit = match run_script("audit", &script.audit, context, &mut log).await {
        Ok(step) => step,
        Err(report) => return report.with_output(log),
    };
    match audit.end {
        ChildEnd::Exited { code: 0 } => return passed("compliant: the audit passed", 0, log, false),
        ChildEnd::Exited { code } if script.remediation.is_none() => {
            let message = format!("not compliant: the audit exited {code} and there is no remediation");
            return ended(ItemStatus::Failed, message, Some(code), log);
        }
        ChildEnd::Exited { .. } => {}
        other => return stopped("audit", &other, log),
    }
    let remediation = script.remediation.as_deref().unwrap_or_default();
    let fixed = match run_script("remediation", remediation, context, &mut log).await {
        Ok(step) => step,
        Err(report) => return report.with_output(log),
    };
    match fixed.end {
        ChildEnd::Exited { code: 0 } => {}
        ChildEnd::Exited { code } => {
            let message = format!("not compliant: the remediation exited {code}");
            return ended(ItemStatus::Failed, message, Some(code), log);
        }
        other => return stopped("remediation", &other, log),
    }
    let confirm = match run_script("audit after remediation", &script.audit, context, &mut log).await {
        Ok(step) => step,
        Err(report) => return report.with_output(log),
    };
    match confirm.end {
        ChildEnd::Exited { code: 0 } => passed("remediated: the audit passed after the remediation", 0, log, true),
        ChildEnd::Exited { code } => {
            let message = format!("still not compliant: the audit exited {code} after the remediation");
            ended(ItemStatus::Failed, message, Some(code), log)
        }
        other => stopped("audit after remediation", &other, log),
    }
}

impl ItemReport {
    fn with_output(mut self, log: Transcript) -> Self {
        self.output = log.into_text();
        self
    }
}

fn passed(message: &str, code: i32, log: Transcript, reapplied: bool) -> ItemReport {
    ItemReport { reapplied, ..ended(ItemStatus::Succeeded, message.to_string(), Some(code), log) }
}

fn ended(status: ItemStatus, message: String, exit_code: Option<i32>, log: Transcript) -> ItemReport {
    ItemReport { status, message, exit_code, output: log.into_text(), reapplied: false }
}

/// The report for a step that did not exit by itself.
fn stopped(phase: &str, end: &ChildEnd, log: Transcript) -> ItemReport {
    let message = match end {
        ChildEnd::TimedOut => format!("timed out during the {phase}; its processes were stopped"),
        ChildEnd::Cancelled => format!("stopped during the {phase}: the agent is shutting down"),
        ChildEnd::Signalled { signal } => format!("the {phase} was killed by signal {signal}"),
        ChildEnd::Exited { code } => format!("the {phase} exited {code}"),
    };
    ItemReport::tool_ended(*end, message).with_output(log)
}

/// Writes the audit ahead of the item's turn.
pub fn prepare(script: &CustomScript, item_path: &Path, folder: &RunFolder) {
    if script.audit.starts_with("#!") {
        folder.write_ahead(&script_path(item_path, "audit"), &script.audit);
    }
}

/// Where the item's script for `phase` is written: beside its path, `<path>.<phase>`.
fn script_path(item_path: &Path, phase: &str) -> PathBuf {
    item_path.with_extension(phase.replace(' ', "-"))
}

/// Writes `source` into the run's folder and runs it until it ends or the
/// item's deadline; its output, when it printed any, goes to `log`.
async fn run_script(
    phase: &str,
    source: &str,
    context: &mut ItemContext<'_>,
    log: &mut Transcript,
) -> Result<ToolRun, ItemReport> {
    let run = run_script_until(phase, source, context, context.deadline).await?;
    if !run.output.is_empty() {
        log.add(phase, &run);
    }
    Ok(run)
}

/// Writes `source` (which must start with `#!`) into the run's folder as the
/// item's `phase` script and runs it, from the root with the item's environment
/// (run and item ids), in its own process group with bounded output, until it
/// ends or `deadline`: the one way an item runs an admin's script (a custom
/// app's scripts too). The output is the caller's to record.
pub(super) async fn run_script_until(
    phase: &str,
    source: &str,
    context: &mut ItemContext<'_>,
    deadline: tokio::time::Instant,
) -> Result<ToolRun, ItemReport> {
    if !source.starts_with("#!") {
        return Err(ItemReport::failed(format!(
            "the {phase} script has no shebang line; start it with one such as #!/bin/sh"
        )));
    }
    (context.on_phase)(phase);
    let path = script_path(context.work_dir, phase);
    context
        .run_folder
        .script(&path, source)
        .map_err(|error| ItemReport::failed(format!("cannot write the {phase} script {}: {error}", path.display())))?;
    let tools = ToolRunner { deadline, ..context.tools() };
    let run = tools.run(&path, Vec::new()).await;
    context.run_folder.ran(path);
    run.map_err(|error| ItemReport::failed(describe_spawn_error(phase, source, &error)))
}

/// Says why a script could not start, naming a missing interpreter.
fn describe_spawn_error(phase: &str, source: &str, error: &SpawnError) -> String {
    let interpreter = source.lines().next().and_then(|line| line.strip_prefix("#!")).map(str::trim).unwrap_or_default();
    match error {
        SpawnError::NotFound { .. } => {
            format!("the {phase} script's interpreter was not found (shebang: #!{interpreter})")
        }
        other => format!("cannot start the {phase} script: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::ScratchItem;

    #[tokio::test]
    async fn a_failed_audit_is_remediated_then_confirmed_from_the_root() {
        let mut scratch = ScratchItem::new();
        let script = CustomScript {
            audit: "#!/bin/sh\necho \"checking $AGENT_ITEM_ID\"\ntest -e fixed\n".into(),
            remediation: Some("#!/bin/sh\ntouch fixed\n".into()),
        };
        let report = run(&script, &mut scratch.context()).await;
        assert_eq!((report.status, report.exit_code, report.reapplied), (ItemStatus::Succeeded, Some(0), true));
        assert_eq!(report.message, "remediated: the audit passed after the remediation");
        assert_eq!(scratch.phases(), ["audit", "remediation", "audit after remediation"]);
        assert!(report.output.contains("checking scratch-item"), "{}", report.output);
        assert!(scratch.root().join("fixed").exists(), "the remediation ran in the root");
    }

    #[tokio::test]
    async fn each_way_a_script_ends_has_its_report() {
        let audit_phases = ["audit", "remediation", "audit after remediation"];
        let cases = [
            ("#!/bin/sh\nexit 0\n", None, ItemStatus::Succeeded, Some(0), "compliant: the audit passed", 1),
            (
                "#!/bin/sh\nexit 3\n",
                None,
                ItemStatus::Failed,
                Some(3),
                "not compliant: the audit exited 3 and there is no remediation",
                1,
            ),
            (
                "#!/bin/sh\nexit 1\n",
                Some("#!/bin/sh\nexit 0\n"),
                ItemStatus::Failed,
                Some(1),
                "still not compliant: the audit exited 1 after the remediation",
                3,
            ),
            (
                "#!/bin/sh\nexit 1\n",
                Some("#!/bin/sh\nexit 4\n"),
                ItemStatus::Failed,
                Some(4),
                "not compliant: the remediation exited 4",
                2,
            ),
            (
                "echo no shebang\n",
                None,
                ItemStatus::Failed,
                None,
                "the audit script has no shebang line; start it with one such as #!/bin/sh",
                0,
            ),
            (
                "#!/nonexistent/sh\n",
                None,
                ItemStatus::Failed,
                None,
                "the audit script's interpreter was not found (shebang: #!/nonexistent/sh)",
                1,
            ),
        ];
        for (audit, remediation, status, exit_code, message, phases) in cases {
            let mut scratch = ScratchItem::new();
            let script = CustomScript { audit: audit.into(), remediation: remediation.map(String::from) };
            let report = run(&script, &mut scratch.context()).await;
            assert_eq!((report.status, report.exit_code, report.message.as_str()), (status, exit_code, message));
            assert_eq!(scratch.phases(), audit_phases[..phases], "{audit:?}");
        }
    }
}
