//! The path both app item types share once they decided to install: fetch the
//! installer into the cache, check its sha256, install it by its type, drop it
//! from the cache, and look at what is now at the app's path.

use tokio::time::Instant;

use super::dmg::{self, DiskTools};
use super::error::{AppError, InstallError};
use super::tools::Tools;
use super::{pkg, zip_archive};
use crate::app_bundle::{self, InstalledApp};
use crate::blueprint::{AppPackage, InstallSource};
use crate::downloads::{Downloaded, Downloader, Obtained};
use crate::items::ItemContext;
use crate::tool_runner::Transcript;

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
    context: &mut ItemContext<'_>,
    transcript: &mut Transcript,
) -> Result<Delivered, AppError> {
    (context.on_phase)("download");
    let downloader = Downloader::for_agent(context.paths, context.config, context.deadline, context.cancel);
    tracing::info!(item_id = %context.item_id, url = %package.url, "Download started.");
    let download = downloader.fetch(&package.url, &package.sha256, package.source.as_str()).await?;
    let resumed_from = match download.obtained {
        Obtained::Downloaded { resumed_from } => resumed_from,
        _ => None,
    };
    tracing::info!(
        item_id = %context.item_id, url = %package.url, bytes = download.bytes, resumed_from,
        "Download verified against its sha256."
    );
    (context.on_phase)("install");
    install(package, &download, context, transcript).await?;
    if let Err(error) = std::fs::remove_file(&download.path) {
        tracing::warn!(path = %download.path.display(), error = %error, "Could not remove an installed download.");
    }
    let found = app_bundle::inspect(&package.app.resolve(context.paths));
    Ok(Delivered { download, found })
}

/// Installs the verified file by the package's type.
async fn install(
    package: &AppPackage,
    download: &Downloaded,
    context: &ItemContext<'_>,
    transcript: &mut Transcript,
) -> Result<(), InstallError> {
    let step = format!("installing from the {}", package.source.as_str());
    if context.cancel.is_cancelled() {
        return Err(InstallError::Cancelled { step });
    }
    if Instant::now() >= context.deadline {
        return Err(InstallError::TimedOut { step });
    }
    let destination = package.app.resolve(context.paths);
    let bundle = package.app.bundle_name();
    let commands = &context.config.commands;
    let mut tools = Tools::new(context.tools(), transcript);
    match package.source {
        InstallSource::Zip => {
            let left_free = context.config.downloads.min_free_space;
            zip_archive::install(&download.path, context.root, &destination, bundle, left_free).await
        }
        InstallSource::Pkg => pkg::install(&mut tools, &commands.installer, &download.path, context.root).await,
        InstallSource::Dmg => {
            let disk_tools = DiskTools {
                root: context.root,
                hdiutil: &commands.hdiutil,
                ditto: &commands.ditto,
                left_free: context.config.downloads.min_free_space,
            };
            let mount_point = context.work_dir.join("mount");
            context.run_folder.make_folder(&mount_point)?;
            dmg::install(&mut tools, &disk_tools, &download.path, &mount_point, &destination, bundle).await
        }
    }
}
