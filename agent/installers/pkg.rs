//! Installing from a flat package: `installer -pkg <file> -target <root>`.
//!
//! The package decides where its payload goes; the caller checks afterwards
//! that the expected bundle is where the blueprint says.

use std::path::Path;

use super::error::InstallError;
use super::tools::Tools;

/// Runs the configured `installer` on `package` for the volume at `root`.
pub(super) async fn install(
    tools: &mut Tools<'_>,
    installer: &Path,
    package: &Path,
    root: &Path,
) -> Result<(), InstallError> {
    let args = vec!["-pkg".into(), package.into(), "-target".into(), root.into()];
    tools.run("installer", installer, args).await
}
