//! The library item handlers: one file per item type, each audits, then enforces.

mod auto_app;
mod custom_app;
mod custom_printer;
mod custom_script;
mod managed_os;
mod report;

pub use report::{ItemContext, ItemReport};

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
