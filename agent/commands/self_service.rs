//! `agent self-service list|install|device|updates|update|open` and `agent sync`:
//! what a person at the Mac may do without admin rights (see README "Self Service").
//!
//! An install is a run of kind `self_service` holding the one offered item; an
//! update is the same kind of run holding the one item whose work waits; a
//! sync is the daily check-in. Both have trigger `self_service`, record the user
//! who asked, and go through the daemon's queue as `agent run` does (root without
//! a daemon runs them here). The catalog, Device Info and the updates are asked
//! of the daemon too (the store and the blueprint are root's); root without a daemon reads them
//! here.

use super::Settings;
use super::run::checkin_now;
use crate::accounts::user_name;
use crate::checkin::CheckinRequest;
use crate::cli::{OpenArgs, SelfServiceAction, SelfServiceArgs, UpdateArgs};
use crate::daemon::client::{self, SERVICE_NOT_RUNNING};
use crate::daemon::protocol::{Reply, Request};
use crate::exit_code;
use crate::self_service::{
    DeviceSummary, OfferedItem, PendingUpdate, UpdatesError, device_summary, offered_items, pending_updates,
    waiting_update,
};
use crate::self_service_page::{self, Limits, PageSettings};
use crate::terminal;

/// Runs the `agent self-service` verb asked for.
pub fn self_service(settings: &Settings, arguments: &SelfServiceArgs) -> anyhow::Result<u8> {
    match &arguments.action {
        SelfServiceAction::List(list) => self::list(settings, list.json),
        SelfServiceAction::Install(install) => {
            let request = request(Some(install.item.clone()));
            checkin_now(settings, &request, Request::SelfServiceInstall { item: install.item.clone() }, install.json)
        }
        SelfServiceAction::Device(device) => self::device(settings, device.json),
        SelfServiceAction::Updates(updates) => self::updates(settings, updates.json),
        SelfServiceAction::Update(update) => self::update(settings, update),
        SelfServiceAction::Open(open) => self::open(settings, open),
    }
}

/// Serves the Self Service page until it is closed or idle, or Ctrl-C.
fn open(settings: &Settings, arguments: &OpenArgs) -> anyhow::Result<u8> {
    let defaults = Limits::default();
    let page = PageSettings {
        socket: settings.paths.socket.clone(),
        opener: (!arguments.no_browser).then(|| settings.loaded.config.commands.open_url.clone()),
        limits: Limits {
            idle: arguments.idle_limit.unwrap_or(defaults.idle),
            closed: arguments.closed_grace.unwrap_or(defaults.closed),
        },
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async { self_service_page::serve(page, super::interrupt::stop_requested()).await })?;
    Ok(exit_code::SUCCESS)
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

/// How a one-line question to the daemon ended.
enum Asked {
    /// The daemon answered.
    Answered(Reply),
    /// No daemon runs.
    NoDaemon,
}

/// Asks the daemon `request` when one runs.
fn ask_daemon(settings: &Settings, request: &Request) -> anyhow::Result<Asked> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        match client::connect(&settings.paths.socket).await? {
            Some(stream) => Ok(Asked::Answered(client::ask(stream, request).await?)),
            None => Ok(Asked::NoDaemon),
        }
    })
}

/// Fails with what the daemon said, or with an unexpected reply's kind.
fn unexpected(reply: Reply) -> anyhow::Error {
    match reply {
        Reply::Failed { message, .. } => anyhow::anyhow!(message),
        other => anyhow::anyhow!("the agent daemon sent an unexpected reply: {}", other.to_line().trim_end()),
    }
}

/// Lists the offered items, Recommended first, then by category and name.
fn list(settings: &Settings, json: bool) -> anyhow::Result<u8> {
    let offered = match ask_daemon(settings, &Request::SelfServiceList)? {
        Asked::Answered(Reply::Offered { items }) => items,
        Asked::Answered(other) => return Err(unexpected(other)),
        Asked::NoDaemon if !nix::unistd::geteuid().is_root() => anyhow::bail!(SERVICE_NOT_RUNNING),
        Asked::NoDaemon => offered_items(&settings.paths, &settings.loaded.config)?,
    };
    if json {
        terminal::print_json(&offered)?;
        return Ok(exit_code::SUCCESS);
    }
    if offered.is_empty() {
        terminal::print_line("Nothing is offered in Self Service on this Mac.")?;
    }
    for item in &offered {
        terminal::print_line(&terminal::printable(&listed(item)))?;
    }
    Ok(exit_code::SUCCESS)
}

