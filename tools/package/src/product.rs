//! Putting the package together: what goes where on the Mac, the component
//! package's four parts, and the product archive around them.
//!
//! ```text
//! endpoint-agent-X.Y.Z.pkg (XAR)
//!   Distribution                      pkg/Distribution, filled in
//!   endpoint-agent.pkg/
//!     PackageInfo                     pkg/PackageInfo, filled in
//!     Bom                             every Payload path with its mode, owner, size, CRC
//!     Payload                         gzipped odc cpio of the tree below, rooted at /
//!     Scripts                         gzipped odc cpio of preinstall and postinstall
//!
//! Payload: /usr/local/bin/agent                                  0755 root:wheel
//!          /Library/LaunchDaemons/io.endpointagent.agent.plist   0644 root:wheel
//!          /Library/Application Support/EndpointAgent/uninstall.sh 0755 root:wheel
//!          /Applications/Endpoint Self Service.app (app.rs)       root:wheel
//!          with a pinned team: /Library/Application Support/EndpointAgent/
//!                              config.d/00-package.plist (pin.rs)   0644 root:wheel
//!          and the folders above them (/Library/Application Support and
//!          /Applications are root:admin)
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::app::{self, AppError, AppFiles};
use crate::bom::{BomError, bom};
use crate::cpio::{CpioError, gzip, odc_archive};
use crate::pin::{self, PinError};
use crate::templates::{TemplateError, fill};
use crate::tree::{ADMIN_GROUP, FileTree, TreeError};
use crate::xar::{XarNode, xar_archive};

/// The package identifier, launchd label and preferences domain.
pub const IDENTIFIER: &str = "io.endpointagent.agent";
/// The component package's folder inside the product archive.
pub const COMPONENT: &str = "endpoint-agent.pkg";
/// Where the binary lands, as the launchd job starts it.
pub const BINARY_PATH: &str = "./usr/local/bin/agent";
/// Where the launchd job lands.
pub const LAUNCHD_PATH: &str = "./Library/LaunchDaemons/io.endpointagent.agent.plist";
/// Where the uninstaller lands.
pub const UNINSTALL_PATH: &str = "./Library/Application Support/EndpointAgent/uninstall.sh";
/// The oldest macOS the package installs on.
pub const MINIMUM_MACOS: &str = "12.0";

