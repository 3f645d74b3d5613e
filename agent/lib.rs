//! Endpoint Agent: an on-device management agent for macOS.
//!
//! A check-in flows through these modules, in this order:
//!
//! ```text
//!  cli ──► commands/<verb> ──► config (layers → AgentConfig)
//!                │
//!                ▼
//!            checkin ── blueprint (file → checked Blueprint)
//!                │  ├── run_lock (one check-in at a time)
//!                │  ├── parameters (device-wide settings, before the items)
//!                │  ├── plan (which items, what order, which timeout)
//!                │  ├── items/<type> ── tool_runner ── process (own group, bounded output, TERM → KILL)
//!                │  │     └── apps: items/app_flow → downloads (cache, resume, sha256) → installers (zip, pkg, dmg)
//!                │  ├── state (SQLite: runs, item results, markers)
//!                │  ├── self_update (after the results: the tenant's newer agent, installed)
//!                │  └── telemetry (named events → OTLP metrics and log records, flushed at the end)
//!                ▼
//!            progress / render (what people see), logging (what the files keep)
//! ```
//!
//! `agent update-mdm` answers Apple's six inventory queries from one collected
//! `inventory` (`mdm`) and sends them through the `tenant` spool.
//!
//! `daemon` is what launchd starts: it runs check-ins by `schedule` and serves
//! `agent run` over a control socket, one check-in at a time.
//!
//! `self_service_page` is `agent self-service open`: a web server on 127.0.0.1
//! for the person at the Mac, asking the daemon over that socket as them.
//!
//! `doctor` is the admin's checklist when a device seems out of control: the
//! install, launchd, the tenant, Apple push, check-in and inventory age, MDM, FileVault.
//!
//! `network_rules` says which URLs every HTTP client may reach (plain http to
//! loopback only) and through which proxy (https only); `tenant_trust` whom the
//! tenant client believes over TLS (the system's anchors, `tenant.ca_file`'s, and
//! the pins of `tenant.pinned_spki_sha256`).
//!
//! `tool_runner` is the one way an item (or the agent's own update) runs a tool:
//! from the root, with the item's environment, under its deadline, each run's
//! output kept in a transcript under a heading that says how it ended.
//!
//! `terminal` is how every verb prints: control characters escaped, a reader that
//! goes away (`agent status | head -1`) never a panic.
//!
//! `paths` says where everything lives (all of it under `AGENT_ROOT` when set);
//! `safe_path` is how every write reaches its folder (from the root, one name at a
//! time, never through a symlink), and `atomic_file` the one way a file is replaced;
//! `structured_input` reads every JSON and plist within size and depth limits
//! (blueprints, configuration, `Info.plist`s); `exit_code` says what each exit code
//! means; `error_chain` prints an error with its causes on one line; `log_level`
//! is the one level type that `logs.level`, the log files and `agent logs --level`
//! share, ordered by severity.

pub(crate) mod accounts;
pub(crate) mod app_bundle;
mod atomic_file;
mod backoff;
pub mod blueprint;
pub mod checkin;
pub mod cli;
pub mod commands;
pub mod config;
pub(crate) mod daemon;
mod der;
pub(crate) mod doctor;
pub(crate) mod downloads;
mod error_chain;
pub mod exit_code;
pub(crate) mod installers;
pub mod inventory;
pub(crate) mod items;
pub mod library;
pub(crate) mod log_level;
pub(crate) mod log_records;
pub mod logging;
pub(crate) mod mdm;
pub(crate) mod network_rules;
pub(crate) mod operating_system;
mod orphans;
pub mod parameters;
pub mod paths;
pub(crate) mod person;
pub mod plan;
pub(crate) mod process;
pub(crate) mod progress;
pub(crate) mod render;
pub(crate) mod run_lock;
pub(crate) mod safe_path;
pub mod schedule;
pub mod self_service;
pub(crate) mod self_service_page;
pub(crate) mod self_update;
pub mod state;
pub(crate) mod structured_input;
pub(crate) mod telemetry;
pub(crate) mod tenant;
pub mod tenant_trust;
pub mod terminal;
pub(crate) mod tool_runner;
pub(crate) mod version;
