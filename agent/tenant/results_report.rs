//! The results report of a run: spooled at the end of the check-in and sent with
//! every other due report; sent once, directly, when the store cannot take it into
//! the spool. A run a crash cut short is reported when the next check-in closes it.

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
    let body = ResultsBody { device_id: &device_id, run_id: &run.header.id, run, agent_update: agent_update.as_ref() };
    store.spool_add(&run.header.id, RESULTS_PATH, &serde_json::to_string(&body)?, Utc::now())?;
    if let Some(update) = &agent_update {
        store.mark_agent_updates_reported(update.id, &run.header.id)?;
    }
    Ok(())
}

/// Sends the results report of `run` straight to the tenant, once, without the
/// spool (which the store could not take it into); logs what became of it.
async fn send_directly(paths: &AgentPaths, client: TenantClient, store: &Store, run: &RunRecord) {
    let body = store.device_id().map_err(anyhow::Error::from).and_then(|device_id| {
        let body = ResultsBody { device_id: &device_id, run_id: &run.header.id, run, agent_update: None };
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
    if matches!(result, Err(TenantError::Unauthorized)) && session.reload() {
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
