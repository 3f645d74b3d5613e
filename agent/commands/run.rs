//! `agent run`: one check-in now, with progress, and its outcome as the exit code.

use tokio_util::sync::CancellationToken;

use super::Settings;
use crate::checkin::{CheckinRequest, run_checkin};
use crate::cli::RunArgs;
use crate::exit_code;
use crate::progress::{self, QuietProgress};
use crate::state::{RunOutcome, Trigger};

/// Runs one check-in in this process under the check-in lock.
pub fn run(settings: &Settings, arguments: &RunArgs) -> anyhow::Result<u8> {
    let request = CheckinRequest {
        reset_daily: arguments.reset_daily,
        blueprint: arguments.blueprint.clone(),
        trigger: Trigger::Cli,
        wait: !arguments.no_wait,
    };
    let mut progress = if arguments.json { Box::new(QuietProgress) } else { progress::for_stdout() };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let cancel = CancellationToken::new();
    let record = runtime.block_on(async {
        tokio::spawn(cancel_on_signal(cancel.clone()));
        run_checkin(&settings.paths, &settings.loaded.config, &request, progress.as_mut(), &cancel).await
    })?;
    if arguments.json {
        println!("{}", serde_json::to_string_pretty(&record)?);
    }
    Ok(match record.outcome {
        Some(RunOutcome::Succeeded) => exit_code::SUCCESS,
        _ => exit_code::FAILURE,
    })
}

/// Cancels the check-in on SIGINT (Ctrl-C) or SIGTERM: the running item's
/// processes are stopped, the rest are not run, and the run is recorded as
/// interrupted.
async fn cancel_on_signal(cancel: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        tracing::warn!("Cannot watch for signals; Ctrl-C will not stop the check-in cleanly.");
        return;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    tracing::warn!("Interrupted: stopping the running item.");
    cancel.cancel();
}
