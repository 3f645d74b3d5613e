//! The reference tenant: a small server that speaks the agent's tenant protocol
//! (CONTRACT.md, "Tenant protocol") and answers a devices API, so the agent can be
//! run and tested end to end without a real management service.
//!
//! ```text
//! agent ── POST enroll (enrollment secret) ─> routes::enroll ─> a device token (store)
//! agent ── POST checkin ───> routes::agent ──> store (SQLite): devices, check-ins,
//!       ── GET blueprint ──>    (seed: tokens,  reports de-duplicated by id,
//!       ── POST results … ─>     blueprints)    queued commands
//!       ── GET commands?wait=S ─> routes::channel ── held until a command is queued
//!                                        ^                  (200) or S seconds pass (204)
//!                                        └── channel (wake-up) ──┐
//! admin ── GET /api/v1/devices… ─> routes::devices ──> store + verdict (admin token only)
//!       ── POST …/action/{action} ──> queues a command ─────────┘
//! ```
//!
//! The command channel lets an admin's action reach a device within seconds; the
//! check-in stays the source of truth and hands over every command not yet
//! delivered, offered on the channel or not. `--no-command-channel` (or
//! [`Settings::without_command_channel`]) leaves the route out: `404`, as a tenant
//! that predates it.
//!
//! The `tenant` binary (`main.rs`) and the agent's end-to-end tests both start it
//! through [`start`]: serve on a listener the caller bound, with a [`Settings`]
//! (seed, SQLite file, clock, command channel), until [`RunningTenant::shutdown`].

mod auth;
mod channel;
mod clock;
mod error;
mod routes;
mod seed;
mod server;
mod store;
mod verdict;

pub use seed::{Seed, read_json};
pub use server::{RunningTenant, Settings, start};
