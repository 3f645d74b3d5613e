//! Installing from a flat package: `installer -pkg <file> -target <root>`.
//!
//! The package decides where its payload goes; the caller checks afterwards
//! that the expected bundle is where the blueprint says.

use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::error::InstallError;
use super::tools::Tools;
use crate::tool_runner::{ToolRunner, Transcript};

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

/// Installs the agent's own package: `installer -pkg <package> -target <root>` in
/// its own process group until `deadline`. The agent's shutdown does not stop it
/// (an install cut in half is worse than a late one, and the package's postinstall
/// may itself be what stops the daemon); the deadline does.
pub(crate) async fn install_agent_package(
    installer: &Path,
    package: &Path,
    root: &Path,
    deadline: Instant,
    grace: Duration,
    transcript: &mut Transcript,
) -> Result<(), InstallError> {
    let not_on_shutdown = CancellationToken::new();
    let runner = ToolRunner { root, environment: &[], deadline, grace, cancel: &not_on_shutdown };
    let mut tools = Tools::new(runner, transcript);
    install(&mut tools, installer, package, root).await
}
