//! The library item handlers: one file per item type, each audits, then enforces.
//!
//! The handler modules and the dispatch to them come from the table of item types
//! (`blueprint/item_types.rs`): each type's `items/<module>.rs` defines
//! `pub async fn run(settings: &<Variant>, context: &mut ItemContext<'_>) -> ItemReport`.

mod app_flow;
mod report;
mod run_folder;
#[cfg(test)]
mod scratch;

pub(crate) use app_flow::restart_if_asked;
pub use report::{ItemContext, ItemReport};
pub use run_folder::RunFolder;
#[cfg(test)]
pub(crate) use scratch::ScratchItem;

use std::path::Path;

use crate::blueprint::{ItemDetails, LibraryItem, item_types};

/// Declares the handler module of every item type in the table and generates
/// [`run`], which hands an item's settings to its type's handler.
macro_rules! handlers {
    ($($(#[$doc:meta])* $module:ident: $variant:ident, timeout: $timeout:ident;)*) => {
        $(mod $module;)*

        /// Runs one library item to its end (or its deadline) and says how it went.
        pub async fn run(item: &LibraryItem, context: &mut ItemContext<'_>) -> ItemReport {
            match &item.details {
                $(ItemDetails::$variant(settings) => $module::run(settings, context).await,)*
            }
        }
    };
}
item_types!(handlers);

/// Does what can be done for an item before its turn, while the program before it
/// runs: a custom script's audit is written into the run's folder. Nothing here
/// can fail the item; what goes wrong is met again, and reported, in its turn.
pub fn prepare(item: &LibraryItem, item_path: &Path, folder: &RunFolder) {
    if let ItemDetails::CustomScript(settings) = &item.details {
        custom_script::prepare(settings, item_path, folder);
    }
}
