//! `agent config`: the effective configuration, and with `--show-origin` which
//! file, variable or flag set each key. The tenant token is never printed.

use super::Settings;
use crate::cli::ConfigArgs;
use crate::exit_code;
use crate::terminal::{self, printable};

/// Prints every known key with its effective value (and origin).
pub fn config(settings: &Settings, arguments: &ConfigArgs) -> anyhow::Result<u8> {
    let values = settings.loaded.effective_values();
    if arguments.json {
        let object: serde_json::Map<String, serde_json::Value> = values
            .iter()
            .map(|value| {
                let shown = if arguments.show_origin {
                    serde_json::json!({ "value": value.value_text, "origin": value.origin.to_string() })
                } else {
                    serde_json::Value::String(value.value_text.clone())
                };
                (value.key.clone(), shown)
            })
            .collect();
        terminal::print_json(&object)?;
        return Ok(exit_code::SUCCESS);
    }
    let width = values.iter().map(|value| value.key.len()).max().unwrap_or_default();
    for value in &values {
        if arguments.show_origin {
            let origin = printable(&value.origin.to_string());
            terminal::print_line(&format!("{:<width$} = {:<20} ({origin})", value.key, printable(&value.value_text)))?;
        } else {
            terminal::print_line(&format!("{:<width$} = {}", value.key, printable(&value.value_text)))?;
        }
    }
    Ok(exit_code::SUCCESS)
}
