//! Is the agent installed as the package installs it: the binary at
//! `/usr/local/bin/agent` (and does it run), the launchd job that starts
//! `agent daemon` at boot, and whether launchd has that job loaded and running.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::check::Finding;
use super::launchctl::parse_launchctl_print;
use crate::inventory::{Platform, ToolError, ToolRunner};
use crate::paths::{AgentPaths, DOMAIN, INSTALLED_BINARY};

/// What to do when the package's files are missing or wrong.
const REINSTALL: &str =
    "Reinstall the agent package (the MDM's install policy, or `sudo installer -pkg EndpointAgent.pkg -target /`).";

/// What to do when launchd does not know the job.
const LOAD: &str = "Load the job: `sudo launchctl bootstrap system /Library/LaunchDaemons/io.endpointagent.agent.plist` (reinstalling the package does it too).";

/// What to do when the job is loaded but the daemon does not run.
const RESTART: &str = "Restart it: `sudo launchctl kickstart -k system/io.endpointagent.agent`; `agent logs --level warn` shows why it stopped.";

/// The binary exists, is executable, and says it is this version of the agent.
pub(crate) async fn agent_binary(paths: &AgentPaths, runner: &ToolRunner) -> Finding {
    let path = &paths.agent_binary;
    let shown = path.display();
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Finding::fail(format!("missing: {shown}"), REINSTALL);
        }
        Err(error) => return Finding::fail(format!("cannot read {shown}: {error}"), REINSTALL),
    };
    if !metadata.is_file() || metadata.permissions().mode() & 0o111 == 0 {
        return Finding::fail(format!("{shown} is not an executable file"), REINSTALL);
    }
    let this_version = env!("CARGO_PKG_VERSION");
    match runner.output(path, &["--version"]).await {
        Ok(output) => match output.trim().strip_prefix("agent ") {
            Some(version) if version == this_version => Finding::pass(format!("{shown}: agent {version}")),
            Some(version) => Finding::warn(
                format!("{shown} is agent {version}, this doctor is agent {this_version}"),
                format!(
                    "launchd runs {shown}: install the package of the version you expect, or run that binary's own `agent doctor`."
                ),
            ),
            None => {
                Finding::fail(format!("{shown} is not the agent: `--version` printed {:?}", output.trim()), REINSTALL)
            }
        },
        Err(error) => Finding::fail(format!("{shown} does not run: {error}"), REINSTALL),
    }
}

/// The launchd job file exists, has our label, and starts `/usr/local/bin/agent
/// daemon` at load and again whenever it exits.
pub(crate) fn launchd_job(paths: &AgentPaths) -> Finding {
    let path = &paths.launchd_plist;
    let shown = path.display();
    let job = match read_job(path) {
        Ok(job) => job,
        Err(JobProblem::Missing) => return Finding::fail(format!("missing: {shown}"), REINSTALL),
        Err(JobProblem::Unreadable(reason)) => {
            return Finding::fail(format!("cannot read {shown}: {reason}"), REINSTALL);
        }
    };
    let expected = [INSTALLED_BINARY, "daemon"];
    if job.label.as_deref() != Some(DOMAIN) {
        let label = job.label.as_deref().unwrap_or("none");
        return Finding::fail(format!("{shown} has the label {label:?}, not {DOMAIN:?}"), REINSTALL);
    }
    if job.arguments != expected {
        let starts = job.arguments.join(" ");
        return Finding::fail(format!("{shown} starts `{starts}`, not `{}`", expected.join(" ")), REINSTALL);
    }
    if !job.run_at_load || !job.keep_alive {
        return Finding::warn(
            format!("{shown}: RunAtLoad or KeepAlive is off, so launchd does not keep the daemon running"),
            REINSTALL,
        );
    }
    Finding::pass(format!("{shown}: starts `{}` at boot, kept alive", expected.join(" ")))
}

/// The keys of the job file the check reads.
struct Job {
    label: Option<String>,
    arguments: Vec<String>,
    run_at_load: bool,
    keep_alive: bool,
}

/// Why the job file cannot be used.
enum JobProblem {
    Missing,
    Unreadable(String),
}

fn read_job(path: &Path) -> Result<Job, JobProblem> {
    if !path.exists() {
        return Err(JobProblem::Missing);
    }
    let kind = crate::structured_input::InputKind::AgentState;
    let value = crate::structured_input::read_plist_file(path, kind)
        .map_err(|error| JobProblem::Unreadable(error.problem.to_string()))?;
    let dictionary =
        value.as_dictionary().ok_or_else(|| JobProblem::Unreadable("it is not a dictionary".to_string()))?;
    let flag = |key: &str| match dictionary.get(key) {
        Some(plist::Value::Boolean(value)) => *value,
        // KeepAlive may be a dictionary of conditions: launchd still restarts the job.
        Some(plist::Value::Dictionary(_)) => key == "KeepAlive",
        _ => false,
    };
    let arguments = dictionary
        .get("ProgramArguments")
        .and_then(plist::Value::as_array)
        .map(|arguments| arguments.iter().filter_map(|argument| argument.as_string().map(str::to_string)).collect())
        .unwrap_or_default();
    Ok(Job {
        label: dictionary.get("Label").and_then(plist::Value::as_string).map(str::to_string),
        arguments,
        run_at_load: flag("RunAtLoad"),
        keep_alive: flag("KeepAlive"),
    })
}

/// launchd has the job loaded (`launchctl print system/<label>` exits 0) and the
/// daemon is running. Where there is no launchctl (Linux), the check does not apply.
pub(crate) async fn launchd_loaded(launchctl: &Path, runner: &ToolRunner, platform: Platform) -> Finding {
    let target = format!("system/{DOMAIN}");
    match runner.output(launchctl, &["print", &target]).await {
        Ok(output) => {
            let service = parse_launchctl_print(&output);
            if service.is_running() {
                let pid = service.pid.map_or_else(String::new, |pid| format!(", pid {pid}"));
                return Finding::pass(format!("{target} is loaded and running{pid}"));
            }
            let state = service.state.as_deref().unwrap_or("unknown");
            let exit = service.last_exit_code.as_deref().unwrap_or("unknown");
            Finding::warn(format!("{target} is loaded but not running (state {state}, last exit code {exit})"), RESTART)
        }
        Err(ToolError::Missing { program }) if platform == Platform::Other => {
            Finding::skipped(format!("{} not found: launchd exists on macOS only", program.display()))
        }
        Err(ToolError::Exited { code, output, .. }) => {
            let said = output.split_whitespace().collect::<Vec<_>>().join(" ");
            Finding::fail(format!("{target} is not loaded (launchctl exited {code}: {said})"), LOAD)
        }
        Err(error) => Finding::fail(format!("cannot ask launchd: {error}"), LOAD),
    }
}
