//! The Self Service app, `/Applications/Endpoint Self Service.app`: a minimal bundle
//! whose executable runs `/usr/local/bin/agent self-service open` as the person who
//! opened it, so people find Self Service in Launchpad and Spotlight.
//!
//! ```text
//! /Applications                                  0775 root:admin (as macOS has it)
//!   Endpoint Self Service.app/                   0755 root:wheel
//!     Contents/                                  0755 root:wheel
//!       Info.plist      pkg/self-service-app/Info.plist, filled in   0644 root:wheel
//!       PkgInfo         APPL????                                      0644 root:wheel
//!       MacOS/                                   0755 root:wheel
//!         Endpoint Self Service   pkg/self-service-app/launcher      0755 root:wheel
//! ```
//!
//! Nothing in the bundle is writable by anyone but root: every person on the Mac
//! runs its executable. The checks here serve both the build (the filled-in
//! Info.plist must pass before it is packaged) and `package verify`.

use plist::Value;

use crate::product::MINIMUM_MACOS;
use crate::templates::{TemplateError, fill};
use crate::tree::{ADMIN_GROUP, FileTree, TreeError};

/// The folder the app goes into.
pub const APPLICATIONS_PATH: &str = "./Applications";
/// The bundle.
pub const APP_PATH: &str = "./Applications/Endpoint Self Service.app";
/// The bundle's `Contents` folder.
pub const CONTENTS_PATH: &str = "./Applications/Endpoint Self Service.app/Contents";
/// The folder holding the executable.
pub const MACOS_PATH: &str = "./Applications/Endpoint Self Service.app/Contents/MacOS";
/// The bundle's Info.plist.
pub const INFO_PLIST_PATH: &str = "./Applications/Endpoint Self Service.app/Contents/Info.plist";
/// The bundle's PkgInfo.
pub const PKG_INFO_PATH: &str = "./Applications/Endpoint Self Service.app/Contents/PkgInfo";
/// The executable, named by `CFBundleExecutable`.
pub const EXECUTABLE_PATH: &str = "./Applications/Endpoint Self Service.app/Contents/MacOS/Endpoint Self Service";
/// The name people see in Launchpad, Spotlight and the Dock, and the executable's name.
pub const APP_NAME: &str = "Endpoint Self Service";
/// `CFBundleIdentifier`.
pub const BUNDLE_IDENTIFIER: &str = "io.endpointagent.selfservice";
/// What the executable runs: the installed agent's Self Service page.
pub const OPEN_COMMAND: &str = "/usr/local/bin/agent self-service open";
/// `Contents/PkgInfo`: the package type (`APPL`) and signature (`????`, none), as
/// `CFBundlePackageType` and `CFBundleSignature` state them.
pub const PKG_INFO: &[u8] = b"APPL????";

/// Why the app could not be put together.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The Info.plist template and the tool disagree.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The filled-in Info.plist is not what the app needs.
    #[error("pkg/self-service-app/Info.plist, filled in: {}", problems.join("; "))]
    InfoPlist { problems: Vec<String> },
}

/// The two files of the bundle that come from `pkg/self-service-app/`.
#[derive(Debug, Clone)]
pub struct AppFiles {
    /// `Contents/Info.plist`, filled in.
    pub info_plist: Vec<u8>,
    /// `Contents/MacOS/Endpoint Self Service`, the launcher script.
    pub executable: Vec<u8>,
}

/// The Info.plist `template` filled in for `version`, checked with a plist parser.
pub fn info_plist(template: &str, version: &str) -> Result<Vec<u8>, AppError> {
    let values = [("VERSION", version), ("MINIMUM_MACOS", MINIMUM_MACOS)];
    let filled = fill("pkg/self-service-app/Info.plist", template, &values)?.into_bytes();
    let problems = check_info_plist(&filled, version);
    if !problems.is_empty() {
        return Err(AppError::InfoPlist { problems });
    }
    Ok(filled)
}

/// Adds `/Applications` and the bundle holding `files` to the payload `tree`.
pub fn add_to(tree: &mut FileTree, files: AppFiles) -> Result<(), TreeError> {
    tree.add_directory(APPLICATIONS_PATH, 0o775, 0, ADMIN_GROUP)?;
    for folder in [APP_PATH, CONTENTS_PATH, MACOS_PATH] {
        tree.add_directory(folder, 0o755, 0, 0)?;
    }
    tree.add_file(INFO_PLIST_PATH, files.info_plist, 0o644)?;
    tree.add_file(PKG_INFO_PATH, PKG_INFO.to_vec(), 0o644)?;
    tree.add_file(EXECUTABLE_PATH, files.executable, 0o755)?;
    Ok(())
}

