//! The drift a check-in found, as the `agent.drift` gauge: one series per
//! `drift.kind`, 1 while it holds and 0 when not, unit `1` (as the semantic
//! conventions' `hw.status` reports a state: 1 true, 0 false, for every state).
//! The run's count of re-applied items is the `agent.checkin.reapplied` counter
//! (see `checkin_finished`), not a kind of this gauge.

use opentelemetry::KeyValue;

use crate::state::{Drift, DriftKind};
use crate::telemetry::pipeline;

/// The drift gauge.
pub(crate) const DRIFT: &str = "agent.drift";
/// Its unit: a dimensionless 0/1 flag, UCUM's unity.
pub(crate) const DRIFT_UNIT: &str = "1";

/// A check-in's drift, every kind at once.
pub(crate) struct DriftMeasured<'a> {
    /// The drift, as `agent status --json` shows it.
    pub(crate) drift: &'a Drift,
}

impl DriftMeasured<'_> {
    /// Logs the drift (with the counts of items that wait on the person, which
    /// `agent.checkin.deferred` and `agent.checkin.waiting_for_user` export) and
    /// sets the gauge for every kind.
    pub(crate) fn emit(self) {
        let drift = self.drift;
        tracing::info!(
            outdated_client = drift.outdated_client,
            missing_policy = drift.missing_policy,
            stale_token = drift.stale_token,
            store_rebuilt = drift.store_rebuilt,
            reapplied = drift.reapplied,
            deferred = drift.deferred,
            waiting_for_user = drift.waiting_for_user,
            "Drift measured."
        );
        pipeline::record_metrics(|meter| {
            let gauge = meter
                .u64_gauge(DRIFT)
                .with_unit(DRIFT_UNIT)
                .with_description("Drift from what the tenant expects, by drift.kind: 1 while it holds, 0 when not.")
                .build();
            for kind in DriftKind::ALL {
                gauge.record(kind.value(drift), &[KeyValue::new("drift.kind", kind.as_str())]);
            }
        });
    }
}
