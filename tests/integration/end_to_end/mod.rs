//! End to end: the real `agent` binary against the real reference tenant
//! (`tests/tenant`, started in this process on 127.0.0.1 with its own SQLite file),
//! checked from both sides: what the agent did, and what the tenant recorded, read
//! back through the tenant's devices API as an admin would.
//!
//! A hung or garbage-talking tenant is covered by the recording test tenant
//! (`tests/integration/tenant.rs`), and so is self-update (`tenant/self_update.rs`,
//! which needs a server that hands out package files). New end-to-end tests go
//! here, one file per part of the protocol, with `harness::Tenant`
//! (`Tenant::start_with` takes a whole seed; `Tenant::restart` changes it): the daily
//! inventory in `inventory.rs`, the MDM daily check-in in `mdm.rs`.

pub(crate) mod harness;

mod checkin;
mod commands;
mod inventory;
mod mdm;
mod offline;
mod scheduled;
mod token;
