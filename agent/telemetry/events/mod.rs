//! Everything the agent emits, one named event per file (after Vector's
//! `internal_events`): each event's `emit()` writes its log line and records its
//! metric (and, where a console needs the detail, an OTLP log record) together,
//! so this folder is the whole list.
//!
//! | event | log line | metric | OTLP log record |
//! | --- | --- | --- | --- |
//! | [`CheckinFinished`] | `Check-in finished.` | `agent.checkin.runs` (`kind`, `outcome`), `agent.checkin.duration` (s; `kind`, `outcome`), `agent.checkin.deferred` and `agent.checkin.waiting_for_user` (items; `item.type`), `agent.checkin.reapplied` (items; `kind`) | — |
//! | [`ItemFinished`] | `Item finished.` | `agent.checkin.items` (`item.type`, `item.status`) | `agent.item.failed` when failed or timed out (with `process.exit.code`) |
//! | [`DriftMeasured`] | `Drift measured.` | `agent.drift` (unit `1`, 0/1; `drift.kind`) | — |
//! | [`DriftChanged`] | `Drift changed.` | (the `agent.drift` gauge moves) | `agent.drift.changed` |
//!
//! Attribute values come from short closed lists (kinds, outcomes, item types and
//! statuses, drift kinds), so every metric has few series per device.

mod checkin_finished;
mod drift_changed;
mod drift_measured;
mod item_finished;

pub(crate) use checkin_finished::CheckinFinished;
pub(crate) use drift_changed::DriftChanged;
pub(crate) use drift_measured::DriftMeasured;
pub(crate) use item_finished::ItemFinished;
