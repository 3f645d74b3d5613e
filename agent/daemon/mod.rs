//! The daemon launchd starts (`agent daemon`): it owns the schedule and the
//! one-check-in-at-a-time rule, and serves `agent run` over its control socket.
//!
//! ```text
//!  signals ──► lifecycle ──► scheduler ──► checkin::run_checkin (under the lock)
//!   (TERM, INT, HUP)  │          ▲   next check-in from schedule + the store
//!        │            ▼          │   (+ tenant requests, due at once)
//!        │         control ──► queue (requests wait behind the running check-in)
//!        │         (socket, peer check, protocol)
//!        └──► reload ◄── scheduler, before each check-in: a source changed?
//! ```
//!
//! `protocol` documents what travels over the socket; `client` is the other side
//! of it, for `agent run`, the Self Service verbs and the Self Service page.

pub mod client;
mod control;
mod lifecycle;
pub mod protocol;
mod queue;
mod reload;
mod scheduler;
mod signals;

pub use lifecycle::{DaemonSetup, serve};
