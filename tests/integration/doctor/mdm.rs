//! The MDM profile and its identity certificate, from the saved inventory.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use endpoint_agent::inventory::{Certificate, Inventory};

use super::harness::{
    Installed, assert_check, certificate_der, doctor, record_check_in, save_inventory, without_tenant,
};

/// A device that checked in an hour ago, with an inventory of yesterday saying
/// the MDM profile was installed on `enrolled` and holding `certificates`.
fn enrolled_device(enrolled: DateTime<Utc>, certificates: Vec<Certificate>) -> Installed {
    let installed = Installed::new();
    let device = &installed.device;
    without_tenant(device);
    record_check_in(device, Utc::now() - TimeDelta::hours(1));
    let inventory = Inventory {
        collected_at: Utc::now() - TimeDelta::days(1),
        mdm_profile_installed: Some(true),
        mdm_enrolled_at: Some(enrolled),
        certificates,
        ..Inventory::default()
    };
    save_inventory(device, &inventory);
    installed
}

/// An identity of the System keychain named `name`.
fn identity(name: &str, not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> Certificate {
    Certificate {
        common_name: Some(name.to_string()),
        data_base64: STANDARD.encode(certificate_der(name, not_before, not_after)),
        is_identity: true,
        sha1: None,
        sha256: None,
    }
}

#[test]
fn an_enrollment_older_than_two_years_fails_as_an_expired_certificate() {
    let enrolled = Utc::now() - TimeDelta::days(800);
    let installed = enrolled_device(enrolled, Vec::new());
    let (code, report) = doctor(&installed.device, &[]);
    assert_eq!((code, report["verdict"].as_str()), (1, Some("fail")), "{report:#}");
    assert_check(&report, "mdm_profile", "pass", &format!("installed on {}", enrolled.format("%Y-%m-%d")));
    assert_check(&report, "mdm_certificate", "fail", "expired on");
    assert_check(&report, "mdm_certificate", "fail", "estimated: enrolled");
    assert_check(&report, "mdm_certificate", "fail", "+ 730d");
    assert_check(&report, "last_checkin", "pass", "1 hour ago");
    assert_check(&report, "last_inventory", "pass", "24 hours ago");
}

#[test]
fn the_identity_certificate_issued_at_enrollment_gives_the_real_expiry() {
    let enrolled = Utc::now() - TimeDelta::days(400);
    let expired = Utc::now() - TimeDelta::days(10);
    let issued = enrolled - TimeDelta::minutes(5);
    let installed = enrolled_device(enrolled, vec![identity("Mac (C02FK3ZXQ6L4)", issued, expired)]);
    let (code, report) = doctor(&installed.device, &[]);
    assert_eq!(code, 1, "{report:#}");
    let value = format!("expired on {} (identity \"Mac (C02FK3ZXQ6L4)\")", expired.format("%Y-%m-%d"));
    assert_check(&report, "mdm_certificate", "fail", &value);

    let fresh = enrolled_device(Utc::now() - TimeDelta::days(30), Vec::new());
    let (code, report) = doctor(&fresh.device, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_check(&report, "mdm_certificate", "pass", "expires on");
    let soon = ["--set", "doctor.mdm_certificate_lifetime=40d"];
    assert_check(&doctor(&fresh.device, &soon).1, "mdm_certificate", "warn", "in 9 days");
}

#[test]
fn a_mac_without_the_mdm_profile_fails_and_its_certificate_is_not_judged() {
    let installed = Installed::new();
    let device = &installed.device;
    without_tenant(device);
    let inventory = Inventory {
        collected_at: Utc::now() - TimeDelta::hours(2),
        mdm_profile_installed: Some(false),
        ..Inventory::default()
    };
    save_inventory(device, &inventory);
    let (code, report) = doctor(device, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_check(&report, "mdm_profile", "fail", "not installed");
    assert_check(&report, "mdm_certificate", "skipped", "no MDM profile installed");
}
