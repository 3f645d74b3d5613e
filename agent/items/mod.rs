//! The library item handlers: one file per item type, each audits, then enforces.

mod app_flow;
mod auto_app;
mod custom_app;
mod custom_printer;
mod custom_script;
mod managed_os;
mod report;
mod run_folder;

pub use report::{ItemContext, ItemReport};
pub use run_folder::RunFolder;

use std::path::Path;

use crate::blueprint::{ItemDetails, LibraryItem};

/// Runs one library item to its end (or its deadline) and says how it went.
pub async fn run(item: &LibraryItem, context: &mut ItemContext<'_>) -> ItemReport {
    match &item.details {
        ItemDetails::CustomScript(settings) => custom_script::run(settings, context).await,
        ItemDetails::CustomPrinter(settings) => custom_printer::run(settings, context).await,
        ItemDetails::CustomApp(settings) => custom_app::run(settings, context).await,
        ItemDetails::AutoApp(settings) => auto_app::run(settings, context).await,
        ItemDetails::ManagedOs(settings) => managed_os::run(settings, context).await,
    }
}

/// Does what can be done for an item before its turn, while the program before it
/// runs: a custom script's audit is written into the run's folder. Nothing here
/// can fail the item; what goes wrong is met again, and reported, in its turn.
pub fn prepare(item: &LibraryItem, item_path: &Path, folder: &RunFolder) {
    if let ItemDetails::CustomScript(settings) = &item.details {
        custom_script::prepare(settings, item_path, folder);
    }
}
