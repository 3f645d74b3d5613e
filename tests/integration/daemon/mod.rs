//! A real `agent daemon` process: its control socket (who may use it, what `agent
//! run` gets through it), its signals, a configuration changed while it runs, the
//! tenant's command channel, and the launchd job that starts it. Its schedule
//! (which check-in runs when, across restarts and reloads) is tested under paused
//! time beside the scheduler (`agent/daemon/scheduler_tests/`); these tests wait
//! on events, polled within `PATIENCE`, and pause for a fixed time only to show
//! that something does not happen (a channel that does not ask again).

pub(crate) mod harness;

mod command_channel;
mod config_reload;
mod launchd;
mod self_service;
mod self_service_page;
mod self_update;
mod socket;
mod stopping;
mod tenant_commands;
