//! The HTTP surface: the agent protocol under `/api/v1/agent` (enrollment
//! included), the devices API under `/api/v1/devices` (admin tokens only), and the
//! test clock under `/api/v1/test` (only with `--test-clock`).
//!
//! ```text
//! POST   /api/v1/agent/enroll                     enrollment secret -> device token   (enroll)
//! POST   /api/v1/agent/checkin                    device facts -> commands, versions  (agent)
//! GET    /api/v1/agent/blueprint                  the device's blueprint, ETag / 304  (agent)
//! POST   /api/v1/agent/results|inventory|mdm      reports, de-duplicated by id        (agent)
//! GET    /api/v1/agent/commands?wait=S            command channel: held until a command is
//!                                                 queued (200) or S seconds pass (204);
//!                                                 absent with --no-command-channel   (channel)
//! GET    /api/v1/devices[/{id}]                   devices with their verdicts         (devices)
//! DELETE /api/v1/devices/{id}                     mark removed
//! POST   /api/v1/devices/{id}/action/{action}     queue blankpush|dailycheckin|updateinventory,
//!                                                 waking the device's held channel request
//! POST   /api/v1/devices/{id}/token/rotate        rotate its issued token
//! DELETE /api/v1/devices/{id}/token               revoke it
//! GET    /api/v1/devices/{id}/reports/{kind}      results|inventory|mdm reports
//! GET    /api/v1/devices/{id}/checkins|deferrals  its check-ins, its deferrals
//! GET    /api/v1/devices/{id}/commands            its commands: queued_at, offered_at, delivered_at
//! PUT    /api/v1/test/clock                       move "now" (only with --test-clock)
//! ```

mod agent;
mod channel;
mod devices;
mod enroll;

use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, post, put};

use crate::channel::CommandChannel;
use crate::clock::Clock;
use crate::seed::ResolvedSeed;
use crate::store::Store;

/// Everything a handler needs.
pub(crate) struct AppState {
    pub(crate) seed: ResolvedSeed,
    pub(crate) store: Store,
    pub(crate) clock: Clock,
    /// Wakes held command-channel requests when a command is queued or the tenant stops.
    pub(crate) channel: Arc<CommandChannel>,
}

pub(crate) type SharedState = Arc<AppState>;

/// Every route; the command channel's only when `offer_command_channel`, so a
/// tenant without it answers `404` there exactly as for an unknown route.
pub(crate) fn router(state: SharedState, offer_command_channel: bool) -> Router {
    let router = Router::new()
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
        .route("/api/v1/test/clock", put(devices::set_clock));
    let router =
        if offer_command_channel { router.route("/api/v1/agent/commands", get(channel::commands)) } else { router };
    router.with_state(state)
}