/// What is wrong with the Info.plist in `bytes` for an app of `version`, one
/// sentence each; empty when it is right.
pub fn check_info_plist(bytes: &[u8], version: &str) -> Vec<String> {
    let info = match Value::from_reader(std::io::Cursor::new(bytes)) {
        Ok(Value::Dictionary(info)) => info,
        Ok(_) => return vec!["the top level is not a dictionary".to_string()],
        Err(error) => return vec![format!("does not parse: {error}")],
    };
    let expected = [
        ("CFBundleIdentifier", BUNDLE_IDENTIFIER),
        ("CFBundleName", APP_NAME),
        ("CFBundleDisplayName", APP_NAME),
        ("CFBundleExecutable", APP_NAME),
        ("CFBundlePackageType", "APPL"),
        ("CFBundleShortVersionString", version),
        ("CFBundleVersion", version),
        ("LSMinimumSystemVersion", MINIMUM_MACOS),
    ];
    let mut problems = Vec::new();
    for (key, value) in expected {
        let stated = info.get(key).and_then(Value::as_string);
        if stated != Some(value) {
            problems.push(format!("{key} is {stated:?}, expected {value:?}"));
        }
    }
    for (key, value) in [("LSUIElement", false), ("NSHighResolutionCapable", true)] {
        let stated = info.get(key).and_then(Value::as_boolean);
        if stated != Some(value) {
            problems.push(format!("{key} is {stated:?}, expected {value}"));
        }
    }
    problems
}

/// What is wrong with the executable's text, one sentence each; empty when it is a
/// script with a line (not a comment) that runs [`OPEN_COMMAND`].
pub fn check_executable(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut problems = Vec::new();
    if !text.starts_with("#!") {
        problems.push("does not start with #!".to_string());
    }
    let runs_it = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .any(|line| line.split_whitespace().collect::<Vec<_>>().join(" ").contains(OPEN_COMMAND));
    if !runs_it {
        problems.push(format!("never runs {OPEN_COMMAND}"));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::product::BINARY_PATH;

    /// The repository's template.
    fn template() -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../pkg/self-service-app/Info.plist");
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn the_template_fills_in_to_a_plist_naming_the_app_and_the_agents_version() {
        let filled = info_plist(&template(), "1.2.3").unwrap();
        assert_eq!(check_info_plist(&filled, "1.2.3"), Vec::<String>::new());
        let info = Value::from_reader(std::io::Cursor::new(&filled)).unwrap().into_dictionary().unwrap();
        assert_eq!(info.get("CFBundleVersion").and_then(Value::as_string), Some("1.2.3"));
        assert_eq!(info.get("CFBundleSignature").and_then(Value::as_string), Some("????"));
        assert_eq!(check_info_plist(&filled, "1.2.4").len(), 2, "both version keys name the agent's version");
    }

    #[test]
    fn a_template_that_does_not_make_the_app_is_refused() {
        let wrong = template().replace(BUNDLE_IDENTIFIER, "com.example.other").replace("<false/>", "<true/>");
        let error = info_plist(&wrong, "1.2.3").unwrap_err().to_string();
        assert!(error.contains("CFBundleIdentifier is Some(\"com.example.other\")"), "{error}");
        assert!(error.contains("LSUIElement is Some(true), expected false"), "{error}");
        let unfilled = template().replace("{{MINIMUM_MACOS}}", "12.0");
        assert!(matches!(info_plist(&unfilled, "1.2.3"), Err(AppError::Template(_))));
        let broken = template().replace("</dict>", "");
        let error = info_plist(&broken, "1.2.3").unwrap_err().to_string();
        assert!(error.contains("does not parse"), "{error}");
    }

    #[test]
    fn the_executable_must_be_a_script_running_the_installed_agent() {
        let launcher = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../pkg/self-service-app/launcher"));
        assert_eq!(check_executable(&launcher.unwrap()), Vec::<String>::new());
        assert_eq!(check_executable(b"#!/bin/sh\nexec  /usr/local/bin/agent   self-service open\n").len(), 0);
        let problems =
            check_executable(b"# /usr/local/bin/agent self-service open\nexec /usr/local/bin/agent self-service\n");
        assert_eq!(problems, ["does not start with #!", "never runs /usr/local/bin/agent self-service open"]);
        assert!(OPEN_COMMAND.starts_with(&format!("{} ", &BINARY_PATH[1..])), "the app runs the binary installed");
    }

    #[test]
    fn the_bundle_is_roots_and_only_roots_to_change() {
        let mut tree = FileTree::new(0o755, 0, 0);
        add_to(&mut tree, AppFiles { info_plist: b"plist".to_vec(), executable: b"#!/bin/sh\n".to_vec() }).unwrap();
        assert_eq!(tree.get(APPLICATIONS_PATH).map(|entry| (entry.mode(), entry.gid)), Some((0o40775, ADMIN_GROUP)));
        assert_eq!(tree.get(EXECUTABLE_PATH).map(|entry| entry.mode()), Some(0o100755));
        assert_eq!(tree.get(PKG_INFO_PATH).map(|entry| entry.data()), Some(PKG_INFO));
        let bundle: Vec<_> = tree.entries().filter(|entry| entry.path.starts_with(APP_PATH)).collect();
        assert_eq!(bundle.len(), 6);
        assert!(bundle.iter().all(|entry| (entry.uid, entry.gid, entry.permissions & 0o022) == (0, 0, 0)));
        assert_eq!(EXECUTABLE_PATH, format!("{MACOS_PATH}/{APP_NAME}"));
    }
}
