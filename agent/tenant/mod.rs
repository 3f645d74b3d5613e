//! The agent's side of the tenant protocol (`CONTRACT.md`, "Tenant protocol").
//!
//! ```text
//! check-in start ── session::begin ──> POST checkin, GET blueprint (If-None-Match)
//!                                      └─ saved blueprint when the tenant is down
//! next check-in ─── interrupted run ──> spool (when it closes a run a crash cut short)
//! check-in end ──── results_report ──> spool (SQLite) ─> POST results, then inventory, oldest first
//! update-mdm ────── mdm_report ──────> spool ─> POST mdm (and whatever else waits), oldest first
//! daemon ────────── command_poll ────> GET commands?wait=S (held) ─> requests (saved, run next)
//! ```
//!
//! The inventory goes after the results of the daily check-in, and of any
//! check-in during which the tenant sent `updateinventory`.
//!
//! The device's credential is `credential`'s: an enrollment secret is exchanged
//! for a device token once (`enrollment`), and every later request carries that.
//!
//! Every request has a connect and a total timeout, so a hung or garbage-talking
//! tenant costs a check-in at most `tenant.request_timeout` before the items run,
//! and every failure is a logged error, never a crash.

mod answered;
pub(crate) mod channel_status;
mod client;
mod command_poll;
pub(crate) mod credential;
mod enrollment;
mod inventory_report;
mod mdm_report;
mod protocol;
pub(crate) mod requests;
mod results_report;
mod saved;
mod session;
mod spool_delivery;
mod token;

pub(crate) use answered::last_answered_checkin;
pub(crate) use client::{BlueprintReply, TenantClient, TenantError};
pub(crate) use command_poll::PollReply;
pub(crate) use inventory_report::inventory_due;
pub(crate) use mdm_report::{Delivery, deliver_mdm};
pub(crate) use protocol::Command;
pub(crate) use results_report::{report, spool_interrupted_run};
pub(crate) use saved::usable as saved_blueprint_usable;
pub(crate) use session::{Contact, ETAG_KEY, begin};
pub(crate) use token::token_is_stale;
