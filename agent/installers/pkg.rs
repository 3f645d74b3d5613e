//! Installing from a flat package: `installer -pkg <file> -target <root>`, for
//! an app item's pkg and for the agent's own update alike.
//!
//! The package decides where its payload goes; the caller checks afterwards
//! that what it expected is there (the app's bundle, the agent's version).

use std::path::Path;

use super::error::InstallError;
use super::tools::Tools;
use crate::tool_runner::{ToolRunner, Transcript};

/// Runs the configured `installer` on `package` for the volume at the runner's
/// root, as `runner` says (its deadline, and whether a shutdown stops it); what
/// it printed goes to `transcript`.
pub(crate) async fn install(
    runner: ToolRunner<'_>,
    installer: &Path,
    package: &Path,
    transcript: &mut Transcript,
) -> Result<(), InstallError> {
    let args = vec!["-pkg".into(), package.into(), "-target".into(), runner.root.into()];
    Tools::new(runner, transcript).run("installer", installer, args).await
}
