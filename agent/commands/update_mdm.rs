//! `agent update-mdm`: the MDM daily check-in. Collects the inventory once (and
//! saves it as the last inventory), answers the six MDM queries from it, prints
//! a summary (or, with `--json`, the report exactly as sent), and sends the
//! report to the tenant through the spool when one is configured.

use tokio_util::sync::CancellationToken;

use super::Settings;
use crate::exit_code;
use crate::inventory::{self, Platform};
use crate::mdm::{self, MdmReport};
use crate::render::{printable, time};
use crate::state::Store;
use crate::tenant::{Delivery, deliver_mdm};
use crate::terminal;

/// Builds, prints and sends the MDM report. Exits 0 when it was sent, or waits
/// in the spool for a tenant that is down, or no tenant is configured; 1 when
/// the tenant refused it for good or no UDID is known.
pub fn update_mdm(settings: &Settings, json: bool) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let cancel = CancellationToken::new();
        let stopper = cancel.clone();
        tokio::spawn(async move {
            super::interrupt::stop_requested().await;
            stopper.cancel();
        });
        let config = &settings.loaded.config;
        let collected = inventory::collect_and_save(&settings.paths, config, Platform::current(), &cancel).await;
        let store = Store::open(&settings.paths.store_file)?;
        let report = mdm::build_report(&collected, &store.device_id()?)?;
        log_report(&report);
        let body = serde_json::to_string(&report)?;
        let delivery = deliver_mdm(&settings.paths, config, &store, &report.report_id, &body).await?;
        if json {
            terminal::print_json(&report)?;
            terminal::print_error(&delivery_line(&delivery, &report.report_id));
        } else {
            terminal::print(&mdm::render(&report))?;
            terminal::print_line(&delivery_line(&delivery, &report.report_id))?;
        }
        Ok(match delivery {
            Delivery::Parked { .. } => exit_code::FAILURE,
            Delivery::NoTenant | Delivery::Sent | Delivery::Waiting { .. } => exit_code::SUCCESS,
        })
    })
}

/// One log line for the report, and one per entry left out.
fn log_report(report: &MdmReport) {
    for left_out in &report.left_out {
        tracing::warn!(request_type = left_out.request_type.as_str(), left_out = %left_out.what, "An MDM response entry was left out: a key Apple requires is unknown.");
    }
    let errors: Vec<&str> = report
        .responses
        .iter()
        .filter(|response| response.status == mdm::Status::Error)
        .map(|response| response.request_type.as_str())
        .collect();
    tracing::info!(report_id = %report.report_id, responses = report.responses.len(), errors = %errors.join(","), "MDM responses built.");
}

/// What became of the report, for people.
fn delivery_line(delivery: &Delivery, report_id: &str) -> String {
    match delivery {
        Delivery::NoTenant => "No tenant is configured (tenant.url): nothing was sent.".to_string(),
        Delivery::Sent => format!("Sent to the tenant (report {report_id})."),
        Delivery::Waiting { reason, next_attempt_at } => {
            let reason = reason.as_deref().map(|reason| format!(" ({})", printable(reason))).unwrap_or_default();
            let next = next_attempt_at.map(|at| format!(" (next attempt {})", time(at))).unwrap_or_default();
            format!(
                "Not sent{reason}: the report waits in the spool and goes with the next check-in or update-mdm{next}."
            )
        }
        Delivery::Parked { reason } => {
            format!("The tenant refused the report ({}); it is kept aside and not sent again.", printable(reason))
        }
    }
}
