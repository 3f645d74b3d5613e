//! Showing a check-in as it happens: a live line on a terminal, plain lines
//! otherwise (launchd, pipes, CI logs), only the wait with `--json`.
//!
//! A check-in tells its steps as [`ProgressEvent`]s; a [`ProgressView`] shows
//! them, whether the check-in runs in this process or in the daemon, which
//! streams the same events over its control socket to `agent run`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::checkin::ProgressEvent;
use crate::render;
use crate::run_lock::Holder;
use crate::state::{ItemStatus, RunRecord};
use crate::terminal;

/// How many bytes of finished items' lines wait before they are written anyway,
/// as a `BufWriter`'s buffer would.
const PENDING_BYTES: usize = 8 * 1024;

/// Shows a check-in's progress events to a person on stdout (stderr for the wait
/// with `--json`).
pub struct ProgressView(Shown);

/// How a [`ProgressView`] shows events.
enum Shown {
    /// A spinner with the running item on a terminal; a line per result.
    Live(LiveProgress),
    /// One line per event.
    Plain(PlainProgress),
    /// Nothing as the run goes, but still the wait, on stderr.
    Quiet,
}

impl ProgressView {
    /// The live view on a terminal, plain lines elsewhere.
    pub fn for_stdout() -> Self {
        if std::io::stdout().is_terminal() {
            ProgressView(Shown::Live(LiveProgress { bar: None, label: String::new(), lines: PlainProgress::new() }))
        } else {
            ProgressView(Shown::Plain(PlainProgress::new()))
        }
    }

    /// Says nothing as the run goes (for `--json`), but still tells about waiting.
    pub fn quiet() -> Self {
        ProgressView(Shown::Quiet)
    }

    /// Shows one event.
    pub fn show(&mut self, event: &ProgressEvent) {
        match &mut self.0 {
            Shown::Live(live) => live.show(event),
            Shown::Plain(plain) => plain.show(event),
            Shown::Quiet => match event {
                ProgressEvent::Waiting { holder } => terminal::print_error(&waiting_line(holder.as_ref())),
                ProgressEvent::Joined { requested_by, asked_at } => {
                    terminal::print_error(&joined_line(requested_by.as_deref(), *asked_at));
                }
                _ => {}
            },
        }
    }
}

/// One line per event. The line of a finished item waits in a buffer for the next
/// event, which follows at once (the next item starts, or is skipped, or the run
/// ends): a run of 10,000 skipped items is printed in a few writes, not 10,000,
/// and no line waits while anything runs. Every other event is written at once,
/// and what is left is flushed when the view is dropped (as `BufWriter` does).
/// Lines go out through [`terminal::print`], escaped.
struct PlainProgress {
    /// Lines not written yet.
    pending: String,
}

impl PlainProgress {
    fn new() -> Self {
        PlainProgress { pending: String::new() }
    }

    /// Prints the event's line; a finished item's line waits for the next event.
    fn show(&mut self, event: &ProgressEvent) {
        let finished = matches!(event, ProgressEvent::ItemFinished { .. } | ProgressEvent::ParameterFinished { .. });
        self.print(event, !finished);
    }

    /// Prints the event's line, if it has one; flushes when asked to.
    fn print(&mut self, event: &ProgressEvent, flush: bool) {
        if let Some(line) = plain_line(event) {
            self.pending.push_str(&line);
            self.pending.push('\n');
        }
        if flush || self.pending.len() >= PENDING_BYTES {
            self.flush();
        }
    }

    /// Writes the pending lines. A closed stdout (`agent run | head`) must not stop
    /// the check-in: its lines are dropped.
    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let _ = terminal::print(&std::mem::take(&mut self.pending));
        }
    }
}

