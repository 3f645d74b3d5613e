//! The tenant's commands, from a check-in's reply or the command channel:
//! `blankpush` (check in now), `dailycheckin` (run the daily check-in now) and
//! `updateinventory` (send inventory now). Each is saved in the state store with its
//! command id the moment it arrives, and acted on once per id: the command channel
//! may deliver a command that the next check-in's reply carries again.
//!
//! The daemon treats a saved request as due at once: right after the check-in
//! that received it (or at once, for one from the channel), it runs one more with
//! trigger `tenant` (the daily one for `dailycheckin`). Without a daemon the
//! request waits for the next check-in, which serves it. Either way the check-in
//! that serves it marks it served when it starts.
//!
//! `updateinventory` in a check-in's reply makes that check-in send inventory; from
//! the channel it is a request for a check-in that sends inventory.
//!
//! A request that arrives in the reply to a check-in the tenant asked for does not
//! start another at once: it is saved for the next scheduled check-in instead
//! (which is then the daily one for `dailycheckin`). A tenant that answers every
//! check-in with `blankpush` (a bug, or a command it never clears) would otherwise
//! keep the device checking in back to back forever; this way it gets at most one
//! extra check-in per scheduled one. The channel carries only commands an admin
//! queued, each once, so what it brings runs at once.

use chrono::Utc;

use super::inventory_report::request_inventory;
use super::protocol::Command;
pub(crate) use crate::state::TenantCommand;
use crate::state::{Store, TenantRequest, Trigger};

/// How a command reached the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// In the reply to a check-in that `trigger` started.
    Checkin(Trigger),
    /// Through the daemon's command channel, between check-ins.
    Channel,
}

impl Arrival {
    /// Whether a check-in request arriving this way may start a check-in at once.
    fn runs_at_once(self) -> bool {
        self != Arrival::Checkin(Trigger::Tenant)
    }
}

/// Acts on the tenant's `commands`, arrived by `arrival`; says whether a request
/// the daemon may serve at once was saved.
pub(crate) fn act_on(store: &Store, commands: &[Command], arrival: Arrival) -> bool {
    let mut saved = false;
    for command in commands {
        match TenantCommand::parse(&command.command_type) {
            Some(TenantCommand::UpdateInventory) if arrival != Arrival::Channel => {
                inventory_in_this_checkin(store, &command.id);
            }
            Some(asked) => saved |= save(store, &command.id, asked, arrival),
            None => tracing::warn!(
                command_id = %command.id, command = %command.command_type,
                "The tenant sent an unknown command; ignored."
            ),
        }
    }
    saved
}

/// `updateinventory` in a check-in's reply: this check-in sends inventory after
/// its items, unless the command was already acted on.
fn inventory_in_this_checkin(store: &Store, command_id: &str) {
    let known = store.record_served_command(command_id, TenantCommand::UpdateInventory, Utc::now());
    let result = match known {
        Ok(false) => {
            tracing::info!(command_id = %command_id, "The tenant sent a command already received; it is acted on once.");
            return;
        }
        Ok(true) => request_inventory(store),
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => {
            tracing::info!(command_id = %command_id, "The tenant asked for inventory; it is sent after this check-in's items.")
        }
        Err(error) => {
            tracing::error!(command_id = %command_id, error = %error, "Cannot save the tenant's inventory request.")
        }
    }
}

/// Saves the tenant's `command` (id `command_id`) as a request for a check-in;
/// logs what will happen; says whether it was new and may run at once.
pub(crate) fn save(store: &Store, command_id: &str, command: TenantCommand, arrival: Arrival) -> bool {
    let run_at_once = arrival.runs_at_once();
    let new = match store.save_tenant_request(command_id, command, Utc::now(), run_at_once) {
        Ok(new) => new,
        Err(error) => {
            tracing::error!(command_id = %command_id, error = %error, "Cannot save the tenant's request for a check-in.");
            return false;
        }
    };
    // A daily request saved with the schedule makes the daily check-in due at once
    // by the schedule itself; one that must wait is made daily by the check-in that
    // serves it instead. Inventory asked for is sent by the check-in serving it.
    let marked = match command {
        TenantCommand::DailyCheckIn if new && run_at_once => store.request_daily(),
        TenantCommand::UpdateInventory if new => request_inventory(store),
        _ => Ok(()),
    };
    if let Err(error) = marked {
        tracing::error!(command_id = %command_id, error = %error, "Cannot save what the tenant's request asks for.");
    }
    let command = command.as_str();
    if !new {
        tracing::info!(command_id = %command_id, command, "The tenant sent a command already received; it is acted on once.");
    } else if arrival == Arrival::Channel {
        tracing::info!(
            command_id = %command_id, command,
            "The tenant asked for a check-in through the command channel; running it next."
        );
    } else if run_at_once {
        tracing::info!(
            command_id = %command_id, command,
            "The tenant asked for a check-in now; saved for the check-in after this one."
        );
    } else {
        tracing::warn!(
            command_id = %command_id, command,
            "The tenant asked for a check-in during one it asked for; not starting another at once, the next scheduled check-in serves it."
        );
    }
    new && run_at_once
}

