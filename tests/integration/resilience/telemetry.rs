//! Telemetry keeps its word: a check-in that finds no blueprint still exports
//! `missing_policy` before it exits 2.
