//! A real `agent daemon` process: its control socket (who may use it, what `agent
//! run` gets through it), its signals, a configuration changed while it runs, and
//! the launchd job that starts it. Its schedule (which check-in runs when, across
//! restarts and reloads) is tested under paused time beside the scheduler
//! (`agent/daemon/scheduler_tests/`); these tests wait on events, polled within
//! `PATIENCE`, never a fixed sleep.

pub(crate) mod harness;

mod config_reload;
mod launchd;
mod self_service;
mod self_service_page;
mod self_update;
mod socket;
mod stopping;
mod tenant_commands;
