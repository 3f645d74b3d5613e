//! `agent daemon`: what launchd starts. It stays in the foreground (launchd
//! supervises it; it never forks itself away), logs into the log files, and runs
//! until SIGTERM or SIGINT, or until a check-in installed a newer agent (it then
//! exits 0 and launchd starts the new binary).

use super::Settings;
use crate::daemon::{self, DaemonSetup};
use crate::exit_code;

/// Runs the daemon; `flags` are the `--set` overrides, kept for every reload.
pub fn daemon(settings: &Settings, flags: &[String]) -> anyhow::Result<u8> {
    let flags = flags.to_vec();
    let setup = DaemonSetup {
        paths: settings.paths.clone(),
        loaded: settings.loaded.clone(),
        reload: Box::new(move || Ok(Settings::load(&flags)?.loaded)),
    };
    crate::process::adopt_orphans();
    // Worker threads serve the control socket and signals while the check-ins
    // run on this thread, so neither waits for a busy item.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(daemon::serve(setup))?;
    Ok(exit_code::SUCCESS)
}
