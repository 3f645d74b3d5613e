//! Installing from a disk image: attach it read-only and hidden, copy the bundle
//! out with `ditto` (which keeps permissions, symlinks and extended attributes)
//! once it is within the zip limits ([`super::zip_limits`]),
//! make the copy safe ([`super::staged_bundle`]: set-id, sticky and world-write
//! bits cleared, links out of the bundle refused), check its signature when the
//! item names a team ([`super::signature`]), swap it into place, and
//! detach the image whatever happened in between.

use std::ffi::OsString;
use std::path::Path;

use super::error::InstallError;
use super::placement::{Staging, find_bundle};
use super::signature::{self, SignatureCheck};
use super::staged_bundle;
use super::tools::Tools;
use super::zip_limits;

/// One disk image install: the image, where it is mounted, the bundle it must
/// put in place, and the two tools that do it.
pub(super) struct DiskImage<'a> {
    /// The verified disk image, in the download cache.
    pub image: &'a Path,
    /// Where it is mounted: an empty folder, already made.
    pub mount_point: &'a Path,
    /// Where the bundle goes.
    pub destination: &'a Path,
    /// The bundle's name in the image, such as `Foo.app`.
    pub bundle: &'a str,
    /// The agent's root, which the app's place is inside.
    pub root: &'a Path,
    /// `hdiutil`.
    pub hdiutil: &'a Path,
    /// `ditto`.
    pub ditto: &'a Path,
    /// The bytes the app's volume keeps free after the copy (`downloads.min_free_space`).
    pub left_free: u64,
    /// The signature the copied bundle must carry before it is placed, if any.
    pub signature: Option<SignatureCheck<'a>>,
}

/// Mounts the image, puts its bundle in place, and detaches it. The detach runs
/// whenever the attach may have mounted something (it succeeded, or it was
/// stopped part way), even when the copy failed.
pub(super) async fn install(tools: &mut Tools<'_>, disk: &DiskImage<'_>) -> Result<(), InstallError> {
    let attach: Vec<OsString> = vec![
        "attach".into(),
        "-nobrowse".into(),
        "-readonly".into(),
        "-mountpoint".into(),
        disk.mount_point.into(),
        disk.image.into(),
    ];
    match tools.run("hdiutil attach", disk.hdiutil, attach).await {
        Ok(()) => {}
        Err(error @ (InstallError::Failed { .. } | InstallError::Spawn { .. })) => return Err(error),
        Err(stopped) => return detach(tools, disk, Err(stopped)).await,
    }
    let copied = copy_out(tools, disk).await;
    detach(tools, disk, copied).await
}

/// Copies the bundle from the mounted image next to its destination, then
/// swaps it in.
///
/// The bundle is held to the zip limits first (a small image can hold a huge
/// bundle). `ditto` is given a path inside the fresh root-only staging folder,
/// which the agent reached without following a link; the copy is made safe
/// before it is placed.
async fn copy_out(tools: &mut Tools<'_>, disk: &DiskImage<'_>) -> Result<(), InstallError> {
    let source = find_bundle(disk.mount_point, disk.bundle, "disk image")?;
    let staging = Staging::beside(disk.root, disk.destination)?;
    zip_limits::check_image_bundle(&source, disk.image, staging.folder(), disk.left_free)?;
    let copy = staging.path().join(disk.bundle);
    tools.run("ditto", disk.ditto, vec![source.into(), copy.clone().into()]).await?;
    staged_bundle::make_safe(&staging, &copy, &staged_bundle::placed_at(disk.root, disk.destination))?;
    if let Some(check) = disk.signature {
        signature::check_app(tools, check, &copy).await?;
    }
    staging.replace_bundle(&copy)
}

/// Detaches the image, once more with `-force` if needed, and says how the
/// whole install ended: `before`, unless the detach failed too.
async fn detach(
    tools: &mut Tools<'_>,
    disk: &DiskImage<'_>,
    before: Result<(), InstallError>,
) -> Result<(), InstallError> {
    let (hdiutil, mount_point) = (disk.hdiutil, disk.mount_point);
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
