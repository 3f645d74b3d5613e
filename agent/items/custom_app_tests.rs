//! The custom app audit, case by case.

use super::*;
use crate::app_bundle::{BundleInfo, InstalledApp};
use crate::blueprint::{AppScripts, Blocking, CustomApp, Enforcement, InstallSource};
use crate::items::app_flow::test_items::{package, present};
use crate::items::app_flow::{Decision, Reason};
use crate::version::AppVersion;

/// The shared audit, under this type's rules.
fn decide(settings: &CustomApp, found: &InstalledApp, installed_before: bool) -> Decision {
    app_flow::decide(&app(settings), found, installed_before)
}

fn item(enforcement: Enforcement, minimum: Option<&str>) -> CustomApp {
    CustomApp {
        package: package(InstallSource::Zip),
        minimum_version: minimum.map(|text| AppVersion::parse(text).unwrap()),
        enforcement,
        blocking: Blocking::default(),
        scripts: AppScripts::default(),
        restart: false,
    }
}

fn damaged() -> InstalledApp {
    InstalledApp::Present(BundleInfo { problem: Some("cannot read Info.plist".into()), ..BundleInfo::default() })
}

fn done(text: &str) -> Decision {
    Decision::Done(text.to_string())
}

#[test]
fn audit_and_enforce_installs_whatever_is_missing_damaged_or_old() {
    let enforce = item(Enforcement::AuditAndEnforce, Some("2.1"));
    let foo = "com.example.foo";
    let cases = [
        (InstalledApp::Missing, false, Decision::Install(Reason::FirstInstall)),
        (InstalledApp::Missing, true, Decision::Install(Reason::Deleted)),
        (damaged(), true, Decision::Install(Reason::Damaged("cannot read Info.plist".into()))),
        (present(foo, Some("2.0.9")), true, Decision::Install(Reason::Outdated("2.0.9".into()))),
        (present(foo, None), false, Decision::Install(Reason::Outdated("of unknown version".into()))),
        (present(foo, Some("2.1.0")), true, done("compliant: Foo.app 2.1.0 is installed (required 2.1)")),
        (present(foo, Some("2.10")), false, done("compliant: Foo.app 2.10 is installed (required 2.1)")),
        (
            present("com.other", Some("9")),
            true,
            Decision::Refuse(
                "/Applications/Foo.app has bundle id com.other, not the expected com.example.foo; it was left alone"
                    .into(),
            ),
        ),
    ];
    for (found, installed_before, expected) in cases {
        assert_eq!(decide(&enforce, &found, installed_before), expected, "{found:?}, before: {installed_before}");
    }
    let presence_only = item(Enforcement::AuditAndEnforce, None);
    assert_eq!(
        decide(&presence_only, &present(foo, None), true),
        done("compliant: Foo.app of unknown version is installed")
    );
}

#[test]
fn install_once_never_comes_back_after_its_install() {
    let once = item(Enforcement::InstallOnce, Some("2.0"));
    let foo = "com.example.foo";
    assert_eq!(decide(&once, &InstalledApp::Missing, false), Decision::Install(Reason::FirstInstall));
    assert_eq!(
        decide(&once, &InstalledApp::Missing, true),
        done(
            "compliant: the agent installed Foo.app once on this device; it was deleted since and is left alone (install once)"
        )
    );
    assert_eq!(
        decide(&once, &present(foo, Some("1.0")), true),
        done("compliant: the agent installed Foo.app once on this device; Foo.app 1.0 is installed (install once)")
    );
    assert_eq!(
        decide(&once, &present(foo, Some("2.0")), false),
        Decision::AlreadyThere(
            "compliant: Foo.app 2.0 was already installed (required 2.0); install once is satisfied".into()
        )
    );
    assert_eq!(decide(&once, &present(foo, Some("1.0")), false), Decision::Install(Reason::Outdated("1.0".into())));
}

#[test]
fn no_enforcement_only_reports() {
    let report_only = item(Enforcement::NoEnforcement, Some("2.0"));
    let cases = [
        (InstalledApp::Missing, "not enforced: Foo.app is not installed"),
        (present("com.example.foo", Some("1.5")), "not enforced: Foo.app 1.5 is installed, below the required 2.0"),
        (present("com.example.foo", Some("2.5")), "not enforced: Foo.app 2.5 is installed"),
        (
            present("com.other", Some("2.5")),
            "not enforced: Foo.app has bundle id com.other, not the expected com.example.foo",
        ),
        (damaged(), "not enforced: Foo.app is there but cannot read Info.plist"),
    ];
    for (found, expected) in cases {
        assert_eq!(decide(&report_only, &found, true), done(expected));
    }
}
