//! `agent paths`: where the agent keeps its files.

use crate::exit_code;
use crate::paths::AgentPaths;
use crate::terminal::{self, printable};

/// Prints every path, as JSON or as `key: path` lines.
pub fn paths(paths: &AgentPaths, json: bool) -> anyhow::Result<u8> {
    let value = serde_json::to_value(paths)?;
    if json {
        terminal::print_json(&value)?;
    } else if let Some(object) = value.as_object() {
        for (key, path) in object {
            terminal::print_line(&format!("{key}: {}", printable(path.as_str().unwrap_or_default())))?;
        }
    }
    Ok(exit_code::SUCCESS)
}
