//! Installing from a disk image: attach it read-only and hidden, copy the bundle
//! out with `ditto` (which keeps permissions, symlinks and extended attributes)
//! once it is within the zip limits ([`super::zip_limits`]),
//! make the copy safe ([`super::staged_bundle`]: set-id, sticky and world-write
//! bits cleared, links out of the bundle refused), swap it into place, and
//! detach the image whatever happened in between.

use std::ffi::OsString;
use std::path::Path;

use super::error::InstallError;
use super::placement::{Staging, find_bundle};
use super::staged_bundle;
use super::tools::Tools;
use super::zip_limits;

/// The paths of the two tools a disk image install runs.
pub(super) struct DiskTools<'a> {
    /// The agent's root, which the app's place is inside.
    pub root: &'a Path,
    /// `hdiutil`.
    pub hdiutil: &'a Path,
    /// `ditto`.
    pub ditto: &'a Path,
    /// The bytes the app's volume keeps free after the copy (`downloads.min_free_space`).
    pub left_free: u64,
}

/// Mounts `image` at `mount_point` (a folder already made), puts its `bundle` at `destination`, and
/// detaches it. The detach runs whenever the attach may have mounted something
/// (it succeeded, or it was stopped part way), even when the copy failed.
pub(super) async fn install(
    tools: &mut Tools<'_>,
    paths: &DiskTools<'_>,
    image: &Path,
    mount_point: &Path,
    destination: &Path,
    bundle: &str,
) -> Result<(), InstallError> {
    let attach: Vec<OsString> = vec![
        "attach".into(),
        "-nobrowse".into(),
        "-readonly".into(),
        "-mountpoint".into(),
        mount_point.into(),
        image.into(),
    ];
    match tools.run("hdiutil attach", paths.hdiutil, attach).await {
        Ok(()) => {}
        Err(error @ (InstallError::Failed { .. } | InstallError::Spawn { .. })) => return Err(error),
        Err(stopped) => return detach(tools, paths.hdiutil, mount_point, Err(stopped)).await,
    }
    let copied = copy_out(tools, paths, image, mount_point, destination, bundle).await;
    detach(tools, paths.hdiutil, mount_point, copied).await
}

/// Copies `bundle` from `image`, mounted at `mount_point`, next to `destination`,
/// then swaps it in.
///
/// The bundle is held to the zip limits first (a small image can hold a huge
/// bundle). `ditto` is given a path inside the fresh root-only staging folder,
/// which the agent reached without following a link; the copy is made safe
/// before it is placed.
async fn copy_out(
    tools: &mut Tools<'_>,
    paths: &DiskTools<'_>,
    image: &Path,
    mount_point: &Path,
    destination: &Path,
    bundle: &str,
) -> Result<(), InstallError> {
    let source = find_bundle(mount_point, bundle, "disk image")?;
    let staging = Staging::beside(paths.root, destination)?;
    zip_limits::check_image_bundle(&source, image, staging.folder(), paths.left_free)?;
    let copy = staging.path().join(bundle);
    tools.run("ditto", paths.ditto, vec![source.into(), copy.clone().into()]).await?;
    staged_bundle::make_safe(&staging, &copy, &staged_bundle::placed_at(paths.root, destination))?;
    staging.replace_bundle(&copy)
}

/// Detaches the image, once more with `-force` if needed, and says how the
/// whole install ended: `before`, unless the detach failed too.
async fn detach(
    tools: &mut Tools<'_>,
    hdiutil: &Path,
    mount_point: &Path,
    before: Result<(), InstallError>,
) -> Result<(), InstallError> {
    let plain = vec!["detach".into(), mount_point.into()];
    let mut detached = tools.run_cleanup("hdiutil detach", hdiutil, plain).await;
    if detached.is_err() {
        let forced = vec!["detach".into(), "-force".into(), mount_point.into()];
        detached = tools.run_cleanup("hdiutil detach -force", hdiutil, forced).await;
    }
    if detached.is_ok() {
        let _ = std::fs::remove_dir(mount_point);
    }
    match (before, detached) {
        (before, Ok(())) => before,
        (Ok(()), Err(failure)) => {
            Err(InstallError::Detach { outcome: "the app was copied".into(), reason: failure.to_string() })
        }
        (Err(error), Err(failure)) => {
            Err(InstallError::Detach { outcome: error.to_string(), reason: failure.to_string() })
        }
    }
}
