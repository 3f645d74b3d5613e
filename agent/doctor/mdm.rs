//! The MDM enrollment, as the last inventory saw it: is the MDM profile
//! installed, and when does its identity certificate expire.
//!
//! The identity certificate is the one the enrollment put in the System keychain:
//! an identity (a certificate with its private key) whose validity starts within
//! [`ISSUED_BEFORE`] before to [`ISSUED_AFTER`] after the MDM profile's install
//! date, the nearest if several. Its own `notAfter` is the expiry. When no such
//! certificate is in the inventory (the keychain could not be read, or the MDM
//! issued it long before the profile was installed), the expiry is estimated as
//! the enrollment date plus `doctor.mdm_certificate_lifetime` (2 years, the rule
//! MDM consoles apply), and the value says it is an estimate.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};

use super::check::{Finding, Verdict};
use super::inventory_age::UNREADABLE;
use super::thresholds::{add, date_text, expiry_verdict};
use crate::config::{Doctor, long_duration_text};
use crate::inventory::{Inventory, Validity, certificate_validity};

/// How long before the profile's install date the identity may have been issued
/// (a certificate backdated, or a profile downloaded before it was installed).
const ISSUED_BEFORE: TimeDelta = TimeDelta::days(2);

/// How long after the install date it may have been issued (SCEP or ACME right
/// after the profile went on).
const ISSUED_AFTER: TimeDelta = TimeDelta::days(1);

/// What to do when the Mac is not enrolled.
const ENROLL: &str = "Enroll the Mac in MDM: `sudo profiles renew -type enrollment` (Automated Device Enrollment) or the MDM's enrollment page; then `sudo agent inventory`.";

/// What to do when the enrollment expired or is about to.
const RENEW: &str = "Re-enroll the Mac: renew the MDM profile from the MDM, or `sudo profiles renew -type enrollment` for Automated Device Enrollment. Once the identity expires the MDM cannot reach the Mac.";

/// What to do when the inventory could not read the profiles.
const READ_PROFILES: &str =
    "Run `sudo agent inventory` and look at its errors: the profile list comes from `profiles -C` (root only).";

/// The MDM profile is installed, as the last inventory says.
pub(crate) fn mdm_profile(inventory: &Result<Option<Inventory>, String>) -> Finding {
    let inventory = match inventory {
        Ok(Some(inventory)) => inventory,
        Ok(None) => return Finding::warn("unknown: no inventory has been collected on this Mac", READ_PROFILES),
        Err(error) => return Finding::fail(format!("cannot read the saved inventory: {error}"), UNREADABLE),
    };
    let seen = format!("inventory of {}", date_text(inventory.collected_at));
    match (inventory.mdm_profile_installed, inventory.mdm_enrolled_at) {
        (Some(true), Some(enrolled)) => Finding::pass(format!("installed on {} ({seen})", date_text(enrolled))),
        (Some(true), None) => Finding::pass(format!("installed, date unknown ({seen})")),
        (Some(false), _) => Finding::fail(format!("not installed ({seen})"), ENROLL),
        (None, _) => {
            Finding::warn(format!("unknown: the inventory could not read the profiles ({seen})"), READ_PROFILES)
        }
    }
}

/// The MDM identity certificate has not expired, and is not about to.
pub(crate) fn mdm_certificate(
    inventory: &Result<Option<Inventory>, String>,
    now: DateTime<Utc>,
    doctor: &Doctor,
) -> Finding {
    let Ok(Some(inventory)) = inventory else { return Finding::skipped("no inventory to read it from") };
    match inventory.mdm_profile_installed {
        Some(true) => {}
        Some(false) => return Finding::skipped("no MDM profile installed"),
        None => return Finding::skipped("the MDM profile is unknown"),
    }
    let Some(enrolled) = inventory.mdm_enrolled_at else {
        return Finding::warn("cannot tell: the inventory has no enrollment date", READ_PROFILES);
    };
    let (expires, source) = match enrollment_identity(inventory, enrolled) {
        Some((name, validity)) => (validity.not_after, format!("identity {name:?}")),
        None => match add(enrolled, doctor.mdm_certificate_lifetime) {
            Some(expires) => (
                expires,
                format!(
                    "estimated: enrolled {} + {}",
                    date_text(enrolled),
                    long_duration_text(doctor.mdm_certificate_lifetime)
                ),
            ),
            None => return Finding::pass(format!("enrolled {}; no expiry in sight", date_text(enrolled))),
        },
    };
    let verdict = expiry_verdict(now, expires, doctor.mdm_certificate_warn_before);
    let when = match verdict {
        Verdict::Fail => format!("expired on {}", date_text(expires)),
        Verdict::Warn => format!("expires on {}, in {} days", date_text(expires), (expires - now).num_days()),
        _ => format!("expires on {}", date_text(expires)),
    };
    Finding::judged(verdict, format!("{when} ({source})"), RENEW)
}

/// The identity certificate the enrollment installed, by its name and validity.
fn enrollment_identity(inventory: &Inventory, enrolled: DateTime<Utc>) -> Option<(String, Validity)> {
    inventory
        .certificates
        .iter()
        .filter(|certificate| certificate.is_identity)
        .filter_map(|certificate| {
            let validity = certificate_validity(&STANDARD.decode(&certificate.data_base64).ok()?)?;
            let issued = validity.not_before;
            let in_window = issued >= enrolled - ISSUED_BEFORE && issued <= enrolled + ISSUED_AFTER;
            let name = certificate.common_name.clone().unwrap_or_else(|| "(no name)".to_string());
            in_window.then_some((name, validity))
        })
        .min_by_key(|(_, validity)| (validity.not_before - enrolled).abs())
}

#[cfg(test)]
#[path = "mdm_tests.rs"]
mod tests;
