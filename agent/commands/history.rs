//! `agent history`: past check-ins, newest first, or one of them in full.

use super::Settings;
use super::status::render_run;
use crate::cli::HistoryArgs;
use crate::exit_code;
use crate::render;
use crate::state::{RunSummary, Store, StoreError};
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
    for line in listed(&runs) {
        terminal::print_line(&line)?;
    }
    Ok(exit_code::SUCCESS)
}

/// One line per run (and one more for a run's message), the kind and trigger
/// columns as wide as the longest shown.
fn listed(runs: &[RunSummary]) -> Vec<String> {
    let kind_width = runs.iter().map(|run| run.header.kind.as_str().len()).max().unwrap_or_default();
    let trigger_width = runs.iter().map(|run| run.header.trigger.as_str().len()).max().unwrap_or_default();
    let mut lines = Vec::with_capacity(runs.len());
    for run in runs {
        let counts = &run.counts;
        let mut line = format!(
            "{}  {}  {:<kind_width$}  {:<trigger_width$}  {:<11} {} succeeded, {} failed, {} timed out, {} skipped, {} not run",
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
        );
        line.push_str(&render::waiting_counts(counts.deferred, counts.waiting_for_user));
        lines.push(line);
        if let Some(message) = &run.message {
            lines.push(format!("  {message}"));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::plan::CheckinKind;
    use crate::state::{RunHeader, RunOutcome, StatusCounts, Trigger};

    fn summary(id: &str, kind: CheckinKind, trigger: Trigger) -> RunSummary {
        let mut header = RunHeader::begun(id.to_string(), kind, trigger, DateTime::UNIX_EPOCH);
        header.outcome = Some(RunOutcome::Succeeded);
        RunSummary { header, message: None, counts: StatusCounts { succeeded: 1, ..StatusCounts::default() } }
    }

    #[test]
    fn the_kind_and_trigger_columns_fit_the_longest_shown() {
        let runs = [
            summary("r3", CheckinKind::SelfService, Trigger::SelfService),
            summary("r2", CheckinKind::Daily, Trigger::Schedule),
            summary("r1", CheckinKind::Recurring, Trigger::Cli),
        ];
        let counts = "1 succeeded, 0 failed, 0 timed out, 0 skipped, 0 not run";
        let at = "1970-01-01T00:00:00Z";
        assert_eq!(
            listed(&runs),
            [
                format!("r3  {at}  self_service  self_service  succeeded   {counts}"),
                format!("r2  {at}  daily         schedule      succeeded   {counts}"),
                format!("r1  {at}  recurring     cli           succeeded   {counts}"),
            ]
        );
    }

    #[test]
    fn deferred_and_waiting_items_are_counted_only_when_there_are_some() {
        let mut run = summary("r1", CheckinKind::Recurring, Trigger::Schedule);
        run.counts.deferred = 2;
        run.counts.waiting_for_user = 1;
        let line = &listed(&[run])[0];
        assert!(
            line.ends_with(
                "1 succeeded, 0 failed, 0 timed out, 0 skipped, 0 not run, 2 deferred, 1 waiting for the user"
            ),
            "{line}"
        );
    }
}
