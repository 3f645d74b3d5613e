//! Bearer tokens, each good for one thing: an admin token for the devices API, an
//! enrollment secret for `/api/v1/agent/enroll`, a device token (seeded, or issued
//! at enrollment) for its own device's requests, and a fleet-wide agent token for
//! any device's requests. None of them works where another is needed.

use axum::http::{HeaderMap, StatusCode, header};

use crate::error::ApiError;
use crate::routes::AppState;

/// Who made a request, as far as its token tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    /// An admin token.
    Admin,
    /// An enrollment secret.
    Enrollment,
    /// A fleet-wide agent token.
    Fleet,
    /// A token of one device.
    Device {
        /// The device it belongs to.
        device_id: String,
        /// A rotated token the reply must carry (`X-Device-Token`).
        announce: Option<String>,
    },
}

impl Caller {
    /// Refuses anything but an agent token for this device: another device's
    /// token, an admin token, an enrollment secret.
    pub(crate) fn check_device(&self, device_id: &str) -> Result<(), ApiError> {
        match self {
            Caller::Device { device_id: own, .. } if own != device_id => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("this token belongs to another device, not {device_id}"),
            )),
            Caller::Device { .. } | Caller::Fleet => Ok(()),
            Caller::Enrollment => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "an enrollment secret can only enroll a device (POST /api/v1/agent/enroll)",
            )),
            Caller::Admin => {
                Err(ApiError::new(StatusCode::FORBIDDEN, "an admin token cannot act as a device; use a device token"))
            }
        }
    }

    /// Refuses an admin token or an enrollment secret on the agent API, before
    /// anything else of the request is looked at.
    pub(crate) fn require_agent(&self) -> Result<(), ApiError> {
        match self {
            Caller::Enrollment | Caller::Admin => self.check_device(""),
            Caller::Device { .. } | Caller::Fleet => Ok(()),
        }
    }

    /// Refuses anything but an admin token on the devices API.
    pub(crate) fn require_admin(&self) -> Result<(), ApiError> {
        match self {
            Caller::Admin => Ok(()),
            _ => Err(ApiError::new(StatusCode::FORBIDDEN, "the devices API needs an admin token")),
        }
    }

    /// Refuses anything but an enrollment secret on `/api/v1/agent/enroll`.
    pub(crate) fn require_enrollment(&self) -> Result<(), ApiError> {
        match self {
            Caller::Enrollment => Ok(()),
            _ => Err(ApiError::new(StatusCode::FORBIDDEN, "enrolling needs an enrollment secret")),
        }
    }

    /// The rotated token this caller's reply carries, if any.
    pub(crate) fn announce(&self) -> Option<&str> {
        match self {
            Caller::Device { announce, .. } => announce.as_deref(),
            _ => None,
        }
    }
}

/// Reads `Authorization: Bearer <token>` and matches it; 401 when missing or unknown
/// (a revoked device token included).
pub(crate) fn authorize(headers: &HeaderMap, state: &AppState) -> Result<Caller, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "missing bearer token"))?;
    let seed = &state.seed;
    let known = |list: &[String]| list.iter().any(|known| known == token);
    if known(&seed.admin_tokens) {
        return Ok(Caller::Admin);
    }
    if known(&seed.enrollment_secrets) {
        return Ok(Caller::Enrollment);
    }
    if known(&seed.tokens) {
        return Ok(Caller::Fleet);
    }
    if let Some((device_id, _)) = seed.device_tokens.iter().find(|(_, known)| known.as_str() == token) {
        return Ok(Caller::Device { device_id: device_id.clone(), announce: None });
    }
    match state.store.token_owner(token).map_err(ApiError::storage)? {
        Some(owner) => Ok(Caller::Device { device_id: owner.device_id, announce: owner.announce }),
        None => Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid bearer token")),
    }
}
