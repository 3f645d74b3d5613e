//! The seed: what the tenant knows before any device talks to it — its
//! credentials (admin tokens, enrollment secrets, fleet-wide and per-device
//! tokens), blueprints (a default and per device) and the agent versions it asks for.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// What the tenant knows before any device talks to it: the seed file as written
/// (JSON, every key optional), or built in code by a test that starts a tenant.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Fleet-wide agent tokens: may act for any device on the agent API, never on
    /// the devices API (a shared credential, for demos and tests).
    #[serde(default)]
    pub tokens: Vec<String>,
    /// Admin tokens: the devices API and its actions, nothing else.
    #[serde(default)]
    pub admin_tokens: Vec<String>,
    /// Enrollment secrets: `POST /api/v1/agent/enroll` only, which issues a device token.
    #[serde(default)]
    pub enrollment_secrets: Vec<String>,
    /// Device id → the token only that device may use (set by hand, never rotated).
    #[serde(default)]
    pub device_tokens: BTreeMap<String, String>,
    /// The blueprint served to devices without one of their own.
    #[serde(default)]
    pub blueprint: Option<serde_json::Value>,
    /// Device id → its own blueprint.
    #[serde(default)]
    pub device_blueprints: BTreeMap<String, serde_json::Value>,
    /// Sent in every check-in reply when set: agents below it must update.
    #[serde(default)]
    pub minimum_agent_version: Option<String>,
    /// Sent in every check-in reply when set: `{version, url, sha256}`.
    #[serde(default)]
    pub latest_agent: Option<serde_json::Value>,
}

/// A blueprint ready to serve: its exact body and the ETag of that body.
#[derive(Debug, Clone)]
pub(crate) struct ServedBlueprint {
    pub(crate) id: Option<String>,
    pub(crate) body: Vec<u8>,
    pub(crate) etag: String,
}

/// The seed with its blueprints serialised once, so the ETag never changes between requests.
#[derive(Debug)]
pub(crate) struct ResolvedSeed {
    pub(crate) tokens: Vec<String>,
    pub(crate) admin_tokens: Vec<String>,
    pub(crate) enrollment_secrets: Vec<String>,
    pub(crate) device_tokens: BTreeMap<String, String>,
    pub(crate) blueprint: Option<ServedBlueprint>,
    pub(crate) device_blueprints: BTreeMap<String, ServedBlueprint>,
    pub(crate) minimum_agent_version: Option<String>,
    pub(crate) latest_agent: Option<serde_json::Value>,
}

impl Seed {
    /// Reads a seed file, naming the file in every error.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let value = read_json(path)?;
        serde_json::from_value(value).with_context(|| format!("{}: not a valid seed", path.display()))
    }

    pub(crate) fn resolve(self) -> anyhow::Result<ResolvedSeed> {
        let device_blueprints = self
            .device_blueprints
            .into_iter()
            .map(|(device_id, value)| Ok((device_id, serve(&value)?)))
            .collect::<anyhow::Result<_>>()?;
        Ok(ResolvedSeed {
            tokens: self.tokens,
            admin_tokens: self.admin_tokens,
            enrollment_secrets: self.enrollment_secrets,
            device_tokens: self.device_tokens,
            blueprint: self.blueprint.as_ref().map(serve).transpose()?,
            device_blueprints,
            minimum_agent_version: self.minimum_agent_version,
            latest_agent: self.latest_agent,
        })
    }
}

impl ResolvedSeed {
    /// The device's own blueprint, else the default one.
    pub(crate) fn blueprint_for(&self, device_id: &str) -> Option<&ServedBlueprint> {
        self.device_blueprints.get(device_id).or(self.blueprint.as_ref())
    }
}

/// Reads a JSON file, naming the file in every error.
pub fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("could not read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not valid JSON", path.display()))
}

/// Serialises a blueprint and derives its ETag from the sha256 of the body.
fn serve(value: &serde_json::Value) -> anyhow::Result<ServedBlueprint> {
    let body = serde_json::to_vec(value).context("could not serialise a blueprint")?;
    let digest = Sha256::digest(&body);
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    let id = value.get("id").and_then(|id| id.as_str()).map(str::to_owned);
    Ok(ServedBlueprint { id, body, etag: format!("\"{hex}\"") })
}
