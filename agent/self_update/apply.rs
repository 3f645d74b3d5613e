//! The self-update step: decide, download into the cache, verify (sha256, then
//! the signature of the pinned team: [`super::signature`]), install through
//! `installer`, check the installed agent's version, and record what came of it. Nothing here fails the check-in; every
//! problem is a logged line and a recorded outcome.

use std::path::Path;

use semver::Version;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::decision::{Advice, Decision, Gate, Offer, decide, gate, running_version, settle};
use super::marker::{self, PendingMarker};
use super::signature;
use super::verify;
use crate::config::AgentConfig;
use crate::downloads::{DownloadError, Downloaded, Downloader};
use crate::installers::install_package;
use crate::paths::AgentPaths;
use crate::plan::CheckinKind;
use crate::state::{AgentUpdate, AgentUpdateOutcome, Store, StoreError};
use crate::tool_runner::{ToolRunner, Transcript};

/// What the step needs from its check-in.
pub(crate) struct UpdateContext<'a> {
    /// Where the download cache and the install target are.
    pub(crate) paths: &'a AgentPaths,
    /// `commands.installer`, `timeouts.agent_update`, `timeouts.termination_grace`.
    pub(crate) config: &'a AgentConfig,
    /// Where attempts are recorded.
    pub(crate) store: &'a Store,
    /// The check-in's kind: an offer tried before is tried again only in a daily one.
    pub(crate) kind: CheckinKind,
    /// The agent's shutdown: stops a download (kept to resume), not the installer.
    pub(crate) cancel: &'a CancellationToken,
}

/// Acts on the tenant's advice once the check-in is complete. Returns the version
/// installed, if a newer agent was: the running process is now the old version,
/// and the daemon should restart onto the new binary.
pub(crate) async fn update_agent(context: &UpdateContext<'_>, advice: &Advice) -> Option<Version> {
    let ours = running_version();
    let decided = decide(&ours, advice);
    for problem in &decided.problems {
        tracing::error!(problem = %problem, "Part of the tenant's agent version advice is unusable; it is ignored.");
    }
    match decided.decision {
        Decision::Nothing => {
            tracing::debug!(agent_version = %ours, "The agent is up to date.");
            None
        }
        Decision::CannotComply { minimum, offered } => {
            cannot_comply(context.store, &ours, &minimum, offered.as_ref());
            None
        }
        Decision::Update(offer) => {
            let previous = context.store.latest_agent_update_of(&offer.version.to_string(), &offer.sha256);
            match previous.map(|previous| gate(previous.as_ref(), context.kind)) {
                Ok(Gate::Go) => install(context, &ours, &offer).await.then(|| offer.version.clone()),
                Ok(Gate::Wait(reason)) => {
                    tracing::info!(from = %ours, to = %offer.version, reason = %reason, "Agent update waits.");
                    None
                }
                Err(error) => {
                    tracing::error!(error = %error, "Cannot read earlier agent updates; not updating now.");
                    None
                }
            }
        }
    }
}

/// Closes an attempt an agent left `installing` (it stopped while the installer
/// ran), judged by the version running now, and removes the update marker it
/// left. Called with the check-in lock held, so no installer of this agent is
/// running.
pub(crate) fn settle_unfinished(store: &Store, paths: &AgentPaths) {
    marker::remove_left_behind(&paths.agent_update_marker);
    let settled = store.latest_agent_update().and_then(|latest| {
        let Some(latest) = latest else { return Ok(()) };
        let Some((outcome, message)) = settle(&latest, &running_version()) else { return Ok(()) };
        store.finish_agent_update(latest.id, outcome, &message)?;
        let to = latest.to.unwrap_or_default();
        tracing::warn!(from = %latest.from, to = %to, outcome = %outcome, detail = %message, "Settled an agent update the agent did not see end.");
        Ok(())
    });
    if let Err(error) = settled {
        tracing::error!(error = %error, "Cannot settle an unfinished agent update.");
    }
}

