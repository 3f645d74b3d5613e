//! The HTTP client: one per check-in, bearer token and user agent on every
//! request, bounded in time and in reply size.
//!
//! The token is the device's ([`super::credential`]): a reply carrying
//! `X-Device-Token` rotates it (stored at once, the old one kept for one grace
//! request), and a `401` to the stored token means it was revoked (the file is
//! removed; the session re-enrolls, [`super::enrollment`]).
//!
//! TLS is always verified (the system's on a Mac, rustls elsewhere), with the
//! anchors of `tenant.ca_file` and the pins of `tenant.pinned_spki_sha256`
//! ([`crate::tenant_trust`]); plain
//! `http://` reaches only a loopback tenant (the configuration refuses any other),
//! and never through a proxy ([`crate::network_rules`]).
//! The token is only ever put in the `Authorization` header, never in an error.

use std::sync::{Mutex, PoisonError};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use reqwest::{RequestBuilder, Response, StatusCode};

use super::credential::{self, Credential, TokenSource};
use super::protocol::{CheckinBody, CheckinReply, EnrollBody};
use crate::config::TrustedWriters;
use crate::config::{AgentConfig, Secret};
use crate::paths::AgentPaths;
use crate::structured_input::{self, InputKind};
use crate::tenant_trust::{TenantTrust, TrustProblem};

/// How much of a refusal's body is kept as the tenant's message.
const MAX_MESSAGE_CHARS: usize = 300;

/// Why a request did not get the answer it wanted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TenantError {
    /// No answer: connection refused, DNS, TLS, or the request timeout.
    #[error("the tenant could not be reached: {reason}")]
    Unreachable { reason: String },
    /// `401`: the token was refused.
    #[error("the tenant refused the token (401)")]
    Unauthorized,
    /// Any other status outside 2xx, with the tenant's message.
    #[error("the tenant answered {status}: {message}")]
    Refused { status: u16, message: String },
    /// A 2xx whose body is not what the protocol says.
    #[error("the tenant sent a reply the agent cannot read: {reason}")]
    Garbage { reason: String },
}

impl TenantError {
    /// Whether the tenant is down for now (the check-in goes on from the saved
    /// blueprint and reports wait).
    pub(crate) fn tenant_down(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Refused { status, .. } => *status >= 500,
            Self::Unauthorized | Self::Garbage { .. } => false,
        }
    }

    /// Whether a report refused this way is kept aside instead of tried again:
    /// a 4xx that is not 401, 404, 409 or 429 will not get better by retrying.
    pub(crate) fn parks_report(&self) -> bool {
        matches!(self, Self::Refused { status, .. } if (400..500).contains(status) && ![404, 409, 429].contains(status))
    }
}

/// What `GET /api/v1/agent/blueprint` gave.
#[derive(Debug)]
pub(crate) enum BlueprintReply {
    /// `200`: a new blueprint and its `ETag`.
    Changed { body: Vec<u8>, etag: Option<String> },
    /// `304`: the saved one is current.
    NotModified,
}

/// The reply header a tenant rotates the device token with.
pub(crate) const DEVICE_TOKEN_HEADER: &str = "X-Device-Token";

/// The tenant at `tenant.url`, with the device's credential.
pub(crate) struct TenantClient {
    pub(super) http: reqwest::Client,
    base: String,
    /// Where the token file lives.
    pub(super) paths: AgentPaths,
    /// The tokens requests carry; changed by rotations and revocations.
    pub(super) credential: Mutex<Credential>,
    /// `tenant.enrollment_secret`: sent to `/api/v1/agent/enroll` alone.
    pub(super) enrollment_secret: Option<Secret>,
    /// Who this device is, for an enrollment; `None` until a caller knows it.
    pub(super) enrollment: Option<EnrollBody>,
    /// An enrollment was tried with this client (at most once per check-in).
    pub(super) enrolled: bool,
    /// `tenant.request_timeout`, which a long-poll adds to the time it lets the
    /// tenant hold it.
    pub(super) request_timeout: std::time::Duration,
}

