//! The agent's side of the protocol: check-in, blueprint, and the three reports
//! (the command channel, held open between check-ins, is in `channel`). The
//! check-in reply hands over every command not yet delivered, those the channel
//! already offered included.
//! A device whose token an admin rotated gets the new one in the `X-Device-Token`
//! header of every reply until it uses it (`store::credentials`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::SharedState;
use crate::auth::{Caller, authorize};
use crate::error::{ApiError, parse_json};
use crate::store::{CheckinRecord, HeldBlueprint};

/// The check-in body; only `device_id` is required.
#[derive(Debug, Deserialize)]
pub(crate) struct CheckinBody {
    device_id: String,
    kind: Option<String>,
    agent_version: Option<String>,
    serial_number: Option<String>,
    hostname: Option<String>,
    os_version: Option<String>,
}

pub(crate) async fn checkin(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = authorize(&headers, &state)?;
    caller.require_agent()?;
    let checkin: CheckinBody = parse_json(&body)?;
    require_device_id(&checkin.device_id)?;
    caller.check_device(&checkin.device_id)?;
    let record = CheckinRecord {
        device_id: &checkin.device_id,
        kind: checkin.kind.as_deref(),
        agent_version: checkin.agent_version.as_deref(),
        serial_number: checkin.serial_number.as_deref(),
        hostname: checkin.hostname.as_deref(),
        os_version: checkin.os_version.as_deref(),
        body: std::str::from_utf8(&body).unwrap_or_default(),
    };
    let commands = state.store.record_checkin(&record, state.clock.now()).map_err(ApiError::storage)?;
    let mut reply = json!({ "commands": commands });
    if let Some(minimum) = &state.seed.minimum_agent_version {
        reply["minimum_agent_version"] = json!(minimum);
    }
    if let Some(latest) = &state.seed.latest_agent {
        reply["latest_agent"] = latest.clone();
    }
    Ok(with_rotation(Json(reply).into_response(), &caller))
}

/// The reply header carrying a rotated device token.
pub(crate) const DEVICE_TOKEN_HEADER: &str = "x-device-token";

/// Adds the rotated token the caller has not used yet, if any, to `response`.
pub(super) fn with_rotation(mut response: Response, caller: &Caller) -> Response {
    if let Some(value) = caller.announce().and_then(|token| HeaderValue::from_str(token).ok()) {
        response.headers_mut().insert(DEVICE_TOKEN_HEADER, value);
    }
    response
}

/// How the device names itself on the blueprint `GET`, which has no body.
#[derive(Debug, Deserialize)]
pub(crate) struct BlueprintQuery {
    device_id: Option<String>,
}

/// The device a request without a body names: `named` (from `?device_id=`), else
/// the `X-Device-Id` header, else the caller's device token. The blueprint `GET` and
/// the command channel both use it.
pub(super) fn requested_device(
    named: Option<String>,
    headers: &HeaderMap,
    caller: &Caller,
) -> Result<String, ApiError> {
    let named = named.or_else(|| headers.get("x-device-id").and_then(|value| value.to_str().ok()).map(str::to_owned));
    match (named, caller) {
        (Some(device_id), _) => {
            caller.check_device(&device_id)?;
            Ok(device_id)
        }
        (None, Caller::Device { device_id, .. }) => Ok(device_id.clone()),
        (None, _) => Err(ApiError::bad_request("name the device with ?device_id= or X-Device-Id")),
    }
}

pub(crate) async fn blueprint(
    State(state): State<SharedState>,
    Query(query): Query<BlueprintQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = authorize(&headers, &state)?;
    caller.require_agent()?;
    let device_id = requested_device(query.device_id, &headers, &caller)?;
    let served = state
        .seed
        .blueprint_for(&device_id)
        .ok_or_else(|| ApiError::not_found(format!("no blueprint assigned to device {device_id}")))?;
    let unchanged = if_none_match(&headers, &served.etag);
    let held = HeldBlueprint { id: served.id.as_deref(), etag: &served.etag, sent: !unchanged };
    state.store.record_blueprint(&device_id, &held, state.clock.now()).map_err(ApiError::storage)?;
    let etag = HeaderValue::from_str(&served.etag).map_err(|_| ApiError::bad_request("unusable ETag"))?;
    if unchanged {
        return Ok(with_rotation((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response(), &caller));
    }
    let headers = [(header::ETAG, etag), (header::CONTENT_TYPE, HeaderValue::from_static("application/json"))];
    Ok(with_rotation((headers, served.body.clone()).into_response(), &caller))
}

/// Whether `If-None-Match` names this ETag (a list, weak tags and `*` included).
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag))
}

/// Results also record what waits on the person: the run's `deferrals` and the
/// device's `pending_work` (see `store::waiting`).
pub(crate) async fn results(state: State<SharedState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let (response, report) = store_report(&state, &headers, &body, "results", "run_id")?;
    if let Some(report) = report {
        let device_id = report["device_id"].as_str().unwrap_or_default();
        state.store.record_waiting_work(device_id, &report, state.clock.now()).map_err(ApiError::storage)?;
    }
    Ok(response)
}

pub(crate) async fn mdm(state: State<SharedState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    store_report(&state, &headers, &body, "mdm", "report_id").map(|(response, _)| response)
}

/// Inventory also updates the device: its time, and the MDM profile fields
/// `inventory.mdm_profile_installed` (bool) and `inventory.mdm_enrolled_at` (RFC 3339).
pub(crate) async fn inventory(
    state: State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (response, report) = store_report(&state, &headers, &body, "inventory", "report_id")?;
    if let Some(report) = report {
        let inventory = report.get("inventory");
        let installed = inventory.and_then(|inventory| inventory.get("mdm_profile_installed")).and_then(Value::as_bool);
        let enrolled = inventory
            .and_then(|inventory| inventory.get("mdm_enrolled_at"))
            .and_then(Value::as_str)
            .and_then(|text| text.parse().ok());
        let device_id = report["device_id"].as_str().unwrap_or_default();
        state.store.record_inventory(device_id, installed, enrolled, state.clock.now()).map_err(ApiError::storage)?;
    }
    Ok(response)
}

/// Checks and stores one report; returns the reply and, when it was new, the parsed body.
fn store_report(
    state: &SharedState,
    headers: &HeaderMap,
    body: &[u8],
    kind: &str,
    id_key: &str,
) -> Result<(Response, Option<Value>), ApiError> {
    let caller = authorize(headers, state)?;
    caller.require_agent()?;
    let report: Value = parse_json(body)?;
    let device_id = text_field(&report, "device_id")?;
    let report_id = text_field(&report, id_key)?;
    caller.check_device(device_id)?;
    let text = std::str::from_utf8(body).unwrap_or_default();
    let stored =
        state.store.store_report(kind, report_id, device_id, text, state.clock.now()).map_err(ApiError::storage)?;
    let status = if stored { StatusCode::CREATED } else { StatusCode::OK };
    let response = (status, Json(json!({ "stored": stored, "duplicate": !stored }))).into_response();
    let response = with_rotation(response, &caller);
    Ok((response, stored.then_some(report)))
}

fn text_field<'a>(report: &'a Value, key: &str) -> Result<&'a str, ApiError> {
    let value = report.get(key).and_then(Value::as_str).unwrap_or_default();
    require_device_id(value).map_err(|_| ApiError::bad_request(format!("`{key}` must be a non-empty string")))?;
    Ok(value)
}

pub(crate) fn require_device_id(device_id: &str) -> Result<(), ApiError> {
    if device_id.trim().is_empty() {
        return Err(ApiError::bad_request("`device_id` must be a non-empty string"));
    }
    Ok(())
}
