//! Hostile input through every source that can feed it: the tenant, a local
//! blueprint, the configuration layers, managed preferences, files any local user
//! can write, downloads and archives. Each test drives the real binary on a scratch
//! `AGENT_ROOT` and feeds one class of hostile input through one source.

mod configuration;
mod files;
mod network;
mod structured_input;
mod terminal;
