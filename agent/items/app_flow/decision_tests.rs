//! The shared audit: the rules both app types follow, and how their data changes them.

use super::super::rules::Wanted;
use super::super::test_items;
use super::*;
use crate::blueprint::{AppPackage, InstallSource};
use crate::version::AppVersion;

fn package() -> AppPackage {
    test_items::package(InstallSource::Zip)
}

fn version(text: &str) -> AppVersion {
    AppVersion::parse(text).unwrap()
}

fn present(version: Option<&str>) -> InstalledApp {
    test_items::present("com.example.foo", version)
}

fn app<'a>(package: &'a AppPackage, enforcement: Enforcement, wanted: Wanted<'a>) -> AppItem<'a> {
    AppItem { package, enforcement, wanted, remembered: "remembered", blocking: &test_items::NO_BLOCKING }
}

#[test]
fn a_newer_app_is_never_replaced_and_an_older_or_unreadable_one_always_is() {
    let (package, two) = (package(), version("2.0"));
    let wanted = [Wanted::Minimum(Some(&two)), Wanted::Catalog { title: "Foo", version: &two }];
    for wanted in wanted {
        let app = app(&package, Enforcement::AuditAndEnforce, wanted);
        for installed in ["2.0", "2.0.0", "2.1", "10.0"] {
            let decision = decide(&app, &present(Some(installed)), true);
            assert!(matches!(decision, Decision::Done(_)), "{wanted:?}, {installed}: {decision:?}");
        }
        for (installed, words) in [(Some("1.9"), "1.9"), (None, "of unknown version")] {
            let expected = Decision::Install(Reason::Outdated(words.into()));
            assert_eq!(decide(&app, &present(installed), true), expected, "{wanted:?}");
        }
    }
    let any = app(&package, Enforcement::AuditAndEnforce, Wanted::Minimum(None));
    assert!(matches!(decide(&any, &present(None), true), Decision::Done(_)));
}

#[test]
fn install_once_is_the_only_rule_that_remembers_an_app_found_in_place_or_leaves_a_deletion_alone() {
    let (package, two) = (package(), version("2.0"));
    let once = app(&package, Enforcement::InstallOnce, Wanted::Minimum(Some(&two)));
    let enforce = app(&package, Enforcement::AuditAndEnforce, Wanted::Minimum(Some(&two)));
    let report_only = app(&package, Enforcement::NoEnforcement, Wanted::Minimum(Some(&two)));
    assert!(matches!(decide(&once, &present(Some("2.0")), false), Decision::AlreadyThere(_)));
    assert!(matches!(decide(&enforce, &present(Some("2.0")), false), Decision::Done(_)));
    assert!(matches!(decide(&once, &InstalledApp::Missing, true), Decision::Done(_)));
    assert_eq!(decide(&enforce, &InstalledApp::Missing, true), Decision::Install(Reason::Deleted));
    assert!(matches!(decide(&report_only, &InstalledApp::Missing, false), Decision::Done(_)));
}

#[test]
fn an_app_offered_in_self_service_installs_as_audit_and_enforce_when_asked_for() {
    let (package, two) = (package(), version("2.0"));
    let offered = app(&package, Enforcement::SelfService, Wanted::Minimum(Some(&two)));
    assert_eq!(decide(&offered, &InstalledApp::Missing, false), Decision::Install(Reason::FirstInstall));
    assert_eq!(decide(&offered, &InstalledApp::Missing, true), Decision::Install(Reason::Deleted));
    assert_eq!(decide(&offered, &present(Some("1.0")), true), Decision::Install(Reason::Outdated("1.0".into())));
    assert!(matches!(decide(&offered, &present(Some("2.0")), true), Decision::Done(_)));
}

#[test]
fn a_failed_audit_script_installs_as_the_enforcement_says() {
    let package = package();
    let current = present(Some("2.0"));
    let install = |reason| Decision::Install(reason);
    let cases = [
        (Enforcement::AuditAndEnforce, &current, true, install(Reason::AuditScript(1))),
        (Enforcement::SelfService, &current, false, install(Reason::AuditScript(1))),
        (Enforcement::AuditAndEnforce, &InstalledApp::Missing, true, install(Reason::Deleted)),
        (Enforcement::InstallOnce, &current, false, install(Reason::AuditScript(1))),
        (
            Enforcement::NoEnforcement,
            &InstalledApp::Missing,
            false,
            Decision::Done("not enforced: the audit script exited 1".into()),
        ),
    ];
    for (enforcement, found, installed_before, expected) in cases {
        let app = app(&package, enforcement, Wanted::Minimum(None));
        assert_eq!(decide_after_audit_script(&app, found, installed_before, 1), expected, "{enforcement:?}");
    }
    let once = app(&package, Enforcement::InstallOnce, Wanted::Minimum(None));
    let left_alone = decide_after_audit_script(&once, &current, true, 1);
    assert!(matches!(left_alone, Decision::Done(message) if message.ends_with("(install once)")));
    let foreign = test_items::present("com.other", Some("9"));
    let enforce = app(&package, Enforcement::AuditAndEnforce, Wanted::Minimum(None));
    assert!(matches!(decide_after_audit_script(&enforce, &foreign, true, 1), Decision::Refuse(_)));
}
