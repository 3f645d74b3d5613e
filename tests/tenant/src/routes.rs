//! The HTTP surface: the agent protocol under `/api/v1/agent` (enrollment
//! included), the devices API under `/api/v1/devices` (admin tokens only), and the
//! test clock under `/api/v1/test` (only with `--test-clock`).

mod agent;
mod devices;
mod enroll;

use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, post, put};

use crate::clock::Clock;
use crate::seed::ResolvedSeed;
use crate::store::Store;

/// Everything a handler needs.
pub(crate) struct AppState {
    pub(crate) seed: ResolvedSeed,
    pub(crate) store: Store,
    pub(crate) clock: Clock,
}

pub(crate) type SharedState = Arc<AppState>;

pub(crate) fn router(state: SharedState) -> Router {
    Router::new()
        .route("/api/v1/agent/enroll", post(enroll::enroll))
        .route("/api/v1/agent/checkin", post(agent::checkin))
        .route("/api/v1/agent/blueprint", get(agent::blueprint))
        .route("/api/v1/agent/results", post(agent::results))
        .route("/api/v1/agent/inventory", post(agent::inventory))
        .route("/api/v1/agent/mdm", post(agent::mdm))
        .route("/api/v1/devices", get(devices::list))
        .route("/api/v1/devices/{device_id}", get(devices::show))
        .route("/api/v1/devices/{device_id}", delete(devices::remove))
        .route("/api/v1/devices/{device_id}/action/{action}", post(devices::action))
        .route("/api/v1/devices/{device_id}/token/rotate", post(devices::rotate_token))
        .route("/api/v1/devices/{device_id}/token", delete(devices::revoke_token))
        .route("/api/v1/devices/{device_id}/reports/{kind}", get(devices::reports))
        .route("/api/v1/devices/{device_id}/checkins", get(devices::checkins))
        .route("/api/v1/devices/{device_id}/deferrals", get(devices::deferrals))
        .route("/api/v1/devices/{device_id}/commands", get(devices::commands))
        .route("/api/v1/test/clock", put(devices::set_clock))
        .with_state(state)
}
