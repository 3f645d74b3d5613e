//! `agent history`: past check-ins, newest first, or one of them in full.

use super::Settings;
use super::status::render_run;
use crate::cli::HistoryArgs;
use crate::exit_code;
use crate::render;
use crate::state::{Store, StoreError};
use crate::terminal;

/// A damaged store holds no history this agent can read: said on stderr, with no
/// runs on stdout, and not an error (the next check-in rebuilds the store).
fn damaged(error: &StoreError, json: bool) -> anyhow::Result<u8> {
    terminal::print_error(&format!(
        "warning: {error}; its history cannot be read, and the next check-in moves it aside and starts a fresh one"
    ));
    if json {
        terminal::print_line("[]")?;
    }
    Ok(exit_code::SUCCESS)
}

/// Lists runs, or shows the one `--run` names.
pub fn history(settings: &Settings, arguments: &HistoryArgs) -> anyhow::Result<u8> {
    let opened = Store::open_existing(&settings.paths.store_file);
    if let Err(error) = &opened {
        if error.is_damage() {
            return damaged(error, arguments.json);
        }
    }
    let Some(store) = opened? else {
        if arguments.json {
            terminal::print_line("[]")?;
        } else {
            terminal::print_line("No check-in has run on this device yet.")?;
        }
        return Ok(exit_code::SUCCESS);
    };
    if let Some(run_id) = &arguments.run {
        let run = store.run(run_id)?.ok_or_else(|| anyhow::anyhow!("no run with id {run_id:?} in the history"))?;
        if arguments.json {
            terminal::print_json(&run)?;
        } else {
            terminal::print(render_run(&run).trim_start())?;
        }
        return Ok(exit_code::SUCCESS);
    }
    let runs = store.history(arguments.limit)?;
    if arguments.json {
        terminal::print_json(&runs)?;
        return Ok(exit_code::SUCCESS);
    }
    for run in runs {
        let counts = &run.counts;
        terminal::print_line(&format!(
            "{}  {}  {:<9} {:<6} {:<11} {} succeeded, {} failed, {} timed out, {} skipped, {} not run",
            run.header.id,
            render::time(run.header.started_at),
            run.header.kind.as_str(),
            run.header.trigger.as_str(),
            run.header.outcome.map_or("running", |outcome| outcome.as_str()),
            counts.succeeded,
            counts.failed,
            counts.timed_out,
            counts.skipped,
            counts.not_run
        ))?;
        if let Some(message) = &run.message {
            terminal::print_line(&format!("  {message}"))?;
        }
    }
    Ok(exit_code::SUCCESS)
}
