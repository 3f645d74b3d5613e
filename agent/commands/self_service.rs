//! `agent self-service list|install` and `agent sync`: what a person at the Mac
//! may do without admin rights (see README "Self Service").
//!
//! An install is a run of kind `self_service` holding the one offered item; a
//! sync is the daily check-in. Both have trigger `self_service`, record the user
//! who asked, and go through the daemon's queue as `agent run` does (root without
//! a daemon runs them here). The list reads the blueprint a check-in would use
//! and each offered item's last result.

use serde::Serialize;

use super::Settings;
use super::run::checkin_now;
use crate::accounts::user_name;
use crate::blueprint::{self, LibraryItem};
use crate::checkin::CheckinRequest;
use crate::cli::{SelfServiceAction, SelfServiceArgs};
use crate::daemon::protocol::Request;
use crate::exit_code;
use crate::state::{ItemRecord, ItemStatus, Store};
use crate::terminal;

/// Runs the `agent self-service` verb asked for.
pub fn self_service(settings: &Settings, arguments: &SelfServiceArgs) -> anyhow::Result<u8> {
    match &arguments.action {
        SelfServiceAction::List(list) => self::list(settings, list.json),
        SelfServiceAction::Install(install) => {
            let request = request(Some(install.item.clone()));
            checkin_now(settings, &request, Request::SelfServiceInstall { item: install.item.clone() }, install.json)
        }
    }
}

/// `agent sync`: the daily check-in now, with trigger `self_service`.
pub fn sync(settings: &Settings, json: bool) -> anyhow::Result<u8> {
    checkin_now(settings, &request(None), Request::Sync, json)
}

/// The request as this process runs it when no daemon answers (root only),
/// asked for by this user.
fn request(item: Option<String>) -> CheckinRequest {
    CheckinRequest::self_service(item, user_name(nix::unistd::geteuid().as_raw()))
}

/// One offered item as `agent self-service list` shows it.
#[derive(Debug, Serialize)]
struct OfferedItem {
    id: String,
    name: String,
    #[serde(rename = "type")]
    item_type: &'static str,
    category: String,
    description: String,
    recommended: bool,
    /// `installed` (its last run succeeded), `failed` (failed or timed out) or
    /// `not_installed` (never ran on this device).
    state: &'static str,
    /// When its last run ended, if it ran.
    last_run: Option<chrono::DateTime<chrono::Utc>>,
}

/// Lists the offered items of the blueprint a check-in would use, Recommended
/// first, then by category and name.
fn list(settings: &Settings, json: bool) -> anyhow::Result<u8> {
    let config = &settings.loaded.config;
    let path = config.blueprint_file.clone().unwrap_or_else(|| settings.paths.saved_blueprint.clone());
    if !path.exists() {
        anyhow::bail!("no blueprint at {}: nothing is offered on this Mac yet", path.display());
    }
    let loaded = blueprint::load(&path)?;
    let store = Store::open_existing(&settings.paths.store_file)?;
    let mut offered = Vec::new();
    for item in &loaded.blueprint.library_items {
        let last = match &store {
            Some(store) => store.last_ran_result(&item.id)?,
            None => None,
        };
        if let Some(entry) = offered_item(item, last.as_ref()) {
            offered.push(entry);
        }
    }
    offered.sort_by(|left, right| {
        (!left.recommended, &left.category, &left.name).cmp(&(!right.recommended, &right.category, &right.name))
    });
    if json {
        terminal::print_json(&offered)?;
        return Ok(exit_code::SUCCESS);
    }
    if offered.is_empty() {
        terminal::print_line("Nothing is offered in Self Service on this Mac.")?;
    }
    for item in &offered {
        let recommended = if item.recommended { "  (recommended)" } else { "" };
        terminal::print_line(&terminal::printable(&format!(
            "{}  {}  [{}]  {}{}",
            item.id, item.name, item.category, item.state, recommended
        )))?;
    }
    Ok(exit_code::SUCCESS)
}

/// `item` as listed, with the state its last run `last` left; `None` when it is
/// not offered.
fn offered_item(item: &LibraryItem, last: Option<&ItemRecord>) -> Option<OfferedItem> {
    let offer = item.self_service.as_ref()?;
    let state = match last.map(|record| record.status) {
        Some(ItemStatus::Succeeded) => "installed",
        Some(_) => "failed",
        None => "not_installed",
    };
    Some(OfferedItem {
        id: item.id.clone(),
        name: item.name.clone(),
        item_type: item.item_type().as_str(),
        category: offer.category.clone(),
        description: offer.description.clone(),
        recommended: offer.recommended,
        state,
        last_run: last.map(|record| record.finished_at),
    })
}
