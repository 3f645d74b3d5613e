//! `agent inventory`: collect the device and application inventory now, save it
//! as the last inventory, and show it (or print it as the JSON the tenant gets).

use tokio_util::sync::CancellationToken;

use super::Settings;
use crate::exit_code;
use crate::inventory::{self, Platform};
use crate::terminal;

/// Collects and prints the inventory. Collectors that fail are listed with the
/// rest; the verb still exits 0, as the inventory it printed is what it has.
pub fn inventory(settings: &Settings, json: bool) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let collected = runtime.block_on(async {
        let cancel = CancellationToken::new();
        let stopper = cancel.clone();
        tokio::spawn(async move {
            super::interrupt::stop_requested().await;
            stopper.cancel();
        });
        inventory::collect_and_save(&settings.paths, &settings.loaded.config, Platform::current(), &cancel).await
    });
    if json {
        terminal::print_json(&collected)?;
    } else {
        terminal::print(&inventory::render(&collected))?;
    }
    Ok(exit_code::SUCCESS)
}
