//! The daemon launchd starts (`agent daemon`): it owns the schedule and the
//! one-check-in-at-a-time rule, and serves `agent run` over its control socket.
//!
//! ```text
//!  signals ──► lifecycle ──► scheduler ──► checkin::run_checkin (under the lock)
//!   (TERM, INT, HUP)  │          ▲   next check-in from schedule + the store
//!        │            ▼          │   (+ tenant requests, due at once)
//!        │         control ──► requested ──► queue (requests wait behind the
//!        │         (socket,    (queued,      running check-in; a sync joins the
//!        │          peer check) joined,      one under way: audience)
//!        │                      followed)
//!        └──► reload ◄── scheduler, before each check-in: a source changed?
//!
//!  command_channel ── long-poll to the tenant ──► store (tenant request) ──► wakes scheduler
//!        ▲ check-ins ended (after a 401 or 404: when to ask again)  │
//!        └────────────────────────────────────────── scheduler
//!
//!  scheduler, going idle after a check-in ──► code_pages (the check-in's code given back)
//! ```
//!
//! `protocol` documents what travels over the socket; `client` is the other side
//! of it, for `agent run`, the Self Service verbs and the Self Service page.

mod audience;
pub mod client;
mod code_pages;
mod command_channel;
mod connection_limit;
mod control;
mod lifecycle;
pub mod protocol;
mod queue;
mod reload;
mod requested;
mod scheduler;
mod signals;

pub use lifecycle::{DaemonSetup, serve};
