//! Exchanging the enrollment secret for a device token: `POST /api/v1/agent/enroll`
//! with `Authorization: Bearer <tenant.enrollment_secret>` and `{device_id,
//! serial_number, hostname, os_version, agent_version}`, answered `{device_token}`.
//!
//! A check-in enrolls before its first request when it has a secret and no token;
//! a `401` to the device token (revoked) makes it enroll again, once per check-in
//! ([`super::session::Session::recover`]). The secret goes to this endpoint alone;
//! the token the tenant answers with is stored root-only ([`super::credential`]).

use super::client::{TenantClient, TenantError, read_body, refusal, send_with};
use super::credential::{self, Credential, TokenSource};
use super::protocol::{EnrollBody, EnrollReply};
use crate::config::Secret;
use crate::inventory::CheapFacts;
use crate::state::{Store, StoreError};
use crate::structured_input::{self, InputKind};

/// Where enrollment goes.
const ENROLL_PATH: &str = "/api/v1/agent/enroll";

/// Who this device is, as an enrollment (and a check-in) names it.
pub(super) fn enroll_body(store: &Store, facts: &CheapFacts) -> Result<EnrollBody, StoreError> {
    Ok(EnrollBody {
        device_id: store.device_id()?,
        serial_number: facts.serial_number.clone(),
        hostname: nix::unistd::gethostname().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default(),
        os_version: facts.os_version.clone(),
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
    })
}

impl TenantClient {
    /// Whether an enrollment may be tried now: a secret is configured, the device
    /// is known, and none was tried with this client yet.
    pub(super) fn can_enroll(&self) -> bool {
        self.enrollment_secret.is_some() && self.enrollment.is_some() && !self.enrolled
    }

    /// Whether the device has no token yet but can get one.
    pub(super) fn needs_enrollment(&self) -> bool {
        self.credential().in_use.is_none() && self.can_enroll()
    }

    /// Tells the client who the device is, for an enrollment.
    pub(super) fn set_enrollment(&mut self, body: EnrollBody) {
        self.enrollment = Some(body);
    }

    /// Takes over what `other` (the client before a reload) knew: who the device is
    /// and whether it enrolled in this check-in already.
    pub(super) fn carry_over(&mut self, other: &Self) {
        self.enrollment = other.enrollment.clone();
        self.enrolled = other.enrolled;
    }

    /// Enrolls with the secret and stores the device token the tenant issues; the
    /// token in use until then (a revoked one) is dropped.
    pub(super) async fn enroll(&mut self) -> Result<(), TenantError> {
        self.enrolled = true;
        let (Some(secret), Some(body)) = (self.enrollment_secret.clone(), self.enrollment.as_ref()) else {
            return Err(TenantError::Unauthorized);
        };
        let text = serde_json::to_string(body).map_err(|error| TenantError::Garbage { reason: error.to_string() })?;
        let request = self.http.post(self.url(ENROLL_PATH)).header(reqwest::header::CONTENT_TYPE, "application/json");
        let response = send_with(request.body(text), Some(&secret)).await?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            tracing::error!("The tenant refused the enrollment secret (401).");
            return Err(TenantError::Unauthorized);
        }
        if !status.is_success() {
            return Err(refusal(response).await);
        }
        let bytes = read_body(response, InputKind::TenantReply).await?;
        let reply: EnrollReply =
            structured_input::parse_json(&bytes, "the tenant's enrollment reply", InputKind::TenantReply)
                .map_err(|error| TenantError::Garbage { reason: error.to_string() })?;
        if !credential::is_usable_token(&reply.device_token) {
            return Err(TenantError::Garbage { reason: "the device token is not 1 to 4096 visible characters".into() });
        }
        self.update_credential(|credential| {
            *credential = Credential {
                in_use: Some(Secret::new(reply.device_token)),
                previous: None,
                source: TokenSource::Issued,
                configured: credential.configured.clone(),
            };
        });
        tracing::info!("Enrolled with the tenant; the device token is stored.");
        Ok(())
    }
}
