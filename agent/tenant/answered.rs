//! When the tenant last answered a `checkin`: the time its console shows as the
//! device's "last check-in", and what `agent doctor` measures the check-in age by.
//!
//! A check-in that ran while the tenant was down is in the run history but not
//! here, so a Mac that enforces its blueprint every 15 minutes yet has not reached
//! its tenant for three weeks shows as what it is to the tenant: out of control.

use chrono::{DateTime, Utc};

use crate::state::{Store, StoreError, time_text};

/// The `device` key the time is kept under.
const LAST_ANSWERED_CHECKIN_KEY: &str = "tenant_last_answered_checkin_at";

/// Notes that the tenant answered a check-in now. A failure is logged, never fatal.
pub(crate) fn remember(store: &Store) {
    if let Err(error) = store.set_tenant_value(LAST_ANSWERED_CHECKIN_KEY, Some(&time_text(Utc::now()))) {
        tracing::error!(error = %error, "Cannot record that the tenant answered the check-in.");
    }
}

/// When the tenant last answered a check-in from this device; `None` when it never
/// did (or only before an agent that kept this).
pub(crate) fn last_answered_checkin(store: &Store) -> Result<Option<DateTime<Utc>>, StoreError> {
    let text = store.tenant_value(LAST_ANSWERED_CHECKIN_KEY)?;
    Ok(text.and_then(|text| DateTime::parse_from_rfc3339(&text).ok()).map(|time| time.with_timezone(&Utc)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_time_is_kept_and_read_back() {
        let (_folder, store) = Store::scratch();
        assert_eq!(last_answered_checkin(&store).unwrap(), None);
        let before = Utc::now();
        remember(&store);
        let answered = last_answered_checkin(&store).unwrap().expect("recorded");
        assert!(answered >= before - chrono::Duration::milliseconds(1) && answered <= Utc::now(), "{answered}");
    }
}
