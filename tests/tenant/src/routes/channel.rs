//! The command channel, `GET /api/v1/agent/commands?wait=SECONDS`: the daemon
//! holds this request open so a command an admin queues reaches the device within
//! seconds instead of at its next check-in.
//!
//! - `200 {"commands": [{"id", "type"}]}` at once when the device has commands that
//!   were neither delivered by a check-in nor offered on the channel before (they
//!   are marked offered); else the request is held until one is queued for the
//!   device (`200` then), or until `wait` seconds pass (`204`, no body).
//! - `wait` is whole seconds, 60 when absent, clamped to 0..=600; anything but an
//!   integer is a `400`.
//! - The device is named as on the blueprint `GET`: `?device_id=`, else the
//!   `X-Device-Id` header, else the device token's own device. Agent tokens only.
//! - `503` with a JSON error when the tenant shuts down while the request is held,
//!   so the agent counts an error and backs off.
//! - A tenant started with `--no-command-channel` (`Settings::without_command_channel`)
//!   does not have the route: `404`, as for any unknown route.
//!
//! The next check-in still hands over every offered command once more (see
//! `store::commands`): a channel reply the device missed is not lost.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;

use super::SharedState;
use super::agent::{requested_device, require_device_id, with_rotation};
use crate::auth::authorize;
use crate::channel::WakeUp;
use crate::error::ApiError;

/// How long a request is held when it does not say.
const DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// The longest a request is held, whatever it asks for.
const MAX_WAIT: Duration = Duration::from_secs(600);

/// The query of the command channel; both keys optional.
#[derive(Debug, Deserialize)]
pub(crate) struct ChannelQuery {
    device_id: Option<String>,
    /// Read as text so a non-number is a `400` with a JSON message.
    wait: Option<String>,
}

pub(crate) async fn commands(
    State(state): State<SharedState>,
    query: Result<Query<ChannelQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = authorize(&headers, &state)?;
    caller.require_agent()?;
    let Query(query) = query.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    let deadline = Instant::now() + wait_duration(query.wait.as_deref())?;
    let device_id = requested_device(query.device_id, &headers, &caller)?;
    require_device_id(&device_id)?;
    // Listen before the first look at the store, so a command queued in between wakes us.
    let mut listener = state.channel.listen();
    loop {
        if listener.is_closing() {
            return Err(shutting_down());
        }
        let commands = state.store.offer_commands(&device_id, state.clock.now()).map_err(ApiError::storage)?;
        if !commands.is_empty() {
            return Ok(with_rotation(Json(json!({ "commands": commands })).into_response(), &caller));
        }
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {
                return Ok(with_rotation(StatusCode::NO_CONTENT.into_response(), &caller));
            }
            wake_up = listener.wake_up() => {
                if wake_up == WakeUp::Closing {
                    return Err(shutting_down());
                }
            }
        }
    }
}

/// The reply to a request held (or arriving) while the tenant shuts down.
fn shutting_down() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the tenant is shutting down; ask again later")
}

/// `wait` as a duration: 60 s when absent, whole seconds clamped to 0..=600
/// (a negative number is 0, a number too large for any integer is 600).
fn wait_duration(wait: Option<&str>) -> Result<Duration, ApiError> {
    let Some(text) = wait else {
        return Ok(DEFAULT_WAIT);
    };
    let (negative, digits) = match text.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(ApiError::bad_request(format!("`wait` must be a whole number of seconds, not {text:?}")));
    }
    if negative {
        return Ok(Duration::ZERO);
    }
    let seconds = digits.parse::<u64>().unwrap_or(u64::MAX);
    Ok(Duration::from_secs(seconds).min(MAX_WAIT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_is_whole_seconds_clamped_to_ten_minutes() {
        let cases: [(Option<&str>, Option<u64>); 12] = [
            (None, Some(60)),
            (Some("0"), Some(0)),
            (Some("1"), Some(1)),
            (Some("+25"), Some(25)),
            (Some("600"), Some(600)),
            (Some("601"), Some(600)),
            (Some("99999999999999999999999"), Some(600)),
            (Some("-3"), Some(0)),
            (Some("abc"), None),
            (Some(""), None),
            (Some("1.5"), None),
            (Some("-"), None),
        ];
        for (wait, expected) in cases {
            let parsed = wait_duration(wait).ok().map(|duration| duration.as_secs());
            assert_eq!(parsed, expected, "wait={wait:?}");
        }
    }
}
