//! `agent daemon` with intervals scaled down to seconds: its schedule, its control
//! socket (who may use it, what `agent run` gets through it), its signals, its
//! restarts, and the launchd job that starts it.

pub(crate) mod harness;

mod config_reload;
mod launchd;
mod schedule;
mod self_update;
mod socket;
mod stopping;
mod tenant_commands;
