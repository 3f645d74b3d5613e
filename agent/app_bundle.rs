//! What an installed `.app` says about itself, read from its `Contents/Info.plist`.
//!
//! Apps ship that plist in XML or binary form (Xcode writes binary); the `plist`
//! crate reads both. Only the keys app enforcement needs are kept: the bundle
//! identifier, to be sure the app at a path is the expected one, and the version
//! shown to users (`CFBundleShortVersionString`), falling back to the build
//! number (`CFBundleVersion`) for the rare app without one.

use std::path::{Path, PathBuf};

use crate::version::AppVersion;

/// The app at a path, as the audit found it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum InstalledApp {
    /// Nothing is at the path.
    Missing,
    /// A bundle is there; what its `Info.plist` says (fields absent when unreadable).
    Present(BundleInfo),
}

/// The keys of an app's `Info.plist` that enforcement reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct BundleInfo {
    /// `CFBundleIdentifier`, such as `org.mozilla.firefox`.
    pub identifier: Option<String>,
    /// `CFBundleShortVersionString`, else `CFBundleVersion`, when it reads as a version.
    pub version: Option<AppVersion>,
    /// Why the plist or its version could not be read, for messages.
    pub problem: Option<String>,
}

/// How the app at a path compares with what an item expects, before versions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fit<'a> {
    /// Nothing is there.
    Missing,
    /// A bundle is there but its `Info.plist` cannot be read: a damaged copy.
    Damaged(&'a str),
    /// The bundle has another identifier (shown, or `none`) than the expected one.
    Foreign(&'a str),
    /// The expected app (or any app, when no identifier is expected), and its version if readable.
    Expected(Option<&'a AppVersion>),
}

/// Places `found` against the `expected` bundle identifier, if any.
pub(crate) fn fit<'a>(found: &'a InstalledApp, expected: Option<&str>) -> Fit<'a> {
    let InstalledApp::Present(info) = found else {
        return Fit::Missing;
    };
    if info.identifier.is_none() && info.version.is_none() {
        return Fit::Damaged(info.problem.as_deref().unwrap_or("its Info.plist cannot be read"));
    }
    match (expected, info.identifier.as_deref()) {
        (Some(expected), Some(identifier)) if identifier != expected => Fit::Foreign(identifier),
        (Some(_), None) => Fit::Foreign("none"),
        _ => Fit::Expected(info.version.as_ref()),
    }
}

/// A version for messages: the version, or "of unknown version".
pub(crate) fn version_text(version: Option<&AppVersion>) -> String {
    version.map_or_else(|| "of unknown version".to_string(), ToString::to_string)
}

/// Why an `Info.plist` could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BundleError {
    /// The file is missing, not a plist, or over the limits of `structured_input`
    /// (the error names the file).
    #[error(transparent)]
    Unreadable(crate::structured_input::StructuredInputError),
    /// The plist is not a dictionary.
    #[error("{} is not a dictionary", path.display())]
    NotADictionary {
        /// The `Info.plist`.
        path: PathBuf,
    },
}

/// Looks at the app bundle at `app`. A bundle whose plist cannot be read is
/// still present: its [`BundleInfo::problem`] says why nothing else is known.
pub(crate) fn inspect(app: &Path) -> InstalledApp {
    if std::fs::symlink_metadata(app).is_err() {
        return InstalledApp::Missing;
    }
    match read_info(app) {
        Ok(info) => InstalledApp::Present(info),
        Err(error) => InstalledApp::Present(BundleInfo { problem: Some(error.to_string()), ..BundleInfo::default() }),
    }
}

