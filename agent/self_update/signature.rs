//! Whether a verified agent package may be installed: it must be signed by the
//! team pinned in `self_update.team_id` (a Developer ID Installer certificate of
//! that team, trusted by `pkgutil`) and notarized (`spctl --assess --type
//! install`), the same checks an app item's pkg gets. The pin comes from the
//! package's default configuration or a profile, never from the tenant, so a
//! tenant (or whoever holds it) cannot push an agent of its own making. Without
//! a pin the agent does not update itself at all.

use std::path::Path;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::blueprint::SignatureRequirement;
use crate::config::AgentConfig;
use crate::installers::{SignatureCheck, check_package_signature};
use crate::paths::AgentPaths;
use crate::tool_runner::{ToolRunner, Transcript};

/// Why an offer is refused when no team is pinned.
pub(super) const NO_TEAM_PINNED: &str =
    "no signing team is pinned (self_update.team_id), so the agent does not update itself";

/// The signature an agent package must carry, or `None` when no team is pinned.
pub(super) fn requirement(config: &AgentConfig) -> Option<SignatureRequirement> {
    let team_id = config.self_update.team_id.clone()?;
    Some(SignatureRequirement { team_id, require_notarized: true })
}

/// Checks `package` against `required` with the configured `pkgutil` and
/// `spctl`, until `deadline` (a shutdown does not stop it: the check is short
/// and the installer after it is not stopped either). `Ok` with what the tools
/// printed, or why the package is refused and what they printed.
pub(super) async fn check(
    paths: &AgentPaths,
    config: &AgentConfig,
    required: &SignatureRequirement,
    package: &Path,
    deadline: Instant,
) -> Result<String, (String, String)> {
    let not_on_shutdown = CancellationToken::new();
    let grace = config.timeouts.termination_grace;
    let runner = ToolRunner { root: &paths.root, environment: &[], deadline, grace, cancel: &not_on_shutdown };
    let mut transcript = Transcript::default();
    let check = SignatureCheck { required, commands: &config.commands };
    match check_package_signature(runner, check, package, &mut transcript).await {
        Ok(()) => Ok(transcript.into_text()),
        Err(error) => Err((error.to_string(), transcript.into_text())),
    }
}
