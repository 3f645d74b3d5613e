//! Builders the app item tests share: a package and an app found at its path.

use std::path::PathBuf;

use crate::app_bundle::{BundleInfo, InstalledApp};
use crate::blueprint::{AppLocation, AppPackage, Blocking, DownloadUrl, InstallSource};
use crate::version::AppVersion;

/// No `blocking_applications` and no `force_install_after`: the app blocks its own install.
pub(crate) static NO_BLOCKING: Blocking = Blocking { applications: None, force_install_after: None };

/// A `source` package for `Foo.app` (`com.example.foo`) in Applications, from `/Foo.<source>`.
pub(crate) fn package(source: InstallSource) -> AppPackage {
    AppPackage {
        source,
        url: DownloadUrl::File(PathBuf::from(format!("/Foo.{}", source.as_str()))),
        sha256: "0".repeat(64),
        app: AppLocation::InApplications(PathBuf::from("Foo.app")),
        bundle_id: Some("com.example.foo".into()),
        signature: None,
    }
}

/// An app with bundle id `identifier` and, when readable, `version`.
pub(crate) fn present(identifier: &str, version: Option<&str>) -> InstalledApp {
    InstalledApp::Present(BundleInfo {
        identifier: Some(identifier.to_string()),
        version: version.map(|text| AppVersion::parse(text).unwrap()),
        problem: None,
    })
}
