use super::*;
use crate::inventory::{Certificate, test_certificate};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("a valid time in the test")
}

/// An identity (or plain certificate) valid from `from` to `to`.
fn certificate(name: &str, from: &str, to: &str, is_identity: bool) -> Certificate {
    Certificate {
        common_name: Some(name.to_string()),
        data_base64: STANDARD.encode(test_certificate(name, at(from), at(to))),
        is_identity,
        sha1: None,
        sha256: None,
    }
}

fn enrolled(on: &str, certificates: Vec<Certificate>) -> Result<Option<Inventory>, String> {
    Ok(Some(Inventory {
        collected_at: at("2026-11-25T08:00:00Z"),
        mdm_profile_installed: Some(true),
        mdm_enrolled_at: Some(at(on)),
        certificates,
        ..Inventory::default()
    }))
}

const NOW: &str = "2026-11-26T12:00:00Z";

#[test]
fn the_profile_is_installed_missing_or_unknown() {
    let with = |installed: Option<bool>| {
        Ok(Some(Inventory {
            collected_at: at("2026-11-25T08:00:00Z"),
            mdm_profile_installed: installed,
            ..Inventory::default()
        }))
    };
    let cases = [
        (
            enrolled("2025-01-10T09:00:00Z", Vec::new()),
            Verdict::Pass,
            "installed on 2025-01-10 (inventory of 2026-11-25)",
        ),
        (with(Some(true)), Verdict::Pass, "installed, date unknown"),
        (with(Some(false)), Verdict::Fail, "not installed (inventory of 2026-11-25)"),
        (with(None), Verdict::Warn, "unknown: the inventory could not read the profiles"),
        (Ok(None), Verdict::Warn, "unknown: no inventory"),
        (Err("permission denied".to_string()), Verdict::Fail, "cannot read the saved inventory"),
    ];
    for (inventory, verdict, value) in cases {
        let finding = mdm_profile(&inventory);
        assert_eq!((finding.verdict, finding.value.as_str()).0, verdict, "{}", finding.value);
        assert!(finding.value.contains(value), "{} lacks {value}", finding.value);
    }
}

#[test]
fn without_the_certificate_the_expiry_is_enrollment_plus_two_years() {
    let cases = [
        ("2025-06-01T00:00:00Z", Verdict::Pass, "expires on 2027-06-01 (estimated: enrolled 2025-06-01 + 730d)"),
        ("2024-12-20T00:00:00Z", Verdict::Warn, "expires on 2026-12-20, in 23 days"),
        ("2024-11-01T00:00:00Z", Verdict::Fail, "expired on 2026-11-01 (estimated: enrolled 2024-11-01 + 730d)"),
        ("2023-03-15T00:00:00Z", Verdict::Fail, "expired on 2025-03-14"),
    ];
    for (on, verdict, value) in cases {
        let finding = mdm_certificate(&enrolled(on, Vec::new()), at(NOW), &Doctor::default());
        assert_eq!(finding.verdict, verdict, "{on}: {}", finding.value);
        assert!(finding.value.contains(value), "{} lacks {value}", finding.value);
        assert_eq!(finding.fix.is_some(), verdict != Verdict::Pass);
    }
}

#[test]
fn the_identity_issued_at_enrollment_gives_the_real_expiry() {
    let on = "2026-01-10T09:00:00Z";
    let doctor = Doctor::default();
    // A one-year identity issued at enrollment: expired, though enrollment + 2 years is not.
    let short = certificate("Mac (C02FK3ZXQ6L4)", "2026-01-10T08:59:00Z", "2026-11-20T00:00:00Z", true);
    let finding = mdm_certificate(&enrolled(on, vec![short.clone()]), at(NOW), &doctor);
    assert_eq!(finding.verdict, Verdict::Fail, "{}", finding.value);
    assert_eq!(finding.value, "expired on 2026-11-20 (identity \"Mac (C02FK3ZXQ6L4)\")");

    // Certificates that are not the enrollment's are left alone: a plain certificate
    // issued then, an identity issued long before (a Wi-Fi identity), and macOS's own.
    let others = vec![
        certificate("Example Root", "2026-01-10T09:00:00Z", "2026-02-01T00:00:00Z", false),
        certificate("Wi-Fi", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z", true),
        certificate("com.apple.systemdefault", "2020-01-01T00:00:00Z", "2040-01-01T00:00:00Z", true),
    ];
    let finding = mdm_certificate(&enrolled(on, others.clone()), at(NOW), &doctor);
    assert_eq!(finding.verdict, Verdict::Pass, "{}", finding.value);
    assert!(finding.value.contains("estimated"), "{}", finding.value);

    // Of several candidates, the one issued nearest the enrollment wins.
    let long = certificate("Renewed", "2026-01-11T08:00:00Z", "2028-01-11T00:00:00Z", true);
    let mut all = others;
    all.extend([long, short]);
    let finding = mdm_certificate(&enrolled(on, all), at(NOW), &doctor);
    assert_eq!(finding.value, "expired on 2026-11-20 (identity \"Mac (C02FK3ZXQ6L4)\")");
}

#[test]
fn the_certificate_is_not_judged_without_an_installed_profile() {
    let doctor = Doctor::default();
    let not_installed = Ok(Some(Inventory { mdm_profile_installed: Some(false), ..Inventory::default() }));
    let cases = [
        (Ok(None), Verdict::Skipped),
        (not_installed, Verdict::Skipped),
        (Ok(Some(Inventory { mdm_profile_installed: Some(true), ..Inventory::default() })), Verdict::Warn),
    ];
    for (inventory, verdict) in cases {
        assert_eq!(mdm_certificate(&inventory, at(NOW), &doctor).verdict, verdict);
    }
}