impl TenantClient {
    /// A client for this device: the token file's token, else `tenant.token`;
    /// `None` when no tenant is configured.
    pub(crate) fn for_device(paths: &AgentPaths, config: &AgentConfig) -> Result<Option<Self>, TenantError> {
        let Some(url) = &config.tenant.url else { return Ok(None) };
        let unusable = |problem: TrustProblem| TenantError::Unreachable { reason: problem.to_string() };
        let writers = TrustedWriters::for_paths(paths);
        let ca =
            config.tenant.ca_file.as_deref().map(|path| writers.read_ca_file(path)).transpose().map_err(unusable)?;
        let trust = TenantTrust::new(ca.as_ref(), &config.tenant.pinned_spki_sha256).map_err(unusable)?;
        let http = trust
            .for_tenant(crate::network_rules::client_builder(), url)
            .user_agent(concat!("endpoint-agent/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.tenant.connect_timeout)
            .timeout(config.tenant.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| TenantError::Unreachable { reason: causes(&error) })?;
        let credential = Credential::choose(paths, config.tenant.token.clone());
        Ok(Some(Self {
            http,
            base: url.trim_end_matches('/').to_string(),
            paths: paths.clone(),
            credential: Mutex::new(credential),
            enrollment_secret: config.tenant.enrollment_secret.clone(),
            enrollment: None,
            enrolled: false,
            request_timeout: config.tenant.request_timeout,
        }))
    }

    /// Whether this client carries the same token as `other` (after a reload).
    pub(crate) fn same_token(&self, other: &Self) -> bool {
        self.credential().in_use == other.credential().in_use
    }

    /// A copy of the tokens now held.
    pub(super) fn credential(&self) -> Credential {
        self.credential.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Changes the tokens held and stores the issued ones in the token file.
    pub(super) fn update_credential(&self, change: impl FnOnce(&mut Credential)) {
        let mut credential = self.credential.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut credential);
        let Some(stored) = credential.stored() else { return };
        if let Err(error) = credential::save(&self.paths, &stored) {
            tracing::error!(error = %error, "Cannot store the device token; it is used for this check-in only.");
        }
    }

    /// `POST /api/v1/agent/checkin`.
    pub(crate) async fn checkin(&self, body: &CheckinBody) -> Result<CheckinReply, TenantError> {
        let text = serde_json::to_string(body).map_err(|error| TenantError::Garbage { reason: error.to_string() })?;
        let response = self.send(self.http.post(self.url("/api/v1/agent/checkin")).body(text)).await?;
        let bytes = read_body(response, InputKind::TenantReply).await?;
        structured_input::parse_json(&bytes, "the tenant's check-in reply", InputKind::TenantReply)
            .map_err(|error| TenantError::Garbage { reason: error.to_string() })
    }

    /// `GET /api/v1/agent/blueprint` for `device_id`, conditional on `etag`. The
    /// request has no body, so the device names itself in the query and a header.
    pub(crate) async fn blueprint(&self, device_id: &str, etag: Option<&str>) -> Result<BlueprintReply, TenantError> {
        let mut request = self
            .http
            .get(self.url("/api/v1/agent/blueprint"))
            .query(&[("device_id", device_id)])
            .header("X-Device-Id", device_id);
        if let Some(etag) = etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        let response = self.send(request).await?;
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(BlueprintReply::NotModified);
        }
        let etag = response.headers().get(ETAG).and_then(|value| value.to_str().ok()).map(str::to_string);
        Ok(BlueprintReply::Changed { body: read_body(response, InputKind::Blueprint).await?, etag })
    }

    /// POSTs a report body (already JSON) to `path`; any 2xx is acceptance.
    pub(crate) async fn post_report(&self, path: &str, body: &str) -> Result<(), TenantError> {
        let response = self.send(self.http.post(self.url(path)).body(body.to_string())).await?;
        read_body(response, InputKind::TenantReply).await.map(drop)
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends with the device token (the grace retry with the previous one after a
    /// rotation included), takes a rotated token from the reply, and forgets a
    /// revoked one; a status outside 2xx/304 becomes an error.
    async fn send(&self, request: RequestBuilder) -> Result<Response, TenantError> {
        let request = request.header(CONTENT_TYPE, "application/json");
        let Credential { in_use, previous, .. } = self.credential();
        let retry = request.try_clone();
        let mut response = send_with(request, in_use.as_ref()).await?;
        match (response.status(), previous, retry) {
            (StatusCode::UNAUTHORIZED, Some(previous), Some(retry)) => {
                tracing::warn!("The tenant refused the rotated device token; trying once more with the previous one.");
                response = send_with(retry, Some(&previous)).await?;
                if answered(response.status()) {
                    self.update_credential(|credential| credential.in_use = credential.previous.take());
                }
            }
            (status, Some(_), _) if answered(status) => {
                self.update_credential(|credential| credential.previous = None);
            }
            _ => {}
        }
        let status = response.status();
        if answered(status) {
            self.take_rotation(&response);
            return Ok(response);
        }
        if status == StatusCode::UNAUTHORIZED {
            self.forget_revoked_token();
            return Err(TenantError::Unauthorized);
        }
        Err(refusal(response).await)
    }

    /// Stores the token a reply's `X-Device-Token` rotates to, keeping the one in
    /// use as the previous one for a grace request.
    fn take_rotation(&self, response: &Response) {
        let Some(value) = response.headers().get(DEVICE_TOKEN_HEADER) else { return };
        let Some(token) = value.to_str().ok().filter(|text| credential::is_usable_token(text)) else {
            tracing::warn!("The tenant sent an unusable rotated device token; keeping the one in use.");
            return;
        };
        if self.credential().in_use.as_ref().is_some_and(|in_use| in_use.expose() == token) {
            return;
        }
        self.update_credential(|credential| {
            credential.previous = credential.in_use.replace(Secret::new(token));
            credential.source = TokenSource::Issued;
        });
        tracing::info!("The tenant rotated the device token; the new one is stored, the old one kept for one request.");
    }

    /// After a `401` to an issued token: it is revoked, so the token file goes and
    /// `tenant.token` (if any) is what is left.
    fn forget_revoked_token(&self) {
        let mut credential = self.credential.lock().unwrap_or_else(PoisonError::into_inner);
        if credential.source != TokenSource::Issued {
            return;
        }
        *credential = Credential::configured(credential.configured.clone());
        tracing::warn!("The tenant refused the device token (401): it is revoked; removing it.");
        if let Err(error) = credential::remove(&self.paths) {
            tracing::error!(error = %error, "Cannot remove the revoked device token file.");
        }
    }
}

/// Whether the tenant took the request: 2xx, or 304 to a conditional one.
fn answered(status: StatusCode) -> bool {
    status.is_success() || status == StatusCode::NOT_MODIFIED
}

/// Sends `request` with `token` as its bearer token; only an unanswered request
/// is an error here.
pub(super) async fn send_with(request: RequestBuilder, token: Option<&Secret>) -> Result<Response, TenantError> {
    let request = match token {
        Some(token) => request.header(AUTHORIZATION, format!("Bearer {}", token.expose())),
        None => request,
    };
    request.send().await.map_err(|error| TenantError::Unreachable { reason: causes(&error) })
}

/// The error for a reply that is neither an answer nor a `401`, with the tenant's message.
pub(super) async fn refusal(response: Response) -> TenantError {
    let status = response.status().as_u16();
    let message =
        read_body(response, InputKind::TenantReply).await.map(|bytes| tenant_message(&bytes)).unwrap_or_default();
    TenantError::Refused { status, message }
}

/// Reads a reply body, refusing one larger than `kind` allows (a garbage-talking
/// tenant cannot make the agent hold gigabytes); a body cut off by the timeout is
/// the tenant being unreachable.
pub(super) async fn read_body(mut response: Response, kind: InputKind) -> Result<Vec<u8>, TenantError> {
    let limit = usize::try_from(kind.max_bytes()).unwrap_or(usize::MAX);
    let mut bytes = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|error| TenantError::Unreachable { reason: causes(&error) })?
    {
        if bytes.len() + chunk.len() > limit {
            return Err(TenantError::Garbage { reason: format!("the reply is larger than {limit} bytes") });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The tenant's message in a refusal: `error` or `message` of a JSON body, else
/// the start of the body as text.
pub(crate) fn tenant_message(bytes: &[u8]) -> String {
    let from_json = serde_json::from_slice::<serde_json::Value>(bytes).ok().and_then(|value| {
        ["error", "message"]
            .iter()
            .find_map(|field| value.get(field).and_then(|text| text.as_str()).map(str::to_string))
    });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(bytes).trim().to_string());
    let shortened: String = text.chars().filter(|character| !character.is_control()).take(MAX_MESSAGE_CHARS).collect();
    if shortened.is_empty() { "(no message)".to_string() } else { shortened }
}

/// An error and its causes on one line, without the URL's query (never a token there,
/// but a tenant URL is not worth repeating in every line either).
fn causes(error: &reqwest::Error) -> String {
    let first = match error.url() {
        _ if error.is_timeout() => "timed out".to_string(),
        Some(url) => error.to_string().replace(&format!(" for url ({url})"), ""),
        None => error.to_string(),
    };
    crate::error_chain::causes_after(first, std::error::Error::source(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_refusals_park_a_report() {
        let refused = |status| TenantError::Refused { status, message: String::new() };
        for status in [400, 403, 410, 413, 422] {
            assert!(refused(status).parks_report(), "{status} parks");
        }
        for status in [404, 409, 429, 500, 503] {
            assert!(!refused(status).parks_report(), "{status} is retried");
        }
        assert!(!TenantError::Unauthorized.parks_report());
        assert!(!TenantError::Unreachable { reason: String::new() }.parks_report());
    }

    #[test]
    fn the_tenants_message_comes_from_json_or_text() {
        assert_eq!(tenant_message(br#"{"error": "run is malformed"}"#), "run is malformed");
        assert_eq!(tenant_message(br#"{"message": "too big"}"#), "too big");
        assert_eq!(tenant_message(b"  plain\ntext "), "plaintext");
        assert_eq!(tenant_message(b""), "(no message)");
        assert_eq!(tenant_message("x".repeat(1000).as_bytes()).len(), MAX_MESSAGE_CHARS);
    }
}