/// Logs (every check-in) and records (once while it stays the same) that the
/// tenant requires an agent it does not offer.
fn cannot_comply(store: &Store, ours: &Version, minimum: &Version, offered: Option<&Version>) {
    let message = match offered {
        None => format!("the tenant requires agent {minimum} or newer but offers no update"),
        Some(offered) => format!("the tenant requires agent {minimum} or newer but offers only {offered}"),
    };
    tracing::warn!(agent_version = %ours, minimum_agent_version = %minimum, detail = %message, "Cannot comply with the tenant's minimum agent version.");
    let attempt = new_attempt(ours, offered.map(ToString::to_string), None, AgentUpdateOutcome::CannotComply, message);
    let unchanged = store.latest_agent_update().map(|latest| {
        latest.is_some_and(|latest| {
            (latest.outcome, &latest.to, &latest.message) == (attempt.outcome, &attempt.to, &attempt.message)
        })
    });
    if let Err(error) = unchanged.and_then(|unchanged| if unchanged { Ok(()) } else { record(store, &attempt) }) {
        tracing::error!(error = %error, "Cannot record the agent update's outcome.");
    }
}

/// Downloads, verifies and installs `offer`; says whether it was installed.
async fn install(context: &UpdateContext<'_>, ours: &Version, offer: &Offer) -> bool {
    if context.cancel.is_cancelled() {
        tracing::info!(to = %offer.version, "Agent update skipped: the agent is shutting down.");
        return false;
    }
    let deadline = crate::process::deadline_after(Instant::now(), context.config.timeouts.agent_update);
    let Some(required) = signature::requirement(context.config) else {
        refuse(context, ours, offer, signature::NO_TEAM_PINNED, "");
        return false;
    };
    let Some(download) = fetch(context, ours, offer, deadline).await else { return false };
    let checked = signature::check(context.paths, context.config, &required, &download.path, deadline).await;
    if let Err((problem, output)) = checked {
        remove_download(&download.path);
        let message = format!("agent {}: {problem}; it was not installed", offer.version);
        refuse(context, ours, offer, &message, &output);
        return false;
    }
    let started = match context.store.add_agent_update(&offer_attempt(ours, offer, AgentUpdateOutcome::Installing, ""))
    {
        Ok(id) => id,
        Err(error) => {
            tracing::error!(error = %error, "Cannot record the agent update; not installing without a record.");
            return false;
        }
    };
    let (result, output) = run_installer(context, offer, &download.path, deadline).await;
    remove_download(&download.path);
    let grace = context.config.timeouts.termination_grace;
    let result = match result {
        Ok(()) => verify::check_installed(context.paths, &offer.version, grace)
            .await
            .map_err(|found| format!("the installer exited 0, but {found}")),
        Err(error) => Err(error),
    };
    let (outcome, message) = match result {
        Ok(()) => {
            let how = download.describe();
            (
                AgentUpdateOutcome::Installed,
                format!("installed agent {} over {ours} ({how}, sha256 verified)", offer.version),
            )
        }
        Err(error) => (AgentUpdateOutcome::Failed, format!("agent {}: {error}", offer.version)),
    };
    log_store_error(context.store.finish_agent_update(started, outcome, &message));
    if outcome == AgentUpdateOutcome::Installed {
        tracing::info!(from = %ours, to = %offer.version, output = %output, "Agent updated; the daemon runs the new binary once launchd starts it again.");
        true
    } else {
        tracing::warn!(from = %ours, to = %offer.version, detail = %message, output = %output, "Agent update failed.");
        false
    }
}

/// Records and logs an offer refused for its signature (`signature_mismatch`).
fn refuse(context: &UpdateContext<'_>, ours: &Version, offer: &Offer, message: &str, output: &str) {
    tracing::warn!(from = %ours, to = %offer.version, detail = %message, output = %output, "Agent update refused: the package is not signed by the pinned team.");
    let attempt = offer_attempt(ours, offer, AgentUpdateOutcome::SignatureMismatch, message);
    log_store_error(record(context.store, &attempt));
}

/// Drops the agent package from the download cache.
fn remove_download(path: &Path) {
    if let Err(error) = std::fs::remove_file(path) {
        tracing::warn!(path = %path.display(), error = %error, "Cannot remove the agent package from the cache.");
    }
}

