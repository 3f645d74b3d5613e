//! `agent doctor` on scratch devices: a fresh one, one last seen 8 and 22 days
//! ago, an expired MDM identity, a tenant that is unreachable, hung or refuses the
//! token, Apple push open and closed, and launchd saying the daemon is loaded,
//! stopped or unknown. Everything it connects to listens on 127.0.0.1.

pub(crate) mod harness;

mod checkin_age;
mod install;
mod mdm;
mod tenant;
