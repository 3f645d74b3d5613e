//! Showing a check-in as it happens: a live line on a terminal, plain lines
//! otherwise (launchd, pipes, CI logs).
//!
//! A check-in reports through [`Progress`]; [`EventProgress`] turns those calls into
//! [`ProgressEvent`]s, plain data that a [`ProgressView`] shows. The split lets the
//! daemon stream the same events over its control socket to `agent run`, which
//! shows them exactly as an in-process check-in would.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::blueprint::LibraryItem;
use crate::checkin::Progress;
use crate::plan::Plan;
use crate::render;
use crate::run_lock::Holder;
use crate::state::{ItemRecord, RunRecord};
use crate::terminal;

/// How many bytes of finished items' lines wait before they are written anyway,
/// as a `BufWriter`'s buffer would.
const PENDING_BYTES: usize = 8 * 1024;

/// One step of a check-in, as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// Another check-in runs; this one waits for it.
    Waiting {
        /// Who runs it, when known.
        holder: Option<Holder>,
    },
    /// The run started.
    RunStarted {
        /// The run as recorded at its start.
        run: RunRecord,
        /// How many library items the plan holds.
        items: usize,
    },
    /// A library item started.
    ItemStarted {
        /// Its place in the plan, from 0.
        position: usize,
        /// How many items the plan holds.
        total: usize,
        /// Its type, e.g. `custom_script`.
        item_type: String,
        /// Its name, as a label.
        name: String,
    },
    /// A blueprint parameter was enforced.
    ParameterFinished {
        /// Its result.
        record: ItemRecord,
    },
    /// The running item entered a phase (`audit`, `remediation`, ...).
    ItemPhase {
        /// The phase.
        phase: String,
    },
    /// A library item ended (or was skipped, or never reached).
    ItemFinished {
        /// Its place in the plan, from 0.
        position: usize,
        /// How many items the plan holds.
        total: usize,
        /// Its result.
        record: ItemRecord,
    },
    /// The run ended.
    RunFinished {
        /// The whole run record.
        run: RunRecord,
    },
}

/// Shows progress events to a person.
pub trait ProgressView {
    /// Shows one event.
    fn show(&mut self, event: &ProgressEvent);
}

/// A [`Progress`] that hands each step, as a [`ProgressEvent`], to its function:
/// a view in this process, or the daemon's control socket.
pub struct EventProgress<F>(pub F);

impl<F: FnMut(ProgressEvent)> Progress for EventProgress<F> {
    fn waiting(&mut self, holder: Option<&Holder>) {
        (self.0)(ProgressEvent::Waiting { holder: holder.cloned() });
    }
    fn run_started(&mut self, run: &RunRecord, plan: &Plan) {
        (self.0)(ProgressEvent::RunStarted { run: run.clone(), items: plan.items.len() });
    }
    fn item_started(&mut self, position: usize, total: usize, item: &LibraryItem) {
        let (item_type, name) = (item.item_type.to_string(), item.name.clone());
        (self.0)(ProgressEvent::ItemStarted { position, total, item_type, name });
    }
    fn parameter_finished(&mut self, record: &ItemRecord) {
        (self.0)(ProgressEvent::ParameterFinished { record: record.clone() });
    }
    fn item_phase(&mut self, phase: &str) {
        (self.0)(ProgressEvent::ItemPhase { phase: phase.to_string() });
    }
    fn item_finished(&mut self, position: usize, total: usize, record: &ItemRecord) {
        (self.0)(ProgressEvent::ItemFinished { position, total, record: record.clone() });
    }
    fn run_finished(&mut self, run: &RunRecord) {
        (self.0)(ProgressEvent::RunFinished { run: run.clone() });
    }
}

/// Picks the live view on a terminal and plain lines elsewhere.
pub fn for_stdout() -> Box<dyn ProgressView> {
    if std::io::stdout().is_terminal() {
        Box::new(LiveProgress { bar: None, label: String::new(), lines: PlainProgress::new() })
    } else {
        Box::new(PlainProgress::new())
    }
}

/// Says nothing as the run goes (for `--json`), but still tells about waiting.
pub struct QuietProgress;

impl ProgressView for QuietProgress {
    fn show(&mut self, event: &ProgressEvent) {
        if let ProgressEvent::Waiting { holder } = event {
            terminal::print_error(&waiting_line(holder.as_ref()));
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

impl ProgressView for PlainProgress {
    fn show(&mut self, event: &ProgressEvent) {
        let finished = matches!(event, ProgressEvent::ItemFinished { .. } | ProgressEvent::ParameterFinished { .. });
        self.print(event, !finished);
    }
}

/// The line an event prints as, if it prints one.
fn plain_line(event: &ProgressEvent) -> Option<String> {
    match event {
        ProgressEvent::Waiting { holder } => Some(waiting_line(holder.as_ref())),
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

impl ProgressView for LiveProgress {
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

fn started_line(run: &RunRecord, items: usize) -> String {
    format!(
        "Check-in {} ({}, blueprint {}): {items} library items",
        run.id,
        run.kind,
        render::printable(run.blueprint_id.as_deref().unwrap_or("none")),
    )
}

fn finished_line(run: &RunRecord) -> String {
    let duration =
        run.finished_at.map(|end| (end - run.started_at).num_milliseconds().max(0) as u64).unwrap_or_default();
    let outcome = run.outcome.map_or("running", |outcome| outcome.as_str());
    match &run.message {
        Some(message) => format!("Check-in {outcome} in {}: {message}", render::duration_ms(duration)),
        None => format!("Check-in {outcome} in {}", render::duration_ms(duration)),
    }
}
