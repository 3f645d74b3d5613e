//! Pure rules: what the tenant's advice means for this agent, whether an offer
//! that failed before may be tried again now, and how an attempt the agent did not
//! live through ended.
//!
//! Versions are semver, compared by precedence (build metadata ignored, a
//! pre-release before its release). The agent only ever moves to a strictly newer
//! version: an offer equal to or older than the running agent is nothing to do,
//! never a reinstall or a downgrade.

use std::cmp::Ordering;

use reqwest::Url;
use semver::Version;
use serde_json::Value;

use crate::blueprint::DownloadUrl;
use crate::network_rules::is_allowed_http;
use crate::plan::CheckinKind;
use crate::state::{AgentUpdate, AgentUpdateOutcome};

/// What the tenant's check-in reply says about the agent's version.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Advice {
    /// `minimum_agent_version`: the oldest agent the tenant accepts.
    pub(crate) minimum_agent_version: Option<String>,
    /// `latest_agent`: `{version, url, sha256}`, as the tenant sent it.
    pub(crate) latest_agent: Option<Value>,
}

/// A checked offer: a semver version, a URL the agent may fetch, a sha256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Offer {
    /// The offered agent's version.
    pub(crate) version: Version,
    /// Where its package is.
    pub(crate) url: DownloadUrl,
    /// The package's sha256, 64 lowercase hexadecimal digits.
    pub(crate) sha256: String,
}

/// What to do about the agent's version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Up to date, or nothing newer is offered.
    Nothing,
    /// Install this newer agent.
    Update(Offer),
    /// The tenant requires a newer agent than it offers.
    CannotComply {
        /// The version the tenant requires.
        minimum: Version,
        /// The usable offer, which is below the minimum; `None` when there is none.
        offered: Option<Version>,
    },
}

/// A decision and what was wrong with the advice (each one a logged error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decided {
    /// What to do.
    pub(crate) decision: Decision,
    /// Parts of the advice that could not be used, each naming its key.
    pub(crate) problems: Vec<String>,
}

/// Decides what `advice` asks of an agent at version `ours`. A part of the advice
/// that cannot be read is left out (and named in `problems`).
pub(crate) fn decide(ours: &Version, advice: &Advice) -> Decided {
    let mut problems = Vec::new();
    let minimum = advice.minimum_agent_version.as_deref().and_then(|text| {
        read_version(text).map_err(|problem| problems.push(format!("minimum_agent_version: {problem}"))).ok()
    });
    let offer =
        advice.latest_agent.as_ref().and_then(|value| read_offer(value).map_err(|problem| problems.push(problem)).ok());
    let newer = |version: &Version| version.cmp_precedence(ours) == Ordering::Greater;
    let decision = match (minimum.filter(newer), offer) {
        (Some(minimum), Some(offer)) if offer.version.cmp_precedence(&minimum) == Ordering::Less => {
            Decision::CannotComply { minimum, offered: Some(offer.version) }
        }
        (Some(minimum), None) => Decision::CannotComply { minimum, offered: None },
        (_, Some(offer)) if newer(&offer.version) => Decision::Update(offer),
        _ => Decision::Nothing,
    };
    Decided { decision, problems }
}

/// Whether an offer may be tried in this check-in, given the newest earlier attempt
/// at the same version and sha256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Never tried, or its retry is due.
    Go,
    /// Tried before; the reason says when it is tried again.
    Wait(String),
}

/// An offer tried before (whatever came of it) is tried again only in a daily
/// check-in: a broken package or a wrong sha256 costs one download a day, not one
/// every 15 minutes, and an install the daemon has not restarted onto yet is not
/// repeated at once. `agent run --reset-daily` retries at once.
pub(crate) fn gate(previous: Option<&AgentUpdate>, kind: CheckinKind) -> Gate {
    match previous {
        None => Gate::Go,
        Some(_) if kind == CheckinKind::Daily => Gate::Go,
        Some(previous) => Gate::Wait(format!(
            "this offer ended {} at {}; it is tried again in the next daily check-in",
            previous.outcome,
            crate::state::time_text(previous.at)
        )),
    }
}

/// How an attempt left `installing` by an agent that stopped while its installer
/// ran ended, judged by the agent now running at `ours`; `None` for an attempt
/// that has its outcome. The package's postinstall restarting the daemon is the
/// usual reason, so running the offered version counts as installed (and only
/// that version: the same rule as right after an installer, [`is_offered`]).
pub(crate) fn settle(attempt: &AgentUpdate, ours: &Version) -> Option<(AgentUpdateOutcome, String)> {
    if attempt.outcome != AgentUpdateOutcome::Installing {
        return None;
    }
    let offered = attempt.to.as_deref().and_then(|text| Version::parse(text).ok());
    Some(match offered {
        Some(offered) if is_offered(ours, &offered) => {
            (AgentUpdateOutcome::Installed, format!("the agent restarted while the installer ran and now runs {ours}"))
        }
        Some(offered) if ours.cmp_precedence(&offered) == Ordering::Greater => (
            AgentUpdateOutcome::Failed,
            format!("the agent restarted while the installer ran and runs {ours}, not {offered}"),
        ),
        _ => (
            AgentUpdateOutcome::Failed,
            format!("the agent stopped while the installer ran and still runs {ours}: the install did not complete"),
        ),
    })
}

/// Whether the version an agent reports is the one offered (semver precedence:
/// build metadata does not count). Both the check right after the installer and
/// the settling of an install the agent did not live through use it.
pub(crate) fn is_offered(found: &Version, offered: &Version) -> bool {
    found.cmp_precedence(offered) == Ordering::Equal
}

/// The running agent's version.
pub(crate) fn running_version() -> Version {
    // Cargo refuses a package version that is not semver, so this always parses.
    Version::parse(env!("CARGO_PKG_VERSION")).unwrap_or_else(|_| Version::new(0, 0, 0))
}

fn read_version(text: &str) -> Result<Version, String> {
    Version::parse(text.trim()).map_err(|error| format!("{text:?} is not a version such as \"1.2.3\" ({error})"))
}

/// Checks `latest_agent`: an object with a semver `version`, an `https://` (or
/// loopback `http://`) `url` and a 64-digit `sha256`.
fn read_offer(value: &Value) -> Result<Offer, String> {
    let text = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("latest_agent.{key}: missing, or not a string (expected {{version, url, sha256}})"))
    };
    let version = read_version(text("version")?).map_err(|problem| format!("latest_agent.version: {problem}"))?;
    let url = Url::parse(text("url")?.trim())
        .ok()
        .filter(is_allowed_http)
        .ok_or("latest_agent.url: must be https://, or http:// to a loopback host")?;
    let sha256 = text("sha256")?.trim().to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err("latest_agent.sha256: must be 64 hexadecimal digits (the package's SHA-256)".to_string());
    }
    Ok(Offer { version, url: DownloadUrl::Http(url), sha256 })
}

#[cfg(test)]
mod tests;