/// Runs `installer` on the verified package with the update marker in place (so
/// the package's scripts leave the running daemon alone), and removes the marker
/// once it ends. Returns what went wrong, if anything, and the installer's output.
async fn run_installer(
    context: &UpdateContext<'_>,
    offer: &Offer,
    package: &Path,
    deadline: Instant,
) -> (Result<(), String>, String) {
    let (paths, config) = (context.paths, context.config);
    let grace = config.timeouts.termination_grace;
    let valid_for = deadline.saturating_duration_since(Instant::now()).saturating_add(grace);
    let _marker = match PendingMarker::write(&paths.root, &paths.agent_update_marker, &offer.version, valid_for) {
        Ok(marker) => marker,
        Err(error) => {
            // Without it the package's preinstall would stop this daemon mid-install.
            let marker = paths.agent_update_marker.display();
            return (
                Err(format!("cannot write the update marker {marker}, so the installer did not run: {error}")),
                String::new(),
            );
        }
    };
    let installer = &config.commands.installer;
    tracing::info!(to = %offer.version, installer = %installer.display(), target = %paths.root.display(), "Running the installer on the agent package.");
    // The agent's shutdown does not stop the installer (an install cut in half is
    // worse than a late one, and the package's postinstall may itself be what
    // stops the daemon); the deadline does.
    let not_on_shutdown = CancellationToken::new();
    let runner = ToolRunner { root: &paths.root, environment: &[], deadline, grace, cancel: &not_on_shutdown };
    let mut transcript = Transcript::default();
    let result = install_package(runner, installer, package, &mut transcript).await;
    (result.map_err(|error| error.to_string()), transcript.into_text())
}

/// Puts the offered package, verified, into the download cache. A failure is
/// recorded (`checksum_mismatch` or `download_failed`); a shutdown is not (the
/// partial file is kept and the next check-in resumes it).
async fn fetch(context: &UpdateContext<'_>, ours: &Version, offer: &Offer, deadline: Instant) -> Option<Downloaded> {
    let paths = context.paths;
    tracing::info!(from = %ours, to = %offer.version, url = %offer.url, "Agent update started: downloading the package.");
    let downloader = Downloader::for_agent(paths, context.config, deadline, context.cancel);
    let error = match downloader.fetch(&offer.url, &offer.sha256, "pkg").await {
        Ok(download) => {
            tracing::info!(to = %offer.version, bytes = download.bytes, "Agent package verified against its sha256.");
            return Some(download);
        }
        Err(DownloadError::Cancelled { .. }) => {
            tracing::info!(to = %offer.version, "Agent update stopped: the agent is shutting down; the download resumes later.");
            return None;
        }
        Err(error) => error,
    };
    let outcome = match error {
        DownloadError::Mismatch { .. } => AgentUpdateOutcome::ChecksumMismatch,
        _ => AgentUpdateOutcome::DownloadFailed,
    };
    let message = error.to_string();
    tracing::warn!(to = %offer.version, outcome = %outcome, detail = %message, "Agent update failed before the installer ran.");
    log_store_error(record(context.store, &offer_attempt(ours, offer, outcome, &message)));
    None
}

/// An attempt at `offer`.
fn offer_attempt(ours: &Version, offer: &Offer, outcome: AgentUpdateOutcome, message: &str) -> AgentUpdate {
    let (to, sha256) = (Some(offer.version.to_string()), Some(offer.sha256.clone()));
    new_attempt(ours, to, sha256, outcome, message.to_string())
}

fn new_attempt(
    ours: &Version,
    to: Option<String>,
    sha256: Option<String>,
    outcome: AgentUpdateOutcome,
    message: String,
) -> AgentUpdate {
    AgentUpdate { id: 0, at: chrono::Utc::now(), from: ours.to_string(), to, sha256, outcome, message }
}

fn record(store: &Store, attempt: &AgentUpdate) -> Result<(), StoreError> {
    store.add_agent_update(attempt).map(drop)
}

fn log_store_error(result: Result<(), StoreError>) {
    if let Err(error) = result {
        tracing::error!(error = %error, "Cannot record the agent update's outcome.");
    }
}
