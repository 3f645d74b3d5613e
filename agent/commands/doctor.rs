//! `agent doctor`: run the checklist and print it; exit 1 when a check fails.

use tokio_util::sync::CancellationToken;

use super::Settings;
use crate::doctor::{self, Verdict};
use crate::exit_code;
use crate::inventory::Platform;
use crate::terminal;

/// Runs every check and prints the report as text or JSON. Exits
/// [`exit_code::SUCCESS`] when nothing failed (warnings and skipped checks
/// included) and [`exit_code::FAILURE`] when a check failed; a broken
/// configuration never gets here (exit 2).
pub fn doctor(settings: &Settings, json: bool) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let report = runtime.block_on(async {
        let cancel = CancellationToken::new();
        let stopper = cancel.clone();
        tokio::spawn(async move {
            super::interrupt::stop_requested().await;
            stopper.cancel();
        });
        doctor::diagnose(&settings.paths, &settings.loaded.config, Platform::current(), &cancel).await
    });
    if json {
        terminal::print_json(&report)?;
    } else {
        terminal::print(&doctor::render(&report))?;
    }
    Ok(if report.verdict == Verdict::Fail { exit_code::FAILURE } else { exit_code::SUCCESS })
}
