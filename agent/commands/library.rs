//! `agent library --list|--state|--item`: Iru's library verbs (see README
//! "Running one item (agent library)").
//!
//! `--list` and `--state` read the blueprint a check-in would use and the
//! store ([`crate::library`]). `--item` runs that one item as a check-in of
//! kind `item`, trigger `cli`: through the daemon's queue when one runs (a
//! root-only request, as `agent run`'s), else here under the check-in lock
//! ([`checkin_now`]), with the same progress, records, reports and exit codes.

use super::Settings;
use super::run::checkin_now;
use crate::checkin::CheckinRequest;
use crate::cli::LibraryArgs;
use crate::daemon::protocol::Request;
use crate::exit_code;
use crate::library::{ItemState, LibraryError, ListedItem, item_state, library_items, resolve_item};
use crate::render;
use crate::terminal;

/// Runs the `agent library` action asked for.
pub fn library(settings: &Settings, arguments: &LibraryArgs) -> anyhow::Result<u8> {
    if let Some(asked) = &arguments.item {
        return run_item(settings, asked, arguments.force, arguments.json);
    }
    if let Some(asked) = &arguments.state {
        return match item_state(&settings.paths, &settings.loaded.config, asked) {
            Ok(state) => show_state(&state, arguments.json),
            Err(error) => refused(error),
        };
    }
    match library_items(&settings.paths, &settings.loaded.config) {
        Ok(items) => show_list(&items, arguments.json),
        Err(error) => refused(error),
    }
}

/// Runs one item now. An id or name the blueprint does not hold is refused
/// here (exit 2) before anything is asked of the daemon or the tenant; the
/// check-in checks again against the blueprint it uses.
fn run_item(settings: &Settings, asked: &str, force: bool, json: bool) -> anyhow::Result<u8> {
    let item = match resolve_item(&settings.paths, &settings.loaded.config, asked) {
        Ok(resolved) => resolved.unwrap_or_else(|| asked.to_string()),
        Err(error) => return refused(error),
    };
    tracing::info!(item = %asked, item_id = %item, force, "Library item run asked for from the command line.");
    let request = CheckinRequest::library_item(item.clone(), force);
    checkin_now(settings, &request, Request::RunItem { item, force }, json)
}

/// Says why the library could not be read; bad input (no such item, no or a
/// bad blueprint) exits 2, a store that cannot be read 1.
fn refused(error: LibraryError) -> anyhow::Result<u8> {
    let code = match error {
        LibraryError::Store(_) => return Err(error.into()),
        LibraryError::NoBlueprint { .. } | LibraryError::Blueprint(_) | LibraryError::NoSuchItem(_) => {
            exit_code::BAD_INPUT
        }
    };
    terminal::print_error(&format!("error: {:#}", anyhow::Error::from(error)));
    Ok(code)
}

/// Prints the items in run order, one line each.
fn show_list(items: &[ListedItem], json: bool) -> anyhow::Result<u8> {
    if json {
        terminal::print_json(items)?;
        return Ok(exit_code::SUCCESS);
    }
    if items.is_empty() {
        terminal::print_line("The blueprint holds no library items.")?;
    }
    for item in items {
        terminal::print_line(&terminal::printable(&listed(item)))?;
    }
    Ok(exit_code::SUCCESS)
}

/// One line of `--list`: id, name, type, frequency, last status, when, message.
fn listed(item: &ListedItem) -> String {
    let last = match (item.last_status, item.last_at) {
        (Some(status), Some(at)) => format!("{} {}", status.as_str(), render::time(at)),
        _ => "never ran".to_string(),
    };
    let message = item.message.as_deref().filter(|message| !message.is_empty());
    let message = message.map(|message| format!("  {message}")).unwrap_or_default();
    format!("{}  {}  [{}, {}]  {}{}", item.id, item.name, item.item_type, item.schedule(), last, message)
}

/// Prints one item's state: what it is, its newest results, its last output.
fn show_state(state: &ItemState, json: bool) -> anyhow::Result<u8> {
    if json {
        terminal::print_json(state)?;
        return Ok(exit_code::SUCCESS);
    }
    terminal::print_line(&terminal::printable(&listed(&state.item)))?;
    if state.results.is_empty() {
        terminal::print_line("No results yet: the item has not been in a run on this Mac.")?;
    }
    for result in &state.results {
        let exit = result.exit_code.map(|code| format!("  exit {code}")).unwrap_or_default();
        let line = format!(
            "  {} {}  {}  {} ({}, {})  {} → {}{}  {}",
            render::status_mark(result.status),
            result.status.as_str(),
            result.run_id,
            result.kind,
            result.trigger,
            render::duration_ms((result.finished_at - result.started_at).num_milliseconds().max(0) as u64),
            render::time(result.started_at),
            render::time(result.finished_at),
            exit,
            result.message,
        );
        terminal::print_line(&terminal::printable(&line))?;
    }
    if let Some(output) = state.output.as_deref().filter(|output| !output.is_empty()) {
        terminal::print_line("Last output:")?;
        terminal::print_line(&terminal::printable_lines(output.trim_end()))?;
    }
    Ok(exit_code::SUCCESS)
}
