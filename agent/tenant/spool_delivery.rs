//! Sending the spool: every due report, oldest first, stopping at the first the
//! tenant did not take (so order holds); a failed send waits out a backoff that
//! doubles per failure, a report the tenant refused for good is parked.

use std::time::Duration;

use chrono::Utc;

use super::client::{TenantClient, TenantError};
use super::session::Session;
use super::token::record_token_outcome;
use crate::config::AgentConfig;
use crate::paths::AgentPaths;
use crate::state::{Store, StoreError};

/// The first wait after a failed send, doubled per failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(60);
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 60 * 60);

/// Sends every waiting report now, outside a check-in (`agent update-mdm`): oldest
/// first, backoff ignored since someone asked for it now. Nothing happens
/// without a tenant; a failure is logged and the reports stay in the spool.
pub(super) async fn flush_now(paths: &AgentPaths, config: &AgentConfig, store: &Store) {
    match TenantClient::for_device(paths, config) {
        Ok(Some(mut client)) => {
            if config.tenant.enrollment_secret.is_some() {
                let facts = crate::inventory::cheap_facts(paths, config, crate::inventory::Platform::current()).await;
                match super::enrollment::enroll_body(store, &facts) {
                    Ok(body) => client.set_enrollment(body),
                    Err(error) => tracing::error!(error = %error, "Cannot read the device id for an enrollment."),
                }
            }
            send_spool(paths, client, store, true).await
        }
        Ok(None) => {}
        Err(error) => {
            tracing::error!(error = %error, "Cannot set up the tenant client; the reports wait in the spool.")
        }
    }
}

/// Sends the due reports with `client` (all of them when `ignore_backoff`), with
/// the `401` retry, and logs what is left.
pub(super) async fn send_spool(paths: &AgentPaths, client: TenantClient, store: &Store, ignore_backoff: bool) {
    let mut session = Session::new(paths, client);
    session.enroll_if_needed().await;
    if let Err(error) = session.flush(store, ignore_backoff).await {
        tracing::error!(error = %error, "Cannot flush the spool.");
    }
    // A check-in was counted at its start; a success here still clears the count.
    if let Err(error) = record_token_outcome(store, session.outcome, false) {
        tracing::error!(error = %error, "Cannot record the token's outcome.");
    }
    log_spool(store);
}

/// Says what is left in the spool, if anything.
fn log_spool(store: &Store) {
    match store.spool_counts().and_then(|counts| Ok((counts, store.spool_next_attempt()?))) {
        Ok(((0, 0), _)) => {}
        Ok(((waiting, parked), next)) => {
            let next = next.map(crate::state::time_text).unwrap_or_else(|| "the next check-in".to_string());
            tracing::info!(waiting, parked, next_attempt = %next, "Reports remain in the spool.");
        }
        Err(error) => tracing::error!(error = %error, "Cannot read the spool."),
    }
}

impl Session<'_> {
    /// Sends due reports oldest first; stops at the first one the tenant did not
    /// take (so order holds), parks the ones it refused for good.
    async fn flush(&mut self, store: &Store, ignore_backoff: bool) -> Result<(), StoreError> {
        for report in store.spool_due(Utc::now(), ignore_backoff)? {
            let mut result = self.client.post_report(&report.path, &report.body).await;
            if matches!(result, Err(TenantError::Unauthorized)) && self.recover().await {
                result = self.client.post_report(&report.path, &report.body).await;
            }
            match self.settle(result) {
                Ok(()) => {
                    store.spool_remove(&report.report_id)?;
                    tracing::info!(report_id = %report.report_id, path = %report.path, "Report sent to the tenant.");
                }
                Err(error) if error.parks_report() => {
                    store.spool_park(&report.report_id, &error.to_string())?;
                    tracing::error!(report_id = %report.report_id, error = %error, "The tenant refused the report; it is kept aside and not sent again.");
                }
                Err(error) => {
                    let wait = backoff(report.attempts + 1, crate::backoff::jitter());
                    let next = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                    store.spool_retry_later(&report.report_id, next, &error.to_string())?;
                    tracing::warn!(report_id = %report.report_id, error = %error, retry_in = %humantime::format_duration(wait), "Report not sent; it waits in the spool.");
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// The wait before attempt `attempt` (1 = the first retry): doubling from
/// [`FIRST_BACKOFF`], capped at [`MAX_BACKOFF`], minus up to half at random
/// (`jitter` in 0..1) so a fleet that lost its tenant does not come back at once.
pub(crate) fn backoff(attempt: u32, jitter: f64) -> Duration {
    crate::backoff::pause_after(attempt, FIRST_BACKOFF, MAX_BACKOFF, jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_and_jitter_only_shortens_it() {
        assert_eq!(backoff(1, 0.0), Duration::from_secs(60));
        assert_eq!(backoff(2, 0.0), Duration::from_secs(120));
        assert_eq!(backoff(4, 0.0), Duration::from_secs(480));
        assert_eq!(backoff(20, 0.0), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX, 0.0), MAX_BACKOFF);
        assert_eq!(backoff(1, 1.0), Duration::from_secs(30));
        for _ in 0..100 {
            let wait = backoff(3, crate::backoff::jitter());
            assert!(wait > Duration::from_secs(120) && wait <= Duration::from_secs(240), "{wait:?}");
        }
    }
}
