//! One kind of drift moved since the last recorded run: a log line, and a log
//! record a console can alert on without diffing gauges.

use opentelemetry::logs::{AnyValue, Severity};

use crate::state::DriftKind;
use crate::telemetry::pipeline::{self, LogEvent};

/// The event name of the log record.
pub(crate) const CHANGED: &str = "agent.drift.changed";

/// A drift kind whose value changed.
pub(crate) struct DriftChanged<'a> {
    /// The run that measured it; `None` for a check-in that found no blueprint.
    pub(crate) run_id: Option<&'a str>,
    /// Which drift.
    pub(crate) kind: DriftKind,
    /// Its value in the last recorded run (0 on a device's first).
    pub(crate) was: u64,
    /// Its value now.
    pub(crate) now: u64,
}

impl DriftChanged<'_> {
    /// Logs the change and exports it as a log record.
    pub(crate) fn emit(self) {
        let (kind, was, now) = (self.kind.as_str(), self.was, self.now);
        // A drift that appears is worth a warning; one that clears is news.
        let appeared = was == 0 && now > 0;
        if appeared {
            tracing::warn!(drift_kind = kind, was, now, "Drift changed.");
        } else {
            tracing::info!(drift_kind = kind, was, now, "Drift changed.");
        }
        let mut attributes = vec![
            ("drift.kind", AnyValue::from(kind)),
            ("drift.previous", AnyValue::from(was as i64)),
            ("drift.value", AnyValue::from(now as i64)),
        ];
        if let Some(run_id) = self.run_id {
            attributes.push(("run.id", AnyValue::from(run_id.to_string())));
        }
        pipeline::emit_log(LogEvent {
            name: CHANGED,
            severity: if appeared { Severity::Warn } else { Severity::Info },
            body: format!("Drift {kind} changed from {was} to {now}."),
            attributes,
        });
    }
}