/// One line of `agent self-service list`.
fn listed(item: &OfferedItem) -> String {
    let recommended = if item.recommended { "  (recommended)" } else { "" };
    format!("{}  {}  [{}]  {}{}", item.id, item.name, item.category, item.state.as_str(), recommended)
}

/// Shows Device Info.
fn device(settings: &Settings, json: bool) -> anyhow::Result<u8> {
    let summary = match ask_daemon(settings, &Request::DeviceSummary)? {
        Asked::Answered(Reply::Device(summary)) => summary,
        Asked::Answered(other) => return Err(unexpected(other)),
        Asked::NoDaemon if !nix::unistd::geteuid().is_root() => anyhow::bail!(SERVICE_NOT_RUNNING),
        Asked::NoDaemon => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(device_summary(&settings.paths, &settings.loaded.config))
        }
    };
    if json {
        terminal::print_json(&summary)?;
        return Ok(exit_code::SUCCESS);
    }
    for line in shown(&summary) {
        terminal::print_line(&terminal::printable(&line))?;
    }
    Ok(exit_code::SUCCESS)
}

/// Device Info as lines of `label: value`; unknown facts say so.
fn shown(summary: &DeviceSummary) -> Vec<String> {
    let unknown = |value: &Option<String>| value.clone().unwrap_or_else(|| "unknown".to_string());
    let last = match (summary.last_checkin, summary.last_outcome) {
        (Some(at), Some(outcome)) => {
            format!("{} ({})", at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), outcome.as_str())
        }
        (Some(at), None) => at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        _ => "never".to_string(),
    };
    vec![
        format!("Computer name:  {}", unknown(&summary.computer_name)),
        format!("Serial number:  {}", unknown(&summary.serial_number)),
        format!("Model:          {}", unknown(&summary.model)),
        format!("macOS version:  {}", unknown(&summary.os_version)),
        format!("Last check-in:  {last}"),
        format!("Blueprint:      {}", unknown(&summary.blueprint_name)),
    ]
}

/// Lists the updates waiting on this Mac, the nearest deadline first.
fn updates(settings: &Settings, json: bool) -> anyhow::Result<u8> {
    let updates = match ask_daemon(settings, &Request::PendingUpdates)? {
        Asked::Answered(Reply::Updates { updates }) => updates,
        Asked::Answered(other) => return Err(unexpected(other)),
        Asked::NoDaemon if !nix::unistd::geteuid().is_root() => anyhow::bail!(SERVICE_NOT_RUNNING),
        Asked::NoDaemon => pending_updates(&settings.paths)?,
    };
    if json {
        terminal::print_json(&updates)?;
        return Ok(exit_code::SUCCESS);
    }
    if updates.is_empty() {
        terminal::print_line("Nothing is waiting to be updated on this Mac.")?;
    }
    for update in &updates {
        terminal::print_line(&terminal::printable(&waiting(update)))?;
    }
    Ok(exit_code::SUCCESS)
}

/// One line of `agent self-service updates`.
fn waiting(update: &PendingUpdate) -> String {
    let deadline = match update.deadline {
        Some(at) => format!("by {}", at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        None => "no deadline".to_string(),
    };
    format!("{}  {}  {}  {}  [{}]", update.id, update.name, update.action, deadline, update.state)
}

/// Runs one waiting update now. The daemon checks that its work waits; root,
/// who runs it here when no daemon answers, checks it first against the store
/// and the blueprint this command sees (with no blueprint here, the daemon, or
/// else the check-in, says what is missing).
fn update(settings: &Settings, arguments: &UpdateArgs) -> anyhow::Result<u8> {
    let mut item = arguments.item.clone();
    if nix::unistd::geteuid().is_root() {
        match waiting_update(&settings.paths, &settings.loaded.config, &arguments.item) {
            Ok(update) => item = update.id,
            Err(error) if error.is_refusal() => {
                terminal::print_error(&format!("error: {error}"));
                return Ok(exit_code::BAD_INPUT);
            }
            Err(UpdatesError::NoBlueprint) => {}
            Err(error) => return Err(error.into()),
        }
    }
    let ask = Request::UpdateNow { item: arguments.item.clone() };
    checkin_now(settings, &request(Some(item)), ask, arguments.json)
}
