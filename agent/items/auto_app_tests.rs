//! The auto app audit, case by case.

use super::*;
use crate::app_bundle::{BundleInfo, InstalledApp};
use crate::blueprint::{AutoApp, Blocking, Enforcement, InstallSource};
use crate::items::app_flow::test_items::{package, present};
use crate::items::app_flow::{Decision, Reason};
use crate::version::AppVersion;

/// The shared audit, under this type's rules.
fn decide(settings: &AutoApp, found: &InstalledApp, installed_before: bool) -> Decision {
    app_flow::decide(&app(settings), found, installed_before)
}

fn catalog(version: &str) -> AutoApp {
    AutoApp {
        title: "Foo".into(),
        version: AppVersion::parse(version).unwrap(),
        package: package(InstallSource::Dmg),
        enforcement: Enforcement::AuditAndEnforce,
        blocking: Blocking::default(),
    }
}

#[test]
fn older_copies_are_updated_and_newer_ones_never_downgraded() {
    let foo = "com.example.foo";
    let cases = [
        ("1.10", InstalledApp::Missing, false, Decision::Install(Reason::FirstInstall)),
        ("1.10", InstalledApp::Missing, true, Decision::Install(Reason::Deleted)),
        ("1.10", present(foo, Some("1.9")), true, Decision::Install(Reason::Outdated("1.9".into()))),
        ("1.10", present(foo, None), false, Decision::Install(Reason::Outdated("of unknown version".into()))),
        ("2024.05", present(foo, Some("2024.4")), false, Decision::Install(Reason::Outdated("2024.4".into()))),
        (
            "1.10",
            present(foo, Some("1.10.0")),
            true,
            Decision::Done("compliant: Foo 1.10.0 is installed, the catalog's version".into()),
        ),
        (
            "1.8",
            present(foo, Some("1.10")),
            true,
            Decision::Done("compliant: Foo 1.10 is newer than the catalog's 1.8; never downgraded".into()),
        ),
        (
            "1.10",
            present("org.other", Some("1.0")),
            true,
            Decision::Refuse(
                "/Applications/Foo.app has bundle id org.other, not the catalog's com.example.foo; it was left alone"
                    .into(),
            ),
        ),
    ];
    for (version, found, installed_before, expected) in cases {
        assert_eq!(decide(&catalog(version), &found, installed_before), expected, "catalog {version}, {found:?}");
    }
    let damaged = InstalledApp::Present(BundleInfo { problem: Some("broken".into()), ..BundleInfo::default() });
    assert_eq!(decide(&catalog("1"), &damaged, true), Decision::Install(Reason::Damaged("broken".into())));
}
