//! Showing a check-in as it happens: a live line on a terminal, plain lines
//! otherwise (launchd, pipes, CI logs).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Prints a line of progress; a reader that went away (`agent run | head`) must
/// never stop the check-in, so write errors are ignored.
macro_rules! say {
    ($($argument:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($argument)*);
    }};
}

use crate::blueprint::LibraryItem;
use crate::checkin::Progress;
use crate::plan::Plan;
use crate::render;
use crate::run_lock::Holder;
use crate::state::{ItemRecord, RunRecord};

/// Picks the live view on a terminal and plain lines elsewhere.
pub fn for_stdout() -> Box<dyn Progress> {
    if std::io::stdout().is_terminal() {
        Box::new(LiveProgress { bar: None, label: String::new() })
    } else {
        Box::new(PlainProgress)
    }
}

/// Says nothing as the run goes (for `--json`), but still tells about waiting.
pub struct QuietProgress;

impl Progress for QuietProgress {
    fn waiting(&mut self, holder: Option<&Holder>) {
        eprintln!("{}", waiting_line(holder));
    }
    fn run_started(&mut self, _: &RunRecord, _: &Plan) {}
    fn item_started(&mut self, _: usize, _: usize, _: &LibraryItem) {}
    fn parameter_finished(&mut self, _: &ItemRecord) {}
    fn item_phase(&mut self, _: &str) {}
    fn item_finished(&mut self, _: usize, _: usize, _: &ItemRecord) {}
    fn run_finished(&mut self, _: &RunRecord) {}
}

/// One line per event.
struct PlainProgress;

impl Progress for PlainProgress {
    fn waiting(&mut self, holder: Option<&Holder>) {
        say!("{}", waiting_line(holder));
    }

    fn run_started(&mut self, run: &RunRecord, plan: &Plan) {
        say!("{}", started_line(run, plan));
    }

    fn item_started(&mut self, position: usize, total: usize, item: &LibraryItem) {
        say!("[{}/{total}] {} {}: started", position + 1, item.item_type, render::printable(&item.name));
    }

    fn parameter_finished(&mut self, record: &ItemRecord) {
        say!("{}", render::item_line(record));
    }

    fn item_phase(&mut self, _: &str) {}

    fn item_finished(&mut self, position: usize, total: usize, record: &ItemRecord) {
        say!("[{}/{total}] {}", position + 1, render::item_line(record));
    }

    fn run_finished(&mut self, run: &RunRecord) {
        say!("{}", finished_line(run));
    }
}

/// A spinner with the running item, its phase and elapsed time; a line per result.
struct LiveProgress {
    bar: Option<ProgressBar>,
    label: String,
}

impl Progress for LiveProgress {
    fn waiting(&mut self, holder: Option<&Holder>) {
        say!("{}", waiting_line(holder));
    }

    fn run_started(&mut self, run: &RunRecord, plan: &Plan) {
        say!("{}", started_line(run, plan));
    }

    fn item_started(&mut self, position: usize, total: usize, item: &LibraryItem) {
        let style = ProgressStyle::with_template("{spinner} {prefix} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bar = ProgressBar::new_spinner().with_style(style);
        bar.set_prefix(format!("[{}/{total}]", position + 1));
        self.label = format!("{} {}", item.item_type, render::printable(&item.name));
        bar.set_message(self.label.clone());
        bar.enable_steady_tick(Duration::from_millis(120));
        self.bar = Some(bar);
    }

    fn parameter_finished(&mut self, record: &ItemRecord) {
        say!("{}", render::item_line(record));
    }

    fn item_phase(&mut self, phase: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} ({phase})", self.label));
        }
    }

    fn item_finished(&mut self, position: usize, total: usize, record: &ItemRecord) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        say!("[{}/{total}] {}", position + 1, render::item_line(record));
    }

    fn run_finished(&mut self, run: &RunRecord) {
        say!("{}", finished_line(run));
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

fn started_line(run: &RunRecord, plan: &Plan) -> String {
    format!(
        "Check-in {} ({}, blueprint {}): {} library items",
        run.id,
        run.kind,
        render::printable(run.blueprint_id.as_deref().unwrap_or("none")),
        plan.items.len()
    )
}

fn finished_line(run: &RunRecord) -> String {
    let duration =
        run.finished_at.map(|end| (end - run.started_at).num_milliseconds().max(0) as u64).unwrap_or_default();
    let outcome = run.outcome.map_or("running", |outcome| outcome.as_str());
    format!("Check-in {outcome} in {}", render::duration_ms(duration))
}