/// Whether `requests` hold a `dailycheckin`: the check-in serving them is daily.
pub(crate) fn asks_for_daily(requests: &[TenantRequest]) -> bool {
    requests.iter().any(|request| request.command == TenantCommand::DailyCheckIn)
}

/// At the start of a check-in (its run recorded): marks served the requests it
/// serves, those saved before it began talking to the tenant (up to `sequence`),
/// and says so.
pub(crate) fn serve(store: &Store, served: &[TenantRequest], trigger: Trigger) {
    let Some(last) = served.last() else { return };
    if let Err(error) = store.serve_tenant_requests(last.sequence, Utc::now()) {
        tracing::error!(error = %error, "Cannot mark the tenant's requests this check-in serves.");
        return;
    }
    for request in served {
        let received_at = crate::state::time_text(request.received_at);
        if trigger == Trigger::Tenant {
            tracing::info!(command_id = %request.command_id, command = request.command.as_str(), received_at = %received_at, "This check-in is the one the tenant asked for.");
        } else {
            tracing::info!(command_id = %request.command_id, command = request.command.as_str(), received_at = %received_at, "This check-in serves the tenant's earlier request.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_received_during_a_tenant_check_in_waits_for_the_schedule() {
        let (_folder, store) = Store::scratch();
        save(&store, "cmd-1", TenantCommand::CheckInNow, Arrival::Checkin(Trigger::Schedule));
        save(&store, "cmd-2", TenantCommand::CheckInNow, Arrival::Checkin(Trigger::Cli));
        save(&store, "cmd-3", TenantCommand::DailyCheckIn, Arrival::Checkin(Trigger::Tenant));
        let pending = store.pending_tenant_requests().unwrap();
        let at_once: Vec<_> =
            pending.iter().map(|request| (request.command_id.as_str(), request.run_at_once)).collect();
        assert_eq!(at_once, [("cmd-1", true), ("cmd-2", true), ("cmd-3", false)]);
        assert!(!store.daily_requested().unwrap(), "not due at once by the schedule either");
        save(&store, "cmd-4", TenantCommand::DailyCheckIn, Arrival::Checkin(Trigger::Schedule));
        assert!(store.daily_requested().unwrap(), "one received in another check-in is due at once");
        serve(&store, &pending[..2], Trigger::Tenant);
        assert_eq!(store.pending_tenant_requests().unwrap()[0], pending[2]);
    }

    fn command(id: &str, command_type: &str) -> Command {
        Command { id: id.to_string(), command_type: command_type.to_string() }
    }

    #[test]
    fn a_command_from_the_channel_runs_at_once_even_during_a_tenant_check_in_and_once_per_id() {
        let (_folder, store) = Store::scratch();
        let from_channel = [command("cmd-1", "blankpush"), command("cmd-2", "updateinventory")];
        assert!(act_on(&store, &from_channel, Arrival::Channel));
        let pending = store.pending_tenant_requests().unwrap();
        assert!(pending.iter().all(|request| request.run_at_once), "{pending:?}");
        assert!(crate::tenant::inventory_due(&store, crate::plan::CheckinKind::Recurring), "inventory asked for");
        serve(&store, &pending, Trigger::Tenant);
        // The reply of the check-in that served them carries them again.
        assert!(!act_on(&store, &from_channel, Arrival::Checkin(Trigger::Tenant)));
        assert!(store.pending_tenant_requests().unwrap().is_empty(), "acted on once");
        assert!(!act_on(&store, &from_channel, Arrival::Channel), "and not again from the channel");
    }

    #[test]
    fn updateinventory_in_a_check_in_reply_is_for_that_check_in_and_acted_on_once() {
        let (_folder, store) = Store::scratch();
        assert!(!act_on(&store, &[command("cmd-5", "updateinventory")], Arrival::Checkin(Trigger::Schedule)));
        assert!(store.pending_tenant_requests().unwrap().is_empty(), "no check-in of its own");
        assert!(crate::tenant::inventory_due(&store, crate::plan::CheckinKind::Recurring));
        store.set_tenant_value("tenant_inventory_requested", None).unwrap();
        act_on(&store, &[command("cmd-5", "updateinventory")], Arrival::Channel);
        assert!(!crate::tenant::inventory_due(&store, crate::plan::CheckinKind::Recurring), "already acted on");
        assert!(!act_on(&store, &[command("cmd-6", "reboot")], Arrival::Channel), "unknown: ignored");
    }
}
