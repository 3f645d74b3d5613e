//! The resource: who is sending. Every metric and log record the agent exports
//! carries these attributes, which is how a fleet console tells devices apart and
//! spots the ones without a policy.
//!
//! | attribute | value |
//! | --- | --- |
//! | `service.name` | `endpoint-agent` |
//! | `service.version`, `app.version` | the agent's version |
//! | `device.id` | the device id the state store keeps (the tenant's `device_id`) |
//! | `service.instance.id` | the same device id: one instance per device, whichever process (`agent run`, the daemon) exports; left out while the id cannot be read |
//! | `host.name` | the host name |
//! | `os.type`, `os.version` | `darwin` and `sw_vers`'s `ProductVersion` on a Mac; `linux` and `VERSION_ID` of `etc/os-release` elsewhere |
//! | `blueprint.id` | the blueprint the check-in enforces; absent without one |
//! | `team.id` | the blueprint's team; absent until a blueprint with a team arrives (the missing-policy signal) |
//!
//! `OTEL_RESOURCE_ATTRIBUTES` (and `OTEL_SERVICE_NAME`) are read by the SDK's own
//! detectors and merged in; the agent's attributes win on a clash, so a stray
//! variable cannot make one Mac pass for another.
//!
//! `service.instance.id` is the device id as it is: a UUID the agent generated at
//! random on this device and keeps (`state::device_identity`), which is what the
//! semantic conventions recommend (a random UUID; "persistent" preferred), and it
//! is already exported as `device.id`, so deriving a version 5 UUID from it (their
//! advice for an *inherent* id that should stay confidential) would hide nothing.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use tokio_util::sync::CancellationToken;

use crate::config::AgentConfig;
use crate::operating_system::{parse_os_release, parse_sw_vers};
use crate::paths::AgentPaths;
use crate::process::{ChildEnd, ChildSpec, Limits, SpawnError, run_child};

/// The `service.name` of every export.
pub(crate) const SERVICE_NAME: &str = "endpoint-agent";

/// How long `sw_vers` may take before the version is left out.
const SW_VERS_TIMEOUT: Duration = Duration::from_secs(5);

/// What the agent knows about itself and its policy at a check-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceFacts {
    /// The state store's device id.
    pub(crate) device_id: String,
    /// The host name, as the kernel has it.
    pub(crate) host_name: String,
    /// The operating system's version, when it could be read.
    pub(crate) os_version: Option<String>,
    /// The blueprint being enforced, if any.
    pub(crate) blueprint_id: Option<String>,
    /// The blueprint's team, if it names one.
    pub(crate) team_id: Option<String>,
}

