//! The agent's configuration: layered sources merged key by key into one validated
//! [`AgentConfig`], with the origin of every value and every problem at once.
//!
//! ```text
//! defaults < config file < config.d/* (by name) < managed preferences < AGENT_* < --set
//!            files.rs ─┐           layers.rs ─┐                          layers.rs
//!                      └── raw dotted keys ───┴──> resolve.rs: check each against
//!                          with their origin       keys.rs, merge, collect problems
//! ```
//!
//! A file or folder another user than root could have written is skipped with a
//! warning before it is read (trust.rs).

mod commands;
mod durations;
mod files;
mod keys;
mod layers;
mod origin;
mod problems;
mod resolve;
mod secret;
mod settings;
mod sizes;
mod trust;
mod values;

#[cfg(test)]
mod tests;

pub use commands::Commands;
pub(crate) use durations::{duration_text, long_duration_text};
pub use origin::Origin;
pub use problems::{ConfigError, ConfigErrors, ConfigWarning};
pub use resolve::{EffectiveValue, LoadedConfig, load};
pub use secret::{REDACTED, Secret};
pub use settings::{
    AgentConfig, Daemon, Doctor, Downloads, Inventory, Logs, Notices, Otel, Schedule, SelfService, SelfUpdate, State,
    Tenant, Timeouts,
};
pub(crate) use trust::TrustedWriters;
pub(crate) use values::{RawValue, ValueProblem, parse_duration};
