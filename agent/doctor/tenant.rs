//! Can this Mac reach its tenant: a TCP connect to the tenant's host, and one
//! authenticated request, each timed.
//!
//! The request is the one every check-in makes and the only one that changes
//! nothing on the device: `GET /api/v1/agent/blueprint` with the saved blueprint's
//! `ETag`, so a healthy device gets `304`. The tenant may note the request as a
//! blueprint fetch; it is never a check-in (the tenant's "last check-in" stays
//! what it was). The token goes only into the `Authorization` header.

use std::time::{Duration, Instant};

use super::check::Finding;
use super::network::connect;
use crate::config::AgentConfig;
use crate::paths::AgentPaths;
use crate::render::duration_ms;
use crate::tenant::{BlueprintReply, TenantClient, TenantError, credential};

/// The request, as the report names it.
const BLUEPRINT_REQUEST: &str = "GET /api/v1/agent/blueprint";

/// What to do on a device without a tenant or token.
const ENROLL: &str = "Enroll the Mac: deliver `tenant.url` and `tenant.enrollment_secret` in a configuration profile for io.endpointagent.agent, or run `sudo agent enroll --url https://TENANT --enrollment-secret-file PATH` (or `--token-file PATH` for a device token; `-` reads from standard input).";

/// What to do when the tenant cannot be reached.
const NETWORK: &str = "Check the network path to the tenant (Wi-Fi, VPN, firewall, proxy) and `tenant.url` (`agent config --show-origin` says where it is set).";

/// What to do when the tenant refuses the token.
const ROTATE: &str = "Rotate the token: get a new one for this device from the tenant and run `sudo agent enroll --url URL --token-file PATH`, or deliver `tenant.token` in managed preferences (they win over the enrollment file).";

/// What the request needs from the state store.
pub(crate) struct DeviceIdentity {
    /// The device id the tenant knows the Mac by.
    pub(crate) device_id: String,
    /// The `ETag` of the saved blueprint, when there is one.
    pub(crate) blueprint_etag: Option<String>,
}

/// A TCP connection to the tenant's host and port opens within `limit`.
pub(crate) async fn tenant_connection(config: &AgentConfig, limit: Duration) -> Finding {
    let Some(url) = &config.tenant.url else { return not_configured(config) };
    let parsed = reqwest::Url::parse(url).ok();
    let host = parsed.as_ref().and_then(|url| url.host_str().map(|host| host.trim_matches(['[', ']']).to_string()));
    let port = parsed.as_ref().and_then(reqwest::Url::port_or_known_default);
    let (Some(host), Some(port)) = (host, port) else {
        return Finding::fail(format!("tenant.url has no host and port: {url}"), ENROLL);
    };
    let attempt = connect(&host, port, limit).await;
    let resolved = match &attempt.outcome {
        Ok(address) if address.ip().to_string() != host => format!(" ({})", address.ip()),
        _ => String::new(),
    };
    let value = format!("{host}:{port}{resolved} {}", attempt.describe());
    if attempt.outcome.is_ok() { Finding::pass(value) } else { Finding::fail(value, NETWORK) }
}

