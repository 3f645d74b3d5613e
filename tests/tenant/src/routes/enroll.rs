//! `POST /api/v1/agent/enroll`: an enrollment secret, and only that, exchanges the
//! device's facts for a new random device token (replacing any token the device
//! had). The secret itself never acts as a device.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::SharedState;
use super::agent::require_device_id;
use crate::auth::authorize;
use crate::error::{ApiError, parse_json};

/// The enrollment body: `device_id` is required; the device's other facts
/// (`serial_number`, `hostname`, ...) are recorded by its first check-in.
#[derive(Debug, Deserialize)]
pub(crate) struct EnrollBody {
    device_id: String,
}

pub(crate) async fn enroll(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&headers, &state)?.require_enrollment()?;
    let enrollment: EnrollBody = parse_json(&body)?;
    require_device_id(&enrollment.device_id)?;
    let token = state.store.issue_token(&enrollment.device_id, state.clock.now()).map_err(|error| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot issue a device token: {error}"))
    })?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "device_token": token }))).into_response())
}
