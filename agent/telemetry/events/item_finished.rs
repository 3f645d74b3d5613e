//! A library item (or blueprint parameter) ended: counted by type and status; a
//! failure also goes out as a log record naming the run and the item.

use opentelemetry::KeyValue;
use opentelemetry::logs::{AnyValue, Severity};

use crate::state::{ItemRecord, ItemStatus};
use crate::telemetry::pipeline::{self, LogEvent};

/// The counter of item outcomes.
pub(crate) const ITEMS: &str = "agent.checkin.items";
/// The event name of the log record for a failed or timed-out item.
pub(crate) const FAILED: &str = "agent.item.failed";
/// The attribute of the exit code of the last program the item ran, named as
/// the semantic conventions' process registry names it.
pub(crate) const EXIT_CODE: &str = "process.exit.code";

/// An item's result, as recorded.
pub(crate) struct ItemFinished<'a> {
    /// The run it belongs to.
    pub(crate) run_id: &'a str,
    /// Its record.
    pub(crate) record: &'a ItemRecord,
}

impl ItemFinished<'_> {
    /// Logs the item's end (a skipped item at debug, one that failed, timed out or
    /// was never reached as a warning, any other, deferred and waiting for the
    /// user included, at info: waiting on the person is expected), counts it, and
    /// exports a failure as a log record.
    pub(crate) fn emit(self) {
        let record = self.record;
        let failed = matches!(record.status, ItemStatus::Failed | ItemStatus::TimedOut);
        let (item_id, item_name, item_type, status) = (&record.id, &record.name, &record.item_type, record.status);
        let duration_ms = record.duration_ms;
        // A skipped item is not news: daily items are skipped by every recurring
        // check-in. It is logged at debug; the run's end line counts them.
        if failed || status == ItemStatus::NotRun {
            tracing::warn!(item_id = %item_id, item_name = %item_name, item_type = %item_type, status = %status,
                duration_ms, exit_code = record.exit_code, detail = %record.message, "Item finished.");
        } else if status == ItemStatus::Skipped {
            tracing::debug!(item_id = %item_id, item_name = %item_name, item_type = %item_type, status = %status,
                detail = %record.message, "Item finished.");
        } else {
            tracing::info!(item_id = %item_id, item_name = %item_name, item_type = %item_type, status = %status,
                duration_ms, exit_code = record.exit_code, detail = %record.message, "Item finished.");
        }
        pipeline::record_metrics(|meter| {
            let attributes =
                [KeyValue::new("item.type", item_type.clone()), KeyValue::new("item.status", status.as_str())];
            let items = meter.u64_counter(ITEMS).with_unit("{item}");
            items
                .with_description("Library items and parameters, by type and how they ended.")
                .build()
                .add(1, &attributes);
        });
        if failed {
            pipeline::emit_log(self.failure());
        }
    }

    fn failure(&self) -> LogEvent {
        let record = self.record;
        let mut attributes = vec![
            ("run.id", AnyValue::from(self.run_id.to_string())),
            ("item.id", AnyValue::from(record.id.clone())),
            ("item.name", AnyValue::from(record.name.clone())),
            ("item.type", AnyValue::from(record.item_type.clone())),
            ("item.status", AnyValue::from(record.status.as_str())),
            ("item.message", AnyValue::from(record.message.clone())),
        ];
        if let Some(code) = record.exit_code {
            attributes.push((EXIT_CODE, AnyValue::from(i64::from(code))));
        }
        LogEvent {
            name: FAILED,
            severity: Severity::Warn,
            body: format!("Item {} {}: {}", record.id, record.status, record.message),
            attributes,
        }
    }
}
