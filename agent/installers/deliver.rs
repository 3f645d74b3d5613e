//! The path an app takes once its item decided to install it: fetch the
//! installer into the cache, check its sha256, install it by its type, drop it
//! from the cache, and look at what is now at the app's path.
//!
//! The item says what the install needs in a [`Delivery`]; nothing here knows
//! what an item is.

use std::path::PathBuf;

use tokio::time::Instant;

use super::dmg::{self, DiskImage};
use super::error::{AppError, InstallError};
use super::signature::{self, SignatureCheck};
use super::tools::Tools;
use super::{pkg, zip_archive};
use crate::app_bundle::{self, InstalledApp};
use crate::blueprint::{AppPackage, InstallSource};
use crate::config::AgentConfig;
use crate::downloads::{Downloaded, Downloader, Obtained};
use crate::paths::AgentPaths;
use crate::safe_path::SafePathError;
use crate::tool_runner::{ToolRunner, Transcript};

/// What an install needs from the item that asks for it.
pub(crate) struct Delivery<'a> {
    /// The item's id, for log lines.
    pub item_id: &'a str,
    /// Where the download cache and the Applications folder are.
    pub paths: &'a AgentPaths,
    /// The download bounds, the tools' paths (`installer`, `hdiutil`, `ditto`,
    /// and `pkgutil`, `codesign`, `spctl` for the signature checks) and
    /// the space an install leaves free (`downloads.min_free_space`).
    pub config: &'a AgentConfig,
    /// How the tools run: from the agent's root (which the app's place is
    /// inside), until the item's deadline, stopped by the agent's shutdown; the
    /// download keeps the same deadline and shutdown.
    pub tools: ToolRunner<'a>,
    /// Makes an empty folder to mount a disk image at and says where it is;
    /// called for a dmg only.
    pub mount_point: &'a dyn Fn() -> Result<PathBuf, SafePathError>,
    /// Told the name of each phase as it starts: `download`, then `install`.
    pub on_phase: &'a mut dyn FnMut(&str),
}

/// What an install did, for the item's message and its checks.
#[derive(Debug)]
pub(crate) struct Delivered {
    /// The verified installer that was used.
    pub download: Downloaded,
    /// The app at its path after the install.
    pub found: InstalledApp,
}

/// Downloads, verifies and installs `package`; tool output goes to `transcript`.
pub(crate) async fn deliver(
    package: &AppPackage,
    delivery: Delivery<'_>,
    transcript: &mut Transcript,
) -> Result<Delivered, AppError> {
    (delivery.on_phase)("download");
    let (item_id, tools) = (delivery.item_id, delivery.tools);
    let downloader = Downloader::for_agent(delivery.paths, delivery.config, tools.deadline, tools.cancel);
    tracing::info!(item_id = %item_id, url = %package.url, "Download started.");
    let download = downloader.fetch(&package.url, &package.sha256, package.source.as_str()).await?;
    let resumed_from = match download.obtained {
        Obtained::Downloaded { resumed_from } => resumed_from,
        _ => None,
    };
    tracing::info!(
        item_id = %item_id, url = %package.url, bytes = download.bytes, resumed_from,
        "Download verified against its sha256."
    );
    (delivery.on_phase)("install");
    install(package, &download, &delivery, transcript).await?;
    if let Err(error) = std::fs::remove_file(&download.path) {
        tracing::warn!(path = %download.path.display(), error = %error, "Could not remove an installed download.");
    }
    let found = app_bundle::inspect(&package.app.resolve(delivery.paths));
    Ok(Delivered { download, found })
}

/// Installs the verified file by the package's type.
async fn install(
    package: &AppPackage,
    download: &Downloaded,
    delivery: &Delivery<'_>,
    transcript: &mut Transcript,
) -> Result<(), InstallError> {
    let step = format!("installing from the {}", package.source.as_str());
    let tools = delivery.tools;
    if tools.cancel.is_cancelled() {
        return Err(InstallError::Cancelled { step });
    }
    if Instant::now() >= tools.deadline {
        return Err(InstallError::TimedOut { step });
    }
    let destination = package.app.resolve(delivery.paths);
    let bundle = package.app.bundle_name();
    let commands = &delivery.config.commands;
    let left_free = delivery.config.downloads.min_free_space;
    let check = package.signature.as_ref().map(|required| SignatureCheck { required, commands });
    match package.source {
        InstallSource::Zip => {
            let archive =
                zip_archive::Archive { archive: &download.path, destination: &destination, bundle, left_free };
            zip_archive::install(&mut Tools::new(tools, transcript), &archive, check).await
        }
        InstallSource::Pkg => {
            if let Some(check) = check {
                signature::check_package(&mut Tools::new(tools, transcript), check, &download.path).await?;
            }
            pkg::install(tools, &commands.installer, &download.path, transcript).await
        }
        InstallSource::Dmg => {
            let mount_point = (delivery.mount_point)()?;
            let image = DiskImage {
                image: &download.path,
                mount_point: &mount_point,
                destination: &destination,
                bundle,
                root: tools.root,
                hdiutil: &commands.hdiutil,
                ditto: &commands.ditto,
                left_free,
                signature: check,
            };
            dmg::install(&mut Tools::new(tools, transcript), &image).await
        }
    }
}
