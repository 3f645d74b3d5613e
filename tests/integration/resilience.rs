//! The agent heals itself and every run reaches the tenant: damaged saved files,
//! crashes, a clock that steps back, a self-update that did not take, telemetry
//! that must still go out. Each test drives the real binary on a scratch
//! `AGENT_ROOT`.

mod budgets;
mod clock;
mod damaged_store;
mod downloads;
mod escaped;
mod full_disk;
mod log_reading;
mod saved_files;
mod telemetry;
mod tenant_reports;