/// `os.type` as OpenTelemetry names it: `darwin` on a Mac, else the platform's name.
pub(crate) fn os_type() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// The host name, or empty when the kernel will not say.
pub(crate) fn host_name() -> String {
    nix::unistd::gethostname().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The attributes the agent sets itself.
pub(crate) fn agent_attributes(facts: &ResourceFacts) -> Vec<KeyValue> {
    let version = env!("CARGO_PKG_VERSION");
    let mut attributes = vec![
        KeyValue::new("service.name", SERVICE_NAME),
        KeyValue::new("service.version", version),
        KeyValue::new("app.version", version),
        KeyValue::new("device.id", facts.device_id.clone()),
        KeyValue::new("host.name", facts.host_name.clone()),
        KeyValue::new("os.type", os_type()),
    ];
    let instance_id = Some(facts.device_id.clone());
    let optional = [
        ("service.instance.id", &instance_id),
        ("os.version", &facts.os_version),
        ("blueprint.id", &facts.blueprint_id),
        ("team.id", &facts.team_id),
    ];
    for (key, value) in optional {
        if let Some(value) = value.as_deref().map(str::trim).filter(|value| !value.is_empty()) {
            attributes.push(KeyValue::new(key, value.to_string()));
        }
    }
    attributes
}

/// What the SDK's detectors find in the environment (`OTEL_RESOURCE_ATTRIBUTES`,
/// `OTEL_SERVICE_NAME`, the SDK's own `telemetry.sdk.*`).
pub(crate) fn from_environment() -> Resource {
    Resource::builder().build()
}

/// `environment` with the agent's attributes laid over it.
pub(crate) fn merge(environment: &Resource, facts: &ResourceFacts) -> Resource {
    let inherited = environment.iter().map(|(key, value)| KeyValue::new(key.clone(), value.clone()));
    Resource::builder_empty().with_attributes(inherited).with_attributes(agent_attributes(facts)).build()
}

/// The OS version: `sw_vers` (`commands.sw_vers`), or `etc/os-release` under the
/// root where that program does not exist. `None`, with a warning, when neither
/// says; the attribute is then left out rather than guessed.
pub(crate) async fn os_version(paths: &AgentPaths, config: &AgentConfig) -> Option<String> {
    let program = &config.commands.sw_vers;
    let spec = ChildSpec { current_dir: Some(paths.root.clone()), ..ChildSpec::new(program) };
    let limits = Limits::new(tokio::time::Instant::now() + SW_VERS_TIMEOUT, Duration::from_secs(1));
    let read = match run_child(&spec, &limits, &CancellationToken::new()).await {
        Ok(outcome) if outcome.end == (ChildEnd::Exited { code: 0 }) => {
            parse_sw_vers(&outcome.output.to_text()).map_err(|error| error.to_string())
        }
        Ok(outcome) => Err(format!("{} ended with {:?}", program.display(), outcome.end)),
        Err(SpawnError::NotFound { .. }) => {
            let path = paths.root.join("etc/os-release");
            std::fs::read_to_string(&path)
                .map_err(|error| format!("cannot read {}: {error}", path.display()))
                .and_then(|text| parse_os_release(&text).map_err(|error| error.to_string()))
        }
        Err(error) => Err(error.to_string()),
    };
    match read {
        Ok(installed) => Some(installed.version.to_string()),
        Err(error) => {
            tracing::warn!(error = %error, "Cannot read the OS version; os.version is left out of telemetry.");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn facts(team_id: Option<&str>) -> ResourceFacts {
        ResourceFacts {
            device_id: "dev-1".to_string(),
            host_name: "mac-42".to_string(),
            os_version: Some("14.7.1".to_string()),
            blueprint_id: Some("bp-eng".to_string()),
            team_id: team_id.map(str::to_string),
        }
    }

    fn as_map(resource: &Resource) -> BTreeMap<String, String> {
        resource.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
    }

    #[test]
    fn the_agent_names_itself_its_device_os_and_policy() {
        let resource = merge(&Resource::builder_empty().build(), &facts(Some("T-1234")));
        let version = env!("CARGO_PKG_VERSION");
        let expected: BTreeMap<String, String> = [
            ("service.name", "endpoint-agent"),
            ("service.version", version),
            ("app.version", version),
            ("device.id", "dev-1"),
            ("service.instance.id", "dev-1"),
            ("host.name", "mac-42"),
            ("os.type", os_type()),
            ("os.version", "14.7.1"),
            ("blueprint.id", "bp-eng"),
            ("team.id", "T-1234"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
        assert_eq!(as_map(&resource), expected);
    }

    #[test]
    fn team_blueprint_and_os_version_are_left_out_when_unknown() {
        let unknown = ResourceFacts { os_version: None, blueprint_id: None, ..facts(Some("  ")) };
        let keys: Vec<_> = agent_attributes(&unknown).iter().map(|attribute| attribute.key.to_string()).collect();
        let always = ["service.name", "service.version", "app.version", "device.id", "host.name", "os.type"];
        assert_eq!(keys, [&always[..], &["service.instance.id"]].concat());
        let no_device_id = ResourceFacts { device_id: String::new(), ..unknown };
        let keys: Vec<_> = agent_attributes(&no_device_id).iter().map(|attribute| attribute.key.to_string()).collect();
        assert_eq!(keys, always, "no instance id rather than an empty one");
    }

    #[test]
    fn environment_attributes_are_merged_but_never_override_the_agent_s() {
        let environment = Resource::builder_empty()
            .with_attributes([
                KeyValue::new("deployment.environment", "prod"),
                KeyValue::new("device.id", "spoofed"),
                KeyValue::new("service.instance.id", "spoofed"),
                KeyValue::new("service.name", "something-else"),
            ])
            .build();
        let merged = as_map(&merge(&environment, &facts(Some("T-1"))));
        assert_eq!(merged["deployment.environment"], "prod");
        assert_eq!(merged["device.id"], "dev-1");
        assert_eq!(merged["service.instance.id"], "dev-1");
        assert_eq!(merged["service.name"], "endpoint-agent");
    }

    #[test]
    fn os_type_uses_the_opentelemetry_name() {
        let expected = if cfg!(target_os = "macos") { "darwin" } else { std::env::consts::OS };
        assert_eq!(os_type(), expected);
    }
}
