//! The library item handlers: one file per item type, each audits, then enforces.

mod custom_script;
mod report;
mod unhandled;

pub use report::{ItemContext, ItemReport};

use crate::blueprint::{ItemDetails, LibraryItem};

/// Runs one library item to its end (or its deadline) and says how it went.
pub async fn run(item: &LibraryItem, context: &mut ItemContext<'_>) -> ItemReport {
    match &item.details {
        ItemDetails::CustomScript(script) => custom_script::run(script, context).await,
        ItemDetails::Unhandled(_) => unhandled::run(item),
    }
}
