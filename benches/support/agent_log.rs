//! The agent's own log, read back: its JSON records under the scratch device's
//! log folder, so a benchmark can tell what the daemon did (the command channel
//! listening, a command arriving through it) besides what it measured.

// Each benchmark is its own crate and uses part of this module.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use endpoint_agent::paths::AgentPaths;
use serde_json::Value;

/// The daemon began holding a long-poll to the tenant.
pub const CHANNEL_LISTENING: &str = "Listening for the tenant's commands.";

/// A command came through the long-poll and its check-in runs next.
pub const CHANNEL_COMMAND: &str = "The tenant asked for a check-in through the command channel; running it next.";

/// The channel lost the tenant (a pause follows).
pub const CHANNEL_UNREACHABLE: &str = "The command channel cannot reach the tenant; trying again after a pause.";

/// The channel is not used on this device.
pub const CHANNEL_OFF: &str = "The command channel is off (tenant.command_channel, or no tenant).";

/// How many records of the device under `root` carry exactly `message`.
pub fn logged(root: &Path, message: &str) -> usize {
    let mut files: Vec<PathBuf> = fs::read_dir(AgentPaths::under(root).log_dir)
        .map(|entries| entries.filter_map(|entry| Some(entry.ok()?.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .filter_map(|file| fs::read_to_string(file).ok())
        .flat_map(|text| text.lines().filter_map(|line| serde_json::from_str::<Value>(line).ok()).collect::<Vec<_>>())
        .filter(|record| record["message"] == message)
        .count()
}
