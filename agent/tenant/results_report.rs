//! The results report of a run: spooled at the end of the check-in and sent with
//! every other due report; sent once, directly, when the store cannot take it into
//! the spool. A run a crash cut short is reported when the next check-in closes it.
//! Each report carries the deferrals its run recorded and the disruptive work
//! still pending, so the tenant sees what waits on the person and until when.

use chrono::Utc;

use super::client::{TenantClient, TenantError};
use super::inventory_report::spool_inventory;
use super::protocol::ResultsBody;
use super::session::{Contact, Session};
use super::spool_delivery::send_spool;
use crate::inventory::Inventory;
use crate::paths::AgentPaths;
use crate::state::{RunRecord, Store, StoreError};

/// Where results go.
const RESULTS_PATH: &str = "/api/v1/agent/results";

/// Spools the run's results, then `inventory` if one was collected, and sends
/// every due report, oldest first. The report is made from the run in memory, so
/// it is whole even when the store's record of the run is not (a full disk); when
/// the store cannot take it into the spool either, it is sent once, directly,
/// and not kept for a retry.
pub(crate) async fn report(
    paths: &AgentPaths,
    store: &Store,
    run: &RunRecord,
    inventory: Option<&Inventory>,
    contact: Contact,
) {
    if let Err(error) = spool_results(store, run) {
        tracing::error!(error = %error, "Cannot spool the run's results; sending them directly, once.");
        if let Some(client) = contact.client {
            send_directly(paths, client, store, run).await;
        }
        return;
    }
    if let Some(inventory) = inventory {
        match spool_inventory(store, inventory) {
            Ok(report_id) => tracing::info!(report_id = %report_id, "Inventory spooled for the tenant."),
            Err(error) => tracing::error!(error = %error, "Cannot spool the inventory."),
        }
    }
    let Some(client) = contact.client else { return };
    send_spool(paths, client, store, contact.answered).await;
}

/// Writes the results report into the spool; its id is the run's, so sending it
/// twice is harmless. It carries the newest agent update no earlier report did.
fn spool_results(store: &Store, run: &RunRecord) -> anyhow::Result<()> {
    let device_id = store.device_id()?;
    let agent_update = store.unreported_agent_update()?;
    let (deferrals, pending_work) = (store.deferrals_of_run(&run.header.id)?, store.all_pending_work()?);
    let body = ResultsBody {
        device_id: &device_id,
        run_id: &run.header.id,
        run,
        deferrals: &deferrals,
        pending_work: &pending_work,
        agent_update: agent_update.as_ref(),
    };
    store.spool_add(&run.header.id, RESULTS_PATH, &serde_json::to_string(&body)?, Utc::now())?;
    if let Some(update) = &agent_update {
        store.mark_agent_updates_reported(update.id, &run.header.id)?;
    }
    Ok(())
}

/// Sends the results report of `run` straight to the tenant, once, without the
/// spool (which the store could not take it into); logs what became of it.
async fn send_directly(paths: &AgentPaths, client: TenantClient, store: &Store, run: &RunRecord) {
    // The store failed once already: what it still reads goes along, the rest is left out.
    let deferrals = store.deferrals_of_run(&run.header.id).unwrap_or_default();
    let pending_work = store.all_pending_work().unwrap_or_default();
    let body = store.device_id().map_err(anyhow::Error::from).and_then(|device_id| {
        let run_id = &run.header.id;
        let (deferrals, pending_work) = (&deferrals[..], &pending_work[..]);
        let body = ResultsBody { device_id: &device_id, run_id, run, deferrals, pending_work, agent_update: None };
        Ok(serde_json::to_string(&body)?)
    });
    let body = match body {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(run_id = %run.header.id, error = %error, "Cannot make the run's results report; the tenant will not receive it.");
            return;
        }
    };
    let mut session = Session::new(paths, client);
    let mut result = session.client.post_report(RESULTS_PATH, &body).await;
    if matches!(result, Err(TenantError::Unauthorized)) && session.recover().await {
        result = session.client.post_report(RESULTS_PATH, &body).await;
    }
    match session.settle(result) {
        Ok(()) => {
            tracing::warn!(run_id = %run.header.id, "The run's results were sent directly to the tenant, not spooled.")
        }
        Err(error) => {
            tracing::error!(run_id = %run.header.id, error = %error, "Cannot send the run's results directly; the tenant will not receive them.")
        }
    }
}

