//! `agent run`: one check-in now, with progress, and its outcome as the exit code.
//!
//! When the daemon answers on its control socket the check-in runs there, queued
//! behind any check-in it is running, and its progress is streamed back here;
//! otherwise it runs in this process under the same check-in lock. The Self
//! Service verbs (`commands::self_service`) run their requests the same way
//! ([`checkin_now`]).

use tokio_util::sync::CancellationToken;

use super::Settings;
use crate::checkin::{CheckinError, CheckinRequest, run_checkin};
use crate::cli::RunArgs;
use crate::config::Origin;
use crate::daemon::client::{self, Answer, SERVICE_NOT_RUNNING};
use crate::daemon::protocol::{Request, RunRequest};
use crate::exit_code;
use crate::progress::ProgressView;
use crate::run_lock::LockError;
use crate::state::{RunOutcome, RunRecord, Trigger};
use crate::terminal;

/// Runs one check-in, through the daemon when one runs, else in this process.
pub fn run(settings: &Settings, arguments: &RunArgs) -> anyhow::Result<u8> {
    let request = CheckinRequest {
        reset_daily: arguments.reset_daily,
        blueprint: arguments.blueprint.clone(),
        trigger: Trigger::Cli,
        wait: !arguments.no_wait,
        item: None,
        force: false,
        requested_by: None,
    };
    // The daemon resolves paths from its own folder, not ours.
    let blueprint = arguments.blueprint.as_deref().map(std::path::absolute).transpose()?;
    let ask = Request::Run(RunRequest { reset_daily: arguments.reset_daily, blueprint, wait: !arguments.no_wait });
    checkin_now(settings, &request, ask, arguments.json)
}

/// Runs `request` now and waits for it, printing progress (or, with `json`, the
/// run record at the end): through the daemon as `ask` when one runs, else in
/// this process. The exit code follows the run's outcome.
///
/// A Self Service request is not run in this process for a user who is not
/// root: without the daemon it says the agent's service is not running.
pub(crate) fn checkin_now(
    settings: &Settings,
    request: &CheckinRequest,
    ask: Request,
    json: bool,
) -> anyhow::Result<u8> {
    let mut view = if json { ProgressView::quiet() } else { ProgressView::for_stdout() };
    crate::process::adopt_orphans();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let ended = runtime.block_on(async {
        match client::connect(&settings.paths.socket).await? {
            Some(stream) => through_daemon(stream, settings, ask, &mut view).await,
            None if request.trigger == Trigger::SelfService && !nix::unistd::geteuid().is_root() => {
                Ok(Ended::Failed { message: SERVICE_NOT_RUNNING.to_string(), exit_code: exit_code::FAILURE })
            }
            None => in_process(settings, request, &mut view).await.map(Ended::Ran),
        }
    })?;
    let record = match ended {
        Ended::Ran(record) => record,
        Ended::Failed { message, exit_code } => {
            terminal::print_error(&format!("error: {message}"));
            return Ok(exit_code);
        }
    };
    if json {
        terminal::print_json(&record)?;
    }
    Ok(match record.header.outcome {
        Some(RunOutcome::Succeeded) => exit_code::SUCCESS,
        _ => exit_code::FAILURE,
    })
}

/// How a check-in ended for this command.
enum Ended {
    /// It ran; its record.
    Ran(RunRecord),
    /// The daemon could not run it, and said why.
    Failed { message: String, exit_code: u8 },
}

/// Runs the check-in in this process under the check-in lock.
async fn in_process(
    settings: &Settings,
    request: &CheckinRequest,
    view: &mut ProgressView,
) -> anyhow::Result<RunRecord> {
    // Ctrl-C or SIGTERM stops the running item's processes; the rest are not run
    // and the run is recorded as interrupted.
    let cancel = CancellationToken::new();
    let stopper = cancel.clone();
    let stop = super::interrupt::stop_requested();
    tokio::spawn(async move {
        stop.await;
        tracing::warn!("Interrupted: stopping the running item.");
        stopper.cancel();
    });
    let mut show = |event| view.show(&event);
    let checked_in = run_checkin(&settings.paths, &settings.loaded.config, request, &mut show, &cancel).await?;
    if let Some(version) = &checked_in.agent_updated_to {
        // No daemon ran this check-in, so none needs restarting: the next start runs the new binary.
        tracing::info!(agent_version = %version, "Agent updated; this command ran the old binary, the next one runs the new.");
    }
    Ok(checked_in.run)
}

/// Asks the daemon to run the check-in and shows its progress; Ctrl-C or SIGTERM
/// asks the daemon to stop it.
async fn through_daemon(
    stream: tokio::net::UnixStream,
    settings: &Settings,
    request: Request,
    view: &mut ProgressView,
) -> anyhow::Result<Ended> {
    warn_about_ignored_overrides(settings);
    let stop = super::interrupt::stop_requested();
    let interrupted = async {
        stop.await;
        tracing::warn!("Interrupted: asking the daemon to stop the running item.");
    };
    match client::run(stream, request, view, interrupted).await? {
        Answer::Finished(record) => Ok(Ended::Ran(record)),
        Answer::Busy(holder) => Err(CheckinError::Lock(LockError::Busy { holder }).into()),
        Answer::Failed { message, exit_code } => Ok(Ended::Failed { message, exit_code }),
    }
}

/// The daemon runs the check-in with its own configuration; `--set` and `AGENT_*`
/// overrides given to this command do not reach it, so say so rather than let an
/// admin think they applied.
fn warn_about_ignored_overrides(settings: &Settings) {
    let overridden: Vec<String> = settings
        .loaded
        .origins
        .iter()
        .filter(|(_, origin)| matches!(origin, Origin::Flag | Origin::Environment(_)))
        .map(|(key, _)| key.clone())
        .collect();
    if !overridden.is_empty() {
        terminal::print_error(&format!(
            "note: the agent daemon runs this check-in with its own configuration; {} set here do not apply",
            overridden.join(", ")
        ));
    }
}