/// Why the package could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// An input file is missing or unreadable.
    #[error("could not read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The version is not semver.
    #[error("version {version:?} is not a semantic version such as 1.2.3")]
    Version { version: String },
    /// Cargo.toml has no `[package]` version.
    #[error("{path}: no version in [package]")]
    NoVersion { path: PathBuf },
    /// A template and the tool disagree.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The Self Service app's Info.plist is not right.
    #[error(transparent)]
    App(#[from] AppError),
    /// The team to pin is not a Team ID.
    #[error(transparent)]
    Pin(#[from] PinError),
    /// A path could not be placed.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// The cpio writer refused an entry.
    #[error(transparent)]
    Cpio(#[from] CpioError),
    /// The Bom writer refused the tree.
    #[error(transparent)]
    Bom(#[from] BomError),
    /// Compressing failed.
    #[error("could not compress: {0}")]
    Compress(#[source] std::io::Error),
    /// The package could not be written.
    #[error("could not write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Everything a build needs.
#[derive(Debug, Clone)]
pub struct BuildInputs {
    /// The repository: `pkg/` and `launchd/` are read from here.
    pub source_dir: PathBuf,
    /// The `agent` binary to ship.
    pub binary: PathBuf,
    /// The package version (semver).
    pub version: String,
    /// Every time stamp in the package (`SOURCE_DATE_EPOCH` for reproducible builds).
    pub timestamp: SystemTime,
    /// Distribution's `hostArchitectures`, such as `arm64,x86_64`.
    pub host_architectures: String,
    /// The Apple Developer Team ID every installing Mac pins for the agent's own
    /// updates (`self_update.team_id` in `config.d/00-package.plist`); `None` ships
    /// no such fragment.
    pub self_update_team_id: Option<String>,
}

/// The component package's parts and the Distribution, before they are archived.
#[derive(Debug, Clone)]
pub struct Parts {
    /// The filled-in Distribution.
    pub distribution: String,
    /// The filled-in PackageInfo.
    pub package_info: String,
    /// The Bom of the payload.
    pub bom: Vec<u8>,
    /// The gzipped Payload archive.
    pub payload: Vec<u8>,
    /// The gzipped Scripts archive.
    pub scripts: Vec<u8>,
}

/// Reads `path`, naming it on failure.
fn read(path: &Path) -> Result<Vec<u8>, BuildError> {
    std::fs::read(path).map_err(|source| BuildError::Read { path: path.to_path_buf(), source })
}

/// The `[package]` version in the Cargo.toml at `path`.
pub fn manifest_version(path: &Path) -> Result<String, BuildError> {
    let text = String::from_utf8_lossy(&read(path)?).into_owned();
    let mut in_package = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        let Some(value) = line.strip_prefix("version").filter(|_| in_package) else { continue };
        if let Some(value) = value.trim_start().strip_prefix('=') {
            return Ok(value.trim().trim_matches('"').to_string());
        }
    }
    Err(BuildError::NoVersion { path: path.to_path_buf() })
}

/// What the package lays down on the Mac, rooted at `/`.
pub fn payload_tree(
    binary: Vec<u8>,
    launchd_job: Vec<u8>,
    uninstall: Vec<u8>,
    app: AppFiles,
) -> Result<FileTree, TreeError> {
    let mut tree = FileTree::new(0o755, 0, 0);
    for (folder, gid) in [
        ("./Library", 0),
        ("./Library/Application Support", ADMIN_GROUP),
        ("./Library/Application Support/EndpointAgent", 0),
        ("./Library/LaunchDaemons", 0),
        ("./usr", 0),
        ("./usr/local", 0),
        ("./usr/local/bin", 0),
    ] {
        tree.add_directory(folder, 0o755, 0, gid)?;
    }
    tree.add_file(BINARY_PATH, binary, 0o755)?;
    tree.add_file(LAUNCHD_PATH, launchd_job, 0o644)?;
    tree.add_file(UNINSTALL_PATH, uninstall, 0o755)?;
    app::add_to(&mut tree, app)?;
    Ok(tree)
}

/// The Scripts archive's tree: `preinstall` and `postinstall`, executable.
pub fn scripts_tree(preinstall: Vec<u8>, postinstall: Vec<u8>) -> Result<FileTree, TreeError> {
    let mut tree = FileTree::new(0o755, 0, 0);
    tree.add_file("./preinstall", preinstall, 0o755)?;
    tree.add_file("./postinstall", postinstall, 0o755)?;
    Ok(tree)
}

/// Seconds since the Unix epoch (0 for earlier times).
fn epoch_seconds(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs()
}

/// Builds the four component parts and the Distribution from the inputs.
pub fn build_parts(inputs: &BuildInputs) -> Result<Parts, BuildError> {
    if semver::Version::parse(&inputs.version).is_err() {
        return Err(BuildError::Version { version: inputs.version.clone() });
    }
    let source = |relative: &str| read(&inputs.source_dir.join(relative));
    let template = |name: &str| -> Result<String, BuildError> {
        Ok(String::from_utf8_lossy(&source(&format!("pkg/{name}"))?).into_owned())
    };
    let app = AppFiles {
        info_plist: app::info_plist(&template("self-service-app/Info.plist")?, &inputs.version)?,
        executable: source("pkg/self-service-app/launcher")?,
    };
    let mut payload = payload_tree(
        read(&inputs.binary)?,
        source("launchd/io.endpointagent.agent.plist")?,
        source("pkg/uninstall.sh")?,
        app,
    )?;
    if let Some(team_id) = &inputs.self_update_team_id {
        pin::add_to(&mut payload, team_id)?;
    }
    let scripts = scripts_tree(source("pkg/scripts/preinstall")?, source("pkg/scripts/postinstall")?)?;
    let seconds = epoch_seconds(inputs.timestamp);
    let install_kilobytes = payload.data_size().div_ceil(1024).to_string();
    let number_of_files = payload.len().to_string();
    let distribution = fill(
        "pkg/Distribution",
        &template("Distribution")?,
        &[
            ("IDENTIFIER", IDENTIFIER),
            ("VERSION", &inputs.version),
            ("INSTALL_KBYTES", &install_kilobytes),
            ("COMPONENT", COMPONENT),
            ("HOST_ARCHITECTURES", &inputs.host_architectures),
            ("MINIMUM_MACOS", MINIMUM_MACOS),
        ],
    )?;
    let package_info = fill(
        "pkg/PackageInfo",
        &template("PackageInfo")?,
        &[
            ("IDENTIFIER", IDENTIFIER),
            ("VERSION", &inputs.version),
            ("NUMBER_OF_FILES", &number_of_files),
            ("INSTALL_KBYTES", &install_kilobytes),
        ],
    )?;
    Ok(Parts {
        distribution,
        package_info,
        bom: bom(&payload, seconds as u32)?,
        payload: gzip(&odc_archive(&payload, seconds)?).map_err(BuildError::Compress)?,
        scripts: gzip(&odc_archive(&scripts, seconds)?).map_err(BuildError::Compress)?,
    })
}

/// The product archive (the `.pkg` file's bytes) holding `parts`.
pub fn product_archive(parts: Parts, timestamp: SystemTime) -> Result<Vec<u8>, BuildError> {
    let file = |name: &str, data: Vec<u8>| XarNode::File { name: name.to_string(), data, permissions: 0o644 };
    let nodes = vec![
        file("Distribution", parts.distribution.into_bytes()),
        XarNode::Directory {
            name: COMPONENT.to_string(),
            permissions: 0o755,
            children: vec![
                file("Bom", parts.bom),
                file("PackageInfo", parts.package_info.into_bytes()),
                file("Payload", parts.payload),
                file("Scripts", parts.scripts),
            ],
        },
    ];
    xar_archive(&nodes, timestamp).map_err(BuildError::Compress)
}

/// The file name of the package for `version`: `endpoint-agent-X.Y.Z.pkg`.
pub fn package_file_name(version: &str) -> String {
    format!("endpoint-agent-{version}.pkg")
}

/// Builds the package and writes it into `output_dir` as
/// `endpoint-agent-X.Y.Z.pkg` (through a temporary file, so a reader never sees half
/// a package). Returns its path.
pub fn write_package(inputs: &BuildInputs, output_dir: &Path) -> Result<PathBuf, BuildError> {
    let bytes = product_archive(build_parts(inputs)?, inputs.timestamp)?;
    let path = output_dir.join(package_file_name(&inputs.version));
    let write_error = |source| BuildError::Write { path: path.clone(), source };
    std::fs::create_dir_all(output_dir).map_err(write_error)?;
    let mut temporary = tempfile::NamedTempFile::new_in(output_dir).map_err(write_error)?;
    std::io::Write::write_all(&mut temporary, &bytes).map_err(write_error)?;
    let readable = std::os::unix::fs::PermissionsExt::from_mode(0o644);
    temporary.as_file().set_permissions(readable).map_err(write_error)?;
    temporary.persist(&path).map_err(|error| write_error(error.error))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_comes_from_the_package_section() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("Cargo.toml");
        std::fs::write(
            &path,
            "[workspace.package]\nversion = \"9.9.9\"\n[package]\nname = \"a\"\nversion = \"1.2.3\"\n",
        )
        .unwrap();
        assert_eq!(manifest_version(&path).unwrap(), "1.2.3");
        std::fs::write(&path, "[package]\nname = \"a\"\n").unwrap();
        assert!(matches!(manifest_version(&path), Err(BuildError::NoVersion { .. })));
    }

    #[test]
    fn the_payload_puts_each_file_where_launchd_and_admins_expect_it() {
        let app = AppFiles { info_plist: b"plist".to_vec(), executable: b"#!/bin/sh".to_vec() };
        let tree = payload_tree(b"bin".to_vec(), b"job".to_vec(), b"un".to_vec(), app).unwrap();
        let agent = tree.get(BINARY_PATH).unwrap();
        assert_eq!((agent.mode(), agent.uid, agent.gid), (0o100755, 0, 0));
        assert_eq!(tree.get(LAUNCHD_PATH).unwrap().mode(), 0o100644);
        assert_eq!(tree.get("./Library/Application Support").unwrap().gid, ADMIN_GROUP);
        assert_eq!(tree.get(app::EXECUTABLE_PATH).unwrap().mode(), 0o100755);
        assert!(tree.entries().all(|entry| entry.uid == 0 && (entry.gid == 0 || entry.gid == ADMIN_GROUP)));
    }
}
