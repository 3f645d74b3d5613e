//! The tenant's requests for a check-in (`blankpush`: check in now;
//! `dailycheckin`: run the daily check-in now), saved in the state store with
//! their command id the moment they arrive.
//!
//! The daemon treats a saved request as due at once: right after the check-in
//! that received it, it runs one more with trigger `tenant` (the daily one for
//! `dailycheckin`). Without a daemon the request waits for the next check-in,
//! which serves it. Either way the check-in that serves it removes it when it
//! starts.
//!
//! A request that arrives *during* a check-in the tenant asked for does not start
//! another at once: it is saved for the next scheduled check-in instead (which is
//! then the daily one for `dailycheckin`). A tenant that answers every check-in
//! with `blankpush` (a bug, or a command it never clears) would otherwise keep the
//! device checking in back to back forever; this way it gets at most one extra
//! check-in per scheduled one.

use chrono::Utc;

pub(crate) use crate::state::TenantCommand;
use crate::state::{Store, TenantRequest, Trigger};

/// Saves the tenant's `command` (id `command_id`), received during a check-in
/// started by `trigger`; logs what will happen.
pub(crate) fn save(store: &Store, command_id: &str, command: TenantCommand, trigger: Trigger) {
    let run_at_once = trigger != Trigger::Tenant;
    // A daily request saved with the schedule makes the daily check-in due at once
    // by the schedule itself; one that must wait is made daily by the check-in that
    // serves it instead.
    if command == TenantCommand::DailyCheckIn && run_at_once {
        if let Err(error) = store.request_daily() {
            tracing::error!(command_id = %command_id, error = %error, "Cannot save the tenant's daily check-in request.");
            return;
        }
    }
    match store.save_tenant_request(command_id, command, Utc::now(), run_at_once) {
        Ok(false) => {
            tracing::info!(command_id = %command_id, command = command.as_str(), "The tenant sent a request already saved; it is served once.")
        }
        Ok(true) if run_at_once => tracing::info!(
            command_id = %command_id, command = command.as_str(),
            "The tenant asked for a check-in now; saved for the check-in after this one."
        ),
        Ok(true) => tracing::warn!(
            command_id = %command_id, command = command.as_str(),
            "The tenant asked for a check-in during one it asked for; not starting another at once, the next scheduled check-in serves it."
        ),
        Err(error) => {
            tracing::error!(command_id = %command_id, error = %error, "Cannot save the tenant's request for a check-in.")
        }
    }
}

/// Whether `requests` hold a `dailycheckin`: the check-in serving them is daily.
pub(crate) fn asks_for_daily(requests: &[TenantRequest]) -> bool {
    requests.iter().any(|request| request.command == TenantCommand::DailyCheckIn)
}

/// At the start of a check-in (its run recorded): removes the requests it serves,
/// those saved before it began talking to the tenant (up to `sequence`), and
/// says so.
pub(crate) fn serve(store: &Store, served: &[TenantRequest], trigger: Trigger) {
    let Some(last) = served.last() else { return };
    if let Err(error) = store.remove_tenant_requests(last.sequence) {
        tracing::error!(error = %error, "Cannot remove the tenant's requests this check-in serves.");
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
        save(&store, "cmd-1", TenantCommand::CheckInNow, Trigger::Schedule);
        save(&store, "cmd-2", TenantCommand::CheckInNow, Trigger::Cli);
        save(&store, "cmd-3", TenantCommand::DailyCheckIn, Trigger::Tenant);
        let pending = store.pending_tenant_requests().unwrap();
        let at_once: Vec<_> =
            pending.iter().map(|request| (request.command_id.as_str(), request.run_at_once)).collect();
        assert_eq!(at_once, [("cmd-1", true), ("cmd-2", true), ("cmd-3", false)]);
        assert!(!store.daily_requested().unwrap(), "not due at once by the schedule either");
        save(&store, "cmd-4", TenantCommand::DailyCheckIn, Trigger::Schedule);
        assert!(store.daily_requested().unwrap(), "one received in another check-in is due at once");
        serve(&store, &pending[..2], Trigger::Tenant);
        assert_eq!(store.pending_tenant_requests().unwrap()[0], pending[2]);
    }
}