/// The tenant accepts the token: the blueprint request answers `200` or `304`
/// within `limit` (and `tenant.request_timeout`).
pub(crate) async fn tenant_request(
    paths: &AgentPaths,
    config: &AgentConfig,
    identity: Result<DeviceIdentity, String>,
    limit: Duration,
) -> Finding {
    if config.tenant.url.is_none() {
        return Finding::skipped("no tenant configured");
    }
    if let Some(finding) = without_a_device_token(paths, config) {
        return finding;
    }
    let identity = match identity {
        Ok(identity) => identity,
        Err(error) => {
            return Finding::fail(
                format!("cannot read this device's id: {error}"),
                "Run `sudo agent doctor`: the state store is readable by root only.",
            );
        }
    };
    let mut bounded = config.clone();
    bounded.tenant.connect_timeout = bounded.tenant.connect_timeout.min(limit);
    bounded.tenant.request_timeout = bounded.tenant.request_timeout.min(limit);
    let client = match TenantClient::for_device(paths, &bounded) {
        Ok(Some(client)) => client,
        Ok(None) => return Finding::skipped("no tenant configured"),
        Err(error) => return Finding::fail(format!("cannot set up the request: {error}"), NETWORK),
    };
    let started = Instant::now();
    let result = client.blueprint(&identity.device_id, identity.blueprint_etag.as_deref()).await;
    let took = duration_ms(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
    judge_reply(result, identity.blueprint_etag.is_some(), &took, &identity.device_id)
}

/// The finding when this device has no token to make the request with: none
/// stored (`state/device-token.json`) nor set (`tenant.token`). With an
/// enrollment secret the next check-in enrolls; without one it cannot.
fn without_a_device_token(paths: &AgentPaths, config: &AgentConfig) -> Option<Finding> {
    match credential::load(paths) {
        Ok(Some(_)) => return None,
        Ok(None) => {}
        Err(error) => {
            let fix = "Run `sudo agent doctor`: the device token file is readable by root only; a damaged one is replaced at the next enrollment.";
            return Some(Finding::fail(format!("cannot read the device token: {error}"), fix));
        }
    }
    if config.tenant.token.is_some() {
        return None;
    }
    if config.tenant.enrollment_secret.is_some() {
        let value = "not enrolled yet: the next check-in exchanges `tenant.enrollment_secret` for a device token";
        return Some(Finding::warn(value, "Run `sudo agent run` to enroll now."));
    }
    Some(Finding::fail("no device token and no enrollment secret (`tenant.enrollment_secret`, `tenant.token`)", ENROLL))
}

/// The verdict on the tenant's answer, which took `took`.
fn judge_reply(result: Result<BlueprintReply, TenantError>, had_etag: bool, took: &str, device_id: &str) -> Finding {
    match result {
        Ok(BlueprintReply::NotModified) => {
            Finding::pass(format!("{BLUEPRINT_REQUEST}: 304 in {took}, the saved blueprint is current"))
        }
        Ok(BlueprintReply::Changed { .. }) if had_etag => {
            Finding::pass(format!("{BLUEPRINT_REQUEST}: 200 in {took}, a newer blueprint waits for the next check-in"))
        }
        Ok(BlueprintReply::Changed { .. }) => Finding::pass(format!("{BLUEPRINT_REQUEST}: 200 in {took}")),
        Err(TenantError::Unauthorized) => {
            Finding::fail(format!("{BLUEPRINT_REQUEST}: 401 in {took}, the tenant refused the token"), ROTATE)
        }
        Err(TenantError::Refused { status: 404, message }) => Finding::warn(
            format!("{BLUEPRINT_REQUEST}: 404 in {took}: {message}"),
            format!(
                "Assign a blueprint to device {device_id} in the tenant; if the message is not the tenant's, `tenant.url` is not the tenant's base URL."
            ),
        ),
        Err(TenantError::Refused { status, message }) if status >= 500 => Finding::fail(
            format!("{BLUEPRINT_REQUEST}: {status} in {took}: {message}"),
            "The tenant itself is failing: check its status. Meanwhile check-ins run from the saved blueprint and reports wait in the spool.",
        ),
        Err(TenantError::Refused { status, message }) => Finding::fail(
            format!("{BLUEPRINT_REQUEST}: {status} in {took}: {message}"),
            format!("The tenant refuses this device's requests: check device {device_id} and its token in the tenant."),
        ),
        Err(error @ TenantError::Unreachable { .. }) => {
            Finding::fail(format!("{BLUEPRINT_REQUEST}: no answer after {took}: {error}"), NETWORK)
        }
        Err(error @ TenantError::Garbage { .. }) => Finding::fail(
            format!("{BLUEPRINT_REQUEST}: {error} (after {took})"),
            "Something other than the tenant answers at `tenant.url` (a captive portal, a proxy): check the URL and the network.",
        ),
    }
}

/// A device without `tenant.url`: fine when it enforces a local blueprint, broken
/// when it has nothing to enforce at all.
fn not_configured(config: &AgentConfig) -> Finding {
    match &config.blueprint_file {
        Some(file) => Finding::skipped(format!("no tenant configured: the agent enforces {}", file.display())),
        None => Finding::fail("no tenant configured (`tenant.url`), and no `blueprint_file`", ENROLL),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::doctor::check::Verdict;
    use crate::tenant::credential::StoredToken;

    #[test]
    fn a_stored_or_set_token_is_needed_and_a_secret_means_enrolled_at_the_next_check_in() {
        let root = tempfile::tempdir().unwrap();
        let paths = AgentPaths::under(root.path());
        let mut config = AgentConfig::default();
        let verdict = |config: &AgentConfig| without_a_device_token(&paths, config).map(|finding| finding.verdict);
        assert_eq!(verdict(&config), Some(Verdict::Fail), "nothing to make the request with");
        config.tenant.enrollment_secret = Some(Secret::new("enroll-me"));
        assert_eq!(verdict(&config), Some(Verdict::Warn), "the next check-in enrolls");
        config.tenant.token = Some(Secret::new("set-directly"));
        assert_eq!(verdict(&config), None, "a token set directly is used");
        config.tenant.token = None;
        std::fs::create_dir_all(paths.device_token.parent().unwrap()).unwrap();
        let stored = StoredToken { device_token: "issued".into(), previous_token: None };
        crate::tenant::credential::save(&paths, &stored).unwrap();
        assert_eq!(verdict(&config), None, "the stored device token is used");
    }

    #[test]
    fn every_answer_has_its_verdict() {
        let refused = |status: u16| Err(TenantError::Refused { status, message: "no".into() });
        let changed = || Ok(BlueprintReply::Changed { body: Vec::new(), etag: None });
        let cases: Vec<(Result<BlueprintReply, TenantError>, bool, Verdict, &str)> = vec![
            (Ok(BlueprintReply::NotModified), true, Verdict::Pass, "304 in 5ms, the saved blueprint is current"),
            (changed(), false, Verdict::Pass, "200 in 5ms"),
            (changed(), true, Verdict::Pass, "a newer blueprint"),
            (Err(TenantError::Unauthorized), true, Verdict::Fail, "401 in 5ms, the tenant refused the token"),
            (refused(404), true, Verdict::Warn, "404 in 5ms: no"),
            (refused(503), true, Verdict::Fail, "503 in 5ms: no"),
            (refused(403), true, Verdict::Fail, "403 in 5ms: no"),
            (Err(TenantError::Unreachable { reason: "timed out".into() }), true, Verdict::Fail, "no answer after 5ms"),
            (Err(TenantError::Garbage { reason: "html".into() }), true, Verdict::Fail, "cannot read: html"),
        ];
        for (result, had_etag, verdict, value) in cases {
            let finding = judge_reply(result, had_etag, "5ms", "D-1");
            assert_eq!(finding.verdict, verdict, "{}", finding.value);
            assert!(finding.value.contains(value), "{} lacks {value}", finding.value);
        }
        let unauthorized = judge_reply(Err(TenantError::Unauthorized), true, "5ms", "D-1");
        assert!(unauthorized.fix.unwrap().starts_with("Rotate the token"));
    }

    #[test]
    fn a_device_without_a_tenant_is_fine_only_with_a_local_blueprint() {
        let mut config = AgentConfig::default();
        assert_eq!(not_configured(&config).verdict, Verdict::Fail);
        config.blueprint_file = Some("/etc/blueprint.json".into());
        let finding = not_configured(&config);
        assert_eq!(finding.verdict, Verdict::Skipped);
        assert_eq!(finding.value, "no tenant configured: the agent enforces /etc/blueprint.json");
    }
}
