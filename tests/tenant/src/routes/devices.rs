//! The devices API an admin console or an integration reads: each device's last
//! check-in, agent version, blueprint, last inventory and verdicts; its check-ins,
//! reports, deferrals and commands in order, and its pending disruptive work;
//! and the actions that queue a command for the device (its held command-channel
//! request is woken at once; its next check-in delivers it in any case) or rotate
//! or revoke its token. Every route needs an admin token.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::SharedState;
use crate::auth::authorize;
use crate::error::{ApiError, parse_json};
use crate::store::DeviceRow;
use crate::verdict::{Verdicts, judge};

/// The commands an admin may queue, named as the agent receives them.
const ACTIONS: [&str; 3] = ["blankpush", "dailycheckin", "updateinventory"];

/// The report kinds that can be listed back.
const REPORT_KINDS: [&str; 3] = ["results", "inventory", "mdm"];

/// One device with its verdicts, as the API returns it.
#[derive(Debug, Serialize)]
struct DeviceView {
    #[serde(flatten)]
    device: DeviceRow,
    #[serde(flatten)]
    verdicts: Verdicts,
    /// The disruptive work that waits on the person or a deadline, as the
    /// device's newest results report listed it (`[]` when none).
    pending_work: serde_json::Value,
}

fn view(state: &SharedState, device: DeviceRow, now: DateTime<Utc>) -> Result<DeviceView, ApiError> {
    let verdicts = judge(&device, now);
    let pending_work = state.store.pending_work(&device.device_id).map_err(ApiError::storage)?;
    Ok(DeviceView { device, verdicts, pending_work })
}

fn admin(state: &SharedState, headers: &HeaderMap) -> Result<(), ApiError> {
    authorize(headers, state)?.require_admin()
}

pub(crate) async fn list(State(state): State<SharedState>, headers: HeaderMap) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    let now = state.clock.now();
    let devices = state.store.devices().map_err(ApiError::storage)?;
    let views = devices.into_iter().map(|device| view(&state, device, now)).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(serde_json::json!({ "now": now, "devices": views })).into_response())
}

pub(crate) async fn show(
    State(state): State<SharedState>,
    Path(device_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    let device = state
        .store
        .device(&device_id)
        .map_err(ApiError::storage)?
        .ok_or_else(|| ApiError::not_found(format!("no device {device_id}")))?;
    Ok(Json(view(&state, device, state.clock.now())?).into_response())
}

pub(crate) async fn remove(
    State(state): State<SharedState>,
    Path(device_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    if !state.store.remove_device(&device_id).map_err(ApiError::storage)? {
        return Err(ApiError::not_found(format!("no device {device_id}")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn action(
    State(state): State<SharedState>,
    Path((device_id, action)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    if !ACTIONS.contains(&action.as_str()) {
        return Err(ApiError::not_found(format!("unknown action {action}; expected one of {}", ACTIONS.join(", "))));
    }
    let command_id = state.store.queue_command(&device_id, &action, state.clock.now()).map_err(ApiError::storage)?;
    state.channel.announce_queued();
    let reply = serde_json::json!({ "id": command_id, "type": action, "device_id": device_id });
    Ok((StatusCode::ACCEPTED, Json(reply)).into_response())
}

/// Rotates the device's issued token: the new one goes out with its next reply.
pub(crate) async fn rotate_token(
    State(state): State<SharedState>,
    Path(device_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    let rotated = state.store.rotate_token(&device_id).map_err(|error| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot rotate the token: {error}"))
    })?;
    if !rotated {
        return Err(ApiError::not_found(format!("device {device_id} has no issued token")));
    }
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "device_id": device_id, "rotated": true }))).into_response())
}

/// Revokes the device's issued token: its next request gets `401`.
pub(crate) async fn revoke_token(
    State(state): State<SharedState>,
    Path(device_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    if !state.store.revoke_token(&device_id).map_err(ApiError::storage)? {
        return Err(ApiError::not_found(format!("device {device_id} has no issued token")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn reports(
    State(state): State<SharedState>,
    Path((device_id, kind)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    if !REPORT_KINDS.contains(&kind.as_str()) {
        return Err(ApiError::not_found(format!("unknown report kind {kind}")));
    }
    let reports = state.store.reports(&device_id, &kind).map_err(ApiError::storage)?;
    Ok(Json(serde_json::json!({ "reports": reports })).into_response())
}

/// Every deferral the device's results reports carried, in arrival order, each
/// with its run.
pub(crate) async fn deferrals(
    State(state): State<SharedState>,
    Path(device_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    let deferrals = state.store.deferrals(&device_id).map_err(ApiError::storage)?;
    Ok(Json(serde_json::json!({ "deferrals": deferrals })).into_response())
}

pub(crate) async fn checkins(
    State(state): State<SharedState>,
    Path(device_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    let checkins = state.store.checkins(&device_id).map_err(ApiError::storage)?;
    Ok(Json(serde_json::json!({ "checkins": checkins })).into_response())
}

/// The device's commands in queue order, each with `queued_at`, `offered_at` (the
/// command channel handed it out) and `delivered_at` (a check-in did).
pub(crate) async fn commands(
    State(state): State<SharedState>,
    Path(device_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    admin(&state, &headers)?;
    let commands = state.store.commands(&device_id).map_err(ApiError::storage)?;
    Ok(Json(serde_json::json!({ "commands": commands })).into_response())
}

/// The test clock's body: an RFC 3339 time, or null for the wall clock.
#[derive(Debug, Deserialize)]
struct ClockBody {
    now: Option<DateTime<Utc>>,
}

pub(crate) async fn set_clock(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !state.clock.is_settable() {
        return Err(ApiError::not_found("the test clock is disabled; start the tenant with --test-clock"));
    }
    admin(&state, &headers)?;
    let clock: ClockBody = parse_json(&body)?;
    state.clock.set(clock.now);
    Ok(Json(serde_json::json!({ "now": state.clock.now() })).into_response())
}