impl Drop for PlainProgress {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The line an event prints as, if it prints one.
fn plain_line(event: &ProgressEvent) -> Option<String> {
    match event {
        ProgressEvent::Waiting { holder } => Some(waiting_line(holder.as_ref())),
        ProgressEvent::Joined { requested_by, asked_at } => Some(joined_line(requested_by.as_deref(), *asked_at)),
        ProgressEvent::RunStarted { run, items } => Some(started_line(run, *items)),
        ProgressEvent::ItemStarted { position, total, item_type, name } => {
            Some(format!("[{}/{total}] {item_type} {}: started", position + 1, render::printable(name)))
        }
        ProgressEvent::ParameterFinished { record } => Some(render::item_line(record)),
        ProgressEvent::ItemPhase { .. } => None,
        ProgressEvent::ItemFinished { position, total, record } => {
            Some(format!("[{}/{total}] {}", position + 1, render::item_line(record)))
        }
        ProgressEvent::RunFinished { run } => Some(finished_line(run)),
    }
}

/// A spinner with the running item, its phase and elapsed time; a line per result.
struct LiveProgress {
    bar: Option<ProgressBar>,
    label: String,
    /// The lines between the spinners, each written at once.
    lines: PlainProgress,
}

impl LiveProgress {
    /// Starts, names or clears the spinner, and prints the lines between.
    fn show(&mut self, event: &ProgressEvent) {
        match event {
            ProgressEvent::ItemStarted { position, total, item_type, name } => {
                let style = ProgressStyle::with_template("{spinner} {prefix} {msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
                let bar = ProgressBar::new_spinner().with_style(style);
                bar.set_prefix(format!("[{}/{total}]", position + 1));
                self.label = format!("{item_type} {}", render::printable(name));
                bar.set_message(self.label.clone());
                bar.enable_steady_tick(Duration::from_millis(120));
                self.bar = Some(bar);
            }
            ProgressEvent::ItemPhase { phase } => {
                if let Some(bar) = &self.bar {
                    bar.set_message(format!("{} ({phase})", self.label));
                }
            }
            ProgressEvent::ItemFinished { .. } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                self.lines.print(event, true);
            }
            _ => self.lines.print(event, true),
        }
    }
}

fn waiting_line(holder: Option<&Holder>) -> String {
    match holder {
        Some(holder) => format!(
            "Waiting for the check-in started at {} (pid {}) to finish…",
            render::time(holder.started_at),
            holder.pid
        ),
        None => "Waiting for the running check-in to finish…".into(),
    }
}

/// What a sync that joined the one under way says first.
fn joined_line(requested_by: Option<&str>, asked_at: chrono::DateTime<chrono::Utc>) -> String {
    let by = requested_by.map(|user| format!("by {} ", render::printable(user))).unwrap_or_default();
    format!("A sync is already under way (asked for {by}at {}); following it.", render::time(asked_at))
}

fn started_line(run: &RunRecord, items: usize) -> String {
    format!(
        "Check-in {} ({}, blueprint {}): {items} library items",
        run.header.id,
        run.header.kind,
        render::printable(run.blueprint_id.as_deref().unwrap_or("none")),
    )
}

/// The run's end: its outcome and time, the items whose work waits on the
/// person when there are any (they do not fail the run), and its message.
fn finished_line(run: &RunRecord) -> String {
    let duration = render::duration_ms(run.header.duration_ms().unwrap_or_default());
    let outcome = run.header.outcome.map_or("running", |outcome| outcome.as_str());
    let count = |status: ItemStatus| run.items.iter().filter(|item| item.status == status).count() as u32;
    let waiting = render::waiting_counts(count(ItemStatus::Deferred), count(ItemStatus::WaitingForUser));
    let waiting = waiting.strip_prefix(", ").map(|counts| format!(" ({counts})")).unwrap_or_default();
    match &run.message {
        Some(message) => format!("Check-in {outcome} in {duration}{waiting}: {message}"),
        None => format!("Check-in {outcome} in {duration}{waiting}"),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::plan::CheckinKind;
    use crate::state::{ItemRecord, ItemStatus, PARAMETER_TYPE, RunOutcome, Trigger};

    /// `seconds` after a fixed start.
    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap() + chrono::Duration::seconds(seconds)
    }

    /// A result as the check-in records it; only what the line shows varies.
    fn result(item_type: &str, name: &str, status: ItemStatus, duration_ms: u64, message: &str) -> ItemRecord {
        ItemRecord {
            id: format!("li-{name}"),
            item_type: item_type.into(),
            duration_ms,
            message: message.into(),
            ..ItemRecord::ended(name, status, at(10))
        }
    }

    /// The run of blueprint `bp-eng`, ended `finished` (seconds, outcome) or not yet.
    fn run(finished: Option<(i64, RunOutcome)>, message: Option<&str>) -> RunRecord {
        let begun = RunRecord::begun("0193a4f2-run", CheckinKind::Recurring, Trigger::Cli, at(5));
        let run = match finished {
            Some((second, outcome)) => begun.finished(at(second), outcome),
            None => begun,
        };
        RunRecord { blueprint_id: Some("bp-eng".into()), message: message.map(str::to_string), ..run }
    }

    /// What the plain view writes for `events`, as it reaches stdout (escaped by
    /// `terminal::print`); its buffering changes when bytes go out, not which.
    fn plain_text(events: &[ProgressEvent]) -> String {
        let lines: String = events.iter().filter_map(plain_line).map(|line| line + "\n").collect();
        terminal::printable_lines(&lines)
    }

    /// An item of the run: type, name, the phases it went through (`None`: it never
    /// started), and its status, duration and message.
    type Planned<'a> = (&'a str, &'a str, Option<&'a [&'a str]>, ItemStatus, u64, &'a str);

    /// A check-in that waits for another, enforces a parameter, and whose items
    /// succeed, fail, are skipped, and run out of the run's time budget.
    fn a_whole_run() -> Vec<ProgressEvent> {
        let hostile = "Disk\nspace \u{1b}[2J";
        let remediated = "remediated: the audit passed after the remediation";
        let failed = "not compliant: the audit exited 1 and there is no remediation";
        let out_of_time = "the run's 10m budget ran out: timed out during the download";
        let items: [Planned; 5] = [
            ("custom_script", "Login banner", Some(&["audit", "remediation"]), ItemStatus::Succeeded, 130, remediated),
            ("custom_script", hostile, Some(&["audit"]), ItemStatus::Failed, 2400, failed),
            ("custom_script", "Diagnostics", None, ItemStatus::Skipped, 0, "no enforcement: never run by schedule"),
            ("auto_app", "Firefox", Some(&["download"]), ItemStatus::TimedOut, 600_000, out_of_time),
            ("custom_script", "Later", None, ItemStatus::NotRun, 0, "the run's 10m budget ran out before this item"),
        ];
        let parameter =
            result(PARAMETER_TYPE, "Managed files", ItemStatus::Succeeded, 12, "re-applied 1 of 3: /etc/motd");
        let mut events = vec![
            ProgressEvent::Waiting { holder: Some(Holder { pid: 4242, started_at: at(0) }) },
            ProgressEvent::RunStarted { run: run(None, None), items: items.len() },
            ProgressEvent::ParameterFinished { record: parameter },
        ];
        let total = items.len();
        for (position, (item_type, name, phases, status, duration_ms, message)) in items.into_iter().enumerate() {
            if let Some(phases) = phases {
                events.push(ProgressEvent::ItemStarted {
                    position,
                    total,
                    item_type: item_type.into(),
                    name: name.into(),
                });
                events.extend(phases.iter().map(|phase| ProgressEvent::ItemPhase { phase: phase.to_string() }));
            }
            let record = result(item_type, name, status, duration_ms, message);
            events.push(ProgressEvent::ItemFinished { position, total, record });
        }
        events.push(ProgressEvent::RunFinished { run: run(Some((607, RunOutcome::TimedOut)), None) });
        events
    }

    #[test]
    fn a_whole_run_reads_well_in_plain_lines() {
        insta::assert_snapshot!(plain_text(&a_whole_run()));
    }

    #[test]
    fn a_wait_for_an_unknown_holder_and_a_run_with_a_message_read_well() {
        let events = [
            ProgressEvent::Waiting { holder: None },
            ProgressEvent::RunStarted { run: RunRecord { blueprint_id: None, ..run(None, None) }, items: 0 },
            ProgressEvent::RunFinished {
                run: run(
                    Some((6, RunOutcome::Failed)),
                    Some(
                        "the state store could not record 3 results: database or disk is full; the record of this run is incomplete",
                    ),
                ),
            },
        ];
        insta::assert_snapshot!(plain_text(&events));
    }

    #[test]
    fn deferred_and_waiting_items_read_well_and_the_run_still_succeeds() {
        let deferred = result(
            "custom_app",
            "Zoom",
            ItemStatus::Deferred,
            850,
            "deferred: Zoom is running; the person was asked to quit it",
        );
        let waiting = result(
            "managed_os",
            "macOS updates",
            ItemStatus::WaitingForUser,
            1200,
            "waiting for the user: on Apple silicon the install needs the person (or the MDM's declarative software update)",
        );
        let mut finished = run(Some((9, RunOutcome::Succeeded)), None);
        finished.items = vec![deferred.clone(), waiting.clone()];
        let events = [
            ProgressEvent::ItemFinished { position: 0, total: 2, record: deferred },
            ProgressEvent::ItemFinished { position: 1, total: 2, record: waiting },
            ProgressEvent::RunFinished { run: finished },
        ];
        insta::assert_snapshot!(plain_text(&events));
    }

    #[test]
    fn a_joined_sync_says_whose_it_follows() {
        let events = [
            ProgressEvent::Joined { requested_by: Some("alice".into()), asked_at: at(0) },
            ProgressEvent::Joined { requested_by: None, asked_at: at(0) },
        ];
        let time = render::time(at(0));
        assert_eq!(
            plain_text(&events),
            format!(
                "A sync is already under way (asked for by alice at {time}); following it.\n\
                 A sync is already under way (asked for at {time}); following it.\n"
            )
        );
    }

    #[test]
    fn progress_events_cross_the_control_socket_unchanged() {
        for event in a_whole_run() {
            let line = serde_json::to_string(&event).unwrap();
            assert_eq!(serde_json::from_str::<ProgressEvent>(&line).unwrap(), event, "{line}");
        }
    }
}
