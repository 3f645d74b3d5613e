//! The auto app audit, case by case.

use std::path::PathBuf;

use super::*;
use crate::app_bundle::BundleInfo;
use crate::blueprint::{AppLocation, AppPackage, DownloadUrl, InstallSource};
use crate::version::AppVersion;

fn catalog(version: &str) -> AutoApp {
    AutoApp {
        title: "Foo".into(),
        version: AppVersion::parse(version).unwrap(),
        package: AppPackage {
            source: InstallSource::Dmg,
            url: DownloadUrl::File(PathBuf::from("/Foo.dmg")),
            sha256: "0".repeat(64),
            app: AppLocation::InApplications(PathBuf::from("Foo.app")),
            bundle_id: Some("com.example.foo".into()),
        },
    }
}

fn present(identifier: &str, version: Option<&str>) -> InstalledApp {
    InstalledApp::Present(BundleInfo {
        identifier: Some(identifier.to_string()),
        version: version.map(|text| AppVersion::parse(text).unwrap()),
        problem: None,
    })
}

#[test]
fn older_copies_are_updated_and_newer_ones_never_downgraded() {
    let foo = "com.example.foo";
    let cases = [
        ("1.10", InstalledApp::Missing, false, Decision::Install(Reason::FirstInstall)),
        ("1.10", InstalledApp::Missing, true, Decision::Install(Reason::Deleted)),
        ("1.10", present(foo, Some("1.9")), true, Decision::Install(Reason::Update("1.9".into()))),
        ("1.10", present(foo, None), false, Decision::Install(Reason::Update("of unknown version".into()))),
        ("2024.05", present(foo, Some("2024.4")), false, Decision::Install(Reason::Update("2024.4".into()))),
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