/// Writes the results report of run `run_id`, just closed as interrupted, into
/// the spool (in the caller's transaction, see `checkin::close_interrupted_runs`);
/// it goes out with the next delivery, before the reports spooled after it.
pub(crate) fn spool_interrupted_run(store: &Store, run_id: &str) -> Result<(), StoreError> {
    let Some(run) = store.run(run_id)? else { return Ok(()) };
    match spool_results(store, &run) {
        Ok(()) => {
            tracing::info!(run_id = %run_id, "The interrupted run's results are spooled for the tenant.");
            Ok(())
        }
        Err(error) => match error.downcast::<StoreError>() {
            Ok(error) => Err(error),
            Err(error) => {
                tracing::error!(run_id = %run_id, error = %error, "Cannot spool the interrupted run's results.");
                Ok(())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone};
    use serde_json::json;

    use super::*;
    use crate::plan::CheckinKind;
    use crate::state::{Deferral, PendingWork, Trigger};

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 9, minute, 0).unwrap()
    }

    /// The spooled results body of `run`.
    fn spooled(store: &Store, run: &RunRecord) -> serde_json::Value {
        spool_results(store, run).unwrap();
        let due = store.spool_due(at(59) + chrono::Duration::days(3650), true).unwrap();
        let report = due.iter().find(|report| report.report_id == run.header.id).unwrap();
        serde_json::from_str(&report.body).unwrap()
    }

    #[test]
    fn the_results_carry_the_run_s_deferrals_and_the_pending_work() {
        let (_folder, store) = Store::scratch();
        let run = RunRecord::begun("run-1", CheckinKind::Recurring, Trigger::Schedule, at(0));
        store.begin_run(&run, 1).unwrap();
        let body = spooled(&store, &run);
        assert_eq!((&body["deferrals"], &body["pending_work"]), (&json!([]), &json!([])), "none: empty arrays");
        assert_eq!(body["run_id"], "run-1");
        assert_eq!(body["run"]["id"], "run-1");

        let other = RunRecord::begun("run-0", CheckinKind::Recurring, Trigger::Schedule, at(0));
        store.begin_run(&other, 1).unwrap();
        let deferral = |run_id: &str, minute, choice: &str| Deferral {
            run_id: run_id.into(),
            item_id: "li-os".into(),
            at: at(minute),
            user: "ada".into(),
            choice: choice.into(),
            reason: "the person chose Later".into(),
        };
        store.record_deferral(&deferral("run-0", 1, "later")).unwrap();
        store.record_deferral(&deferral("run-1", 2, "later")).unwrap();
        store.record_deferral(&deferral("run-1", 3, "no_answer")).unwrap();
        let work = PendingWork {
            item_id: "li-os".into(),
            item_name: "macOS updates".into(),
            action: "install macOS Sequoia 15.2 and restart".into(),
            subject: "15.2".into(),
            deadline: Some(at(30)),
            state: "deferred by ada (1 of 3)".into(),
            notice_shown_at: Some(at(3)),
            deferrals_used: 1,
            countdown_ends_at: None,
            updated_at: at(3),
        };
        store.save_pending_work(&work).unwrap();
        store.spool_remove("run-1").unwrap();
        let body = spooled(&store, &run);
        let expected = json!([
            { "item_id": "li-os", "at": "2026-12-07T09:02:00Z", "user": "ada", "choice": "later",
              "reason": "the person chose Later" },
            { "item_id": "li-os", "at": "2026-12-07T09:03:00Z", "user": "ada", "choice": "no_answer",
              "reason": "the person chose Later" },
        ]);
        assert_eq!(body["deferrals"], expected, "only this run's, in order");
        assert_eq!(
            body["pending_work"],
            json!([{ "item_id": "li-os", "item_name": "macOS updates", "action": "install macOS Sequoia 15.2 and restart",
                     "deadline": "2026-12-07T09:30:00Z", "state": "deferred by ada (1 of 3)",
                     "notice_shown_at": "2026-12-07T09:03:00Z", "deferrals_used": 1, "countdown_ends_at": null,
                     "updated_at": "2026-12-07T09:03:00Z" }])
        );
    }
}
