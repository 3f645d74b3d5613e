//! Telemetry: what the agent tells a fleet console over OpenTelemetry (OTLP over
//! HTTP/protobuf), as `CONTRACT.md` ("OpenTelemetry") names it.
//!
//! ```text
//! checkin ── prepare ──► destination (otel.* keys, OTEL_* variables)
//!    │                   resource (device, host, OS, blueprint, team)
//!    │                   └─► pipeline::activate (providers + OTLP exporters)
//!    ├── events::* .emit() ─► log line + metric (+ log record) into the pipeline
//!    └── flush ─────────────► POST /v1/metrics, /v1/logs, each bounded by its timeout
//! ```
//!
//! `events/` is the list of everything emitted; `destination` says where it goes;
//! `resource` who is sending; `pipeline` how it is sent. Telemetry never fails or
//! stalls a check-in: with no endpoint configured nothing is built, and a dead or
//! hung collector costs one bounded wait and a warning.

mod destination;
pub(crate) mod events;
mod pipeline;
mod resource;
mod scope_version;

use crate::blueprint::Blueprint;
use crate::config::AgentConfig;
use crate::paths::AgentPaths;
use crate::state::Store;

pub(crate) use pipeline::flush;

/// Whether anything is exported: an endpoint is configured and the SDK is not disabled.
pub(crate) fn is_on(config: &AgentConfig) -> bool {
    !destination::Destination::from_environment(&config.otel).is_off()
}

/// Points the events of the coming check-in at the configured collector, under a
/// resource naming this device and `blueprint` (none when no policy has arrived).
/// With no endpoint configured, telemetry is off and nothing is read.
pub(crate) async fn prepare(paths: &AgentPaths, config: &AgentConfig, store: &Store, blueprint: Option<&Blueprint>) {
    let destination = destination::Destination::from_environment(&config.otel);
    if destination.is_off() {
        pipeline::activate(destination, opentelemetry_sdk::Resource::builder_empty().build());
        return;
    }
    let device_id = store.device_id().unwrap_or_else(|error| {
        tracing::warn!(error = %error, "Cannot read the device id; device.id is empty in telemetry.");
        String::new()
    });
    let facts = resource::ResourceFacts {
        device_id,
        host_name: resource::host_name(),
        os_version: resource::os_version(paths, config).await,
        blueprint_id: blueprint.map(|blueprint| blueprint.id.clone()),
        team_id: blueprint.and_then(|blueprint| blueprint.team_id.clone()),
    };
    pipeline::activate(destination, resource::merge(&resource::from_environment(), &facts));
}
