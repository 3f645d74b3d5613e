//! Bearer tokens: a tenant-wide token may act for any device and read the devices
//! API; a device token may only act for its own device.

use axum::http::{HeaderMap, StatusCode, header};

use crate::error::ApiError;
use crate::seed::ResolvedSeed;

/// Who made a request, as far as its token tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    /// A tenant-wide token.
    Tenant,
    /// A token issued to one device.
    Device(String),
}

impl Caller {
    /// Refuses a device token used for another device's report or check-in.
    pub(crate) fn check_device(&self, device_id: &str) -> Result<(), ApiError> {
        match self {
            Caller::Device(own) if own != device_id => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("this token belongs to another device, not {device_id}"),
            )),
            _ => Ok(()),
        }
    }

    /// Refuses a device token on the admin API.
    pub(crate) fn require_tenant(&self) -> Result<(), ApiError> {
        match self {
            Caller::Tenant => Ok(()),
            Caller::Device(_) => Err(ApiError::new(StatusCode::FORBIDDEN, "a device token cannot use the devices API")),
        }
    }
}

/// Reads `Authorization: Bearer <token>` and matches it; 401 when missing or unknown.
pub(crate) fn authorize(headers: &HeaderMap, seed: &ResolvedSeed) -> Result<Caller, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "missing bearer token"))?;
    if seed.tokens.iter().any(|known| known == token) {
        return Ok(Caller::Tenant);
    }
    seed.device_tokens
        .iter()
        .find(|(_, known)| known.as_str() == token)
        .map(|(device_id, _)| Caller::Device(device_id.clone()))
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "invalid bearer token"))
}
