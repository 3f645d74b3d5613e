//! The agent's own update with a team pinned in `self_update.team_id`: a
//! package signed by another team, unsigned or not notarized is recorded
//! `signature_mismatch` and never installed; without a pin, no update at all.

use super::{
    INSTALL_NOT_NOTARIZED, INSTALL_NOTARIZED, PKG_OTHER_TEAM, PKG_SIGNED, PKG_UNSIGNED, SIGNING_FRAGMENT,
    pin_signing_team,
};
use crate::app_fixtures::{cache_files, recorded};
use crate::support::{Device, check_in};
use crate::tenant::self_update::{installer, offering};

/// The packages the tenant was asked for.
fn package_requests(tenant: &crate::tenant::server::TestTenant) -> usize {
    tenant.seen().iter().filter(|seen| seen.path.starts_with("/packages/")).count()
}

#[test]
fn a_release_signed_by_the_pinned_team_is_checked_then_installed() {
    let device = Device::new();
    let _tenant = offering(&device, "99.0.0", None);
    let set_installer = installer(&device, "exit 0\n");
    check_in(&device, &["--set", &set_installer]);
    let update = &device.status()["agent_update"];
    assert_eq!(update["outcome"], "installed", "{update:#}");
    let checked = recorded(&device, "pkgutil");
    assert_eq!(checked.len(), 1, "{checked:?}");
    let package = checked[0].strip_prefix("--check-signature ").unwrap();
    assert!(package.ends_with(".pkg") && package.contains("/downloads/"), "the verified download: {package}");
    assert_eq!(recorded(&device, "spctl"), [format!("--assess --type install -vv {package}")]);
    assert_eq!(recorded(&device, "installer").len(), 1);
}

#[test]
fn a_package_of_another_team_unsigned_or_not_notarized_is_never_installed() {
    let cases = [
        (
            &PKG_OTHER_TEAM,
            &INSTALL_NOTARIZED,
            "agent 99.0.0: refused the pkg: signed by team XYZ9876543 (\"Developer ID Installer: Other Corp\"), not ABCDE12345; it was not installed",
        ),
        (&PKG_UNSIGNED, &INSTALL_NOTARIZED, "agent 99.0.0: refused the pkg: not signed; it was not installed"),
        (
            &PKG_SIGNED,
            &INSTALL_NOT_NOTARIZED,
            "agent 99.0.0: refused the pkg: not notarized (source=Unnotarized Developer ID); it was not installed",
        ),
    ];
    for (pkgutil, spctl, expected) in cases {
        let device = Device::new();
        let tenant = offering(&device, "99.0.0", None);
        pin_signing_team(&device, pkgutil, spctl);
        let set_installer = installer(&device, "exit 0\n");
        let run = check_in(&device, &["--set", &set_installer]);
        assert_eq!(run["outcome"], "succeeded", "a refused update does not fail the check-in: {run:#}");
        assert_eq!(package_requests(&tenant), 1);
        let update = &device.status()["agent_update"];
        assert_eq!(update["outcome"], "signature_mismatch", "{update:#}");
        assert_eq!(update["message"], expected);
        assert!(recorded(&device, "installer").is_empty(), "{expected}: the installer never ran");
        assert!(cache_files(&device).is_empty(), "the refused package is not kept: {:?}", cache_files(&device));
    }
}

#[test]
fn without_a_pinned_team_the_agent_does_not_update_itself() {
    let device = Device::new();
    let tenant = offering(&device, "99.0.0", None);
    device.write_file(SIGNING_FRAGMENT, "{}");
    let set_installer = installer(&device, "exit 0\n");
    check_in(&device, &["--set", &set_installer]);
    let update = &device.status()["agent_update"];
    assert_eq!(update["outcome"], "signature_mismatch", "{update:#}");
    assert_eq!(
        update["message"],
        "no signing team is pinned (self_update.team_id), so the agent does not update itself"
    );
    assert_eq!(package_requests(&tenant), 0, "nothing is downloaded");
    assert!(recorded(&device, "installer").is_empty());
    pin_signing_team(&device, &PKG_SIGNED, &INSTALL_NOTARIZED);
    check_in(&device, &["--reset-daily", "--set", &set_installer]);
    assert_eq!(device.status()["agent_update"]["outcome"], "installed", "a pinned team lets it update");
    assert_eq!(package_requests(&tenant), 1);
}