/// Reads `Contents/Info.plist` of the bundle at `app`.
pub(crate) fn read_info(app: &Path) -> Result<BundleInfo, BundleError> {
    let path = app.join("Contents/Info.plist");
    let value = crate::structured_input::read_plist_file(&path, crate::structured_input::InputKind::InfoPlist)
        .map_err(BundleError::Unreadable)?;
    let dictionary = value.as_dictionary().ok_or(BundleError::NotADictionary { path })?;
    let text = |key: &str| dictionary.get(key).and_then(plist::Value::as_string).map(str::trim).map(str::to_string);
    let identifier = text("CFBundleIdentifier").filter(|identifier| !identifier.is_empty());
    let written = text("CFBundleShortVersionString").filter(|version| !version.is_empty());
    let written = written.or_else(|| text("CFBundleVersion").filter(|version| !version.is_empty()));
    let (version, problem) = match written.as_deref().map(AppVersion::parse) {
        None => (None, Some("its Info.plist has no CFBundleShortVersionString".to_string())),
        Some(Ok(version)) => (Some(version), None),
        Some(Err(error)) => (None, Some(format!("its Info.plist version {error}"))),
    };
    Ok(BundleInfo { identifier, version, problem })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle_with(folder: &Path, entries: &[(&str, &str)], binary: bool) -> PathBuf {
        let app = folder.join("Foo.app");
        std::fs::create_dir_all(app.join("Contents")).unwrap();
        let mut dictionary = plist::Dictionary::new();
        for (key, value) in entries {
            dictionary.insert((*key).to_string(), plist::Value::String((*value).to_string()));
        }
        let path = app.join("Contents/Info.plist");
        let value = plist::Value::Dictionary(dictionary);
        if binary { value.to_file_binary(&path) } else { value.to_file_xml(&path) }.unwrap();
        app
    }

    #[test]
    fn xml_and_binary_plists_read_alike() {
        let folder = tempfile::tempdir().unwrap();
        for binary in [false, true] {
            let entries = [("CFBundleIdentifier", "com.example.foo"), ("CFBundleShortVersionString", "1.10.0")];
            let app = bundle_with(folder.path(), &entries, binary);
            let first_bytes = std::fs::read(app.join("Contents/Info.plist")).unwrap();
            assert_eq!(first_bytes.starts_with(b"bplist"), binary);
            let info = read_info(&app).unwrap();
            assert_eq!(info.identifier.as_deref(), Some("com.example.foo"));
            assert_eq!(info.version.unwrap().as_str(), "1.10.0");
            assert_eq!(info.problem, None);
        }
    }

    #[test]
    fn a_plist_written_by_xcode_is_read() {
        let folder = tempfile::tempdir().unwrap();
        let app = folder.path().join("Xcode.app");
        std::fs::create_dir_all(app.join("Contents")).unwrap();
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>CFBundleExecutable</key>
	<string>Xcode</string>
	<key>CFBundleIdentifier</key>
	<string>com.apple.dt.Xcode</string>
	<key>CFBundleShortVersionString</key>
	<string>15.4</string>
	<key>CFBundleVersion</key>
	<string>22622</string>
	<key>LSMinimumSystemVersion</key>
	<string>14.0</string>
</dict>
</plist>
"#;
        std::fs::write(app.join("Contents/Info.plist"), xml).unwrap();
        let info = read_info(&app).unwrap();
        assert_eq!(info.identifier.as_deref(), Some("com.apple.dt.Xcode"));
        assert_eq!(info.version.unwrap(), AppVersion::parse("15.4").unwrap());
    }

    #[test]
    fn the_build_number_stands_in_for_a_missing_short_version() {
        let folder = tempfile::tempdir().unwrap();
        let app = bundle_with(folder.path(), &[("CFBundleVersion", "2024.05")], true);
        assert_eq!(read_info(&app).unwrap().version.unwrap().as_str(), "2024.05");
        let app = bundle_with(folder.path(), &[("CFBundleIdentifier", "x")], false);
        let info = read_info(&app).unwrap();
        assert_eq!(info.version, None);
        assert!(info.problem.unwrap().contains("no CFBundleShortVersionString"));
    }

    #[test]
    fn a_bundle_fits_by_its_identifier() {
        let version = AppVersion::parse("2.0").unwrap();
        let app = |identifier: Option<&str>, version: Option<AppVersion>| {
            InstalledApp::Present(BundleInfo { identifier: identifier.map(str::to_string), version, problem: None })
        };
        let foo = app(Some("com.example.foo"), Some(version.clone()));
        assert_eq!(fit(&InstalledApp::Missing, Some("com.example.foo")), Fit::Missing);
        assert_eq!(fit(&foo, Some("com.example.foo")), Fit::Expected(Some(&version)));
        assert_eq!(fit(&foo, None), Fit::Expected(Some(&version)), "any app fits when no identifier is asked for");
        assert_eq!(fit(&foo, Some("com.example.bar")), Fit::Foreign("com.example.foo"));
        assert_eq!(fit(&app(None, Some(version.clone())), Some("com.example.foo")), Fit::Foreign("none"));
        let unreadable = InstalledApp::Present(BundleInfo { problem: Some("broken".into()), ..BundleInfo::default() });
        assert_eq!(fit(&unreadable, None), Fit::Damaged("broken"));
        assert_eq!(version_text(None), "of unknown version");
    }

    #[test]
    fn missing_and_broken_bundles_are_told_apart() {
        let folder = tempfile::tempdir().unwrap();
        assert_eq!(inspect(&folder.path().join("None.app")), InstalledApp::Missing);
        let broken = folder.path().join("Broken.app");
        std::fs::create_dir_all(broken.join("Contents")).unwrap();
        std::fs::write(broken.join("Contents/Info.plist"), "not a plist").unwrap();
        let InstalledApp::Present(info) = inspect(&broken) else { panic!("a bundle is there") };
        assert_eq!((info.identifier, info.version), (None, None));
        assert!(info.problem.unwrap().contains("Info.plist"));
    }
}
