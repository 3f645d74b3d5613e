//! The validated configuration the rest of the agent reads.
//!
//! Everything here is already checked: durations are positive, URLs have a scheme
//! and a host, the log level is one we know. Code downstream never re-validates and
//! never sees where a value came from; that lives in
//! [`LoadedConfig`](super::LoadedConfig) for `agent config --show-origin`.
//!
//! `Serialize` gives `agent config --json`: the same nested shape an admin writes in
//! a plist, durations as text (`"1h 30m"`), the tenant token redacted.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::commands::Commands;
use super::durations::{DAY, HOUR, MINUTE, as_duration_text, as_long_duration_text};
use super::secret::Secret;
use super::sizes::as_size_text;
use crate::log_level::LogLevel;
use crate::tenant_trust::SpkiPin;

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentConfig {
    /// How long library items and whole runs may take.
    pub timeouts: Timeouts,
    /// How often check-ins are due.
    pub schedule: Schedule,
    /// How the daemon behaves under launchd.
    pub daemon: Daemon,
    /// A local blueprint to use instead of the tenant's; `None` means the blueprint
    /// comes from the tenant.
    pub blueprint_file: Option<PathBuf>,
    /// The tenant the agent checks in with.
    pub tenant: Tenant,
    /// Where telemetry goes.
    pub otel: Otel,
    /// The agent's own log files.
    pub logs: Logs,
    /// The paths of the system tools item handlers run (`lpadmin`, `installer`, ...).
    pub commands: Commands,
    /// How the device and application inventory is collected.
    pub inventory: Inventory,
    /// What `agent doctor` checks against: the push host and its ports, the time
    /// limit of each check, and the ages and lifetimes past which it warns or fails.
    pub doctor: Doctor,
    /// How large a download may be, how much disk it must leave free, how slow it may be.
    pub downloads: Downloads,
    /// How much the state store may hold.
    pub state: State,
    /// What people without admin rights may ask through Self Service.
    pub self_service: SelfService,
    /// Who must have signed a newer agent before it installs itself.
    pub self_update: SelfUpdate,
    /// How often, and how long, the person at the Mac is asked before disruptive work.
    pub notices: Notices,
}

/// The notices shown to the person at the Mac before disruptive work (an OS
/// update's restart, quitting an app): see `person`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notices {
    /// The least time between two showings of the same item's notice: a notice
    /// is not repeated at every check-in.
    #[serde(serialize_with = "as_duration_text")]
    pub interval: Duration,
    /// How long a notice waits for an answer before its default answer applies.
    #[serde(serialize_with = "as_duration_text")]
    pub answer_timeout: Duration,
    /// How long the person at the Mac is given, counted down in a notice,
    /// before the restart a custom app's install asked for.
    #[serde(serialize_with = "as_duration_text")]
    pub restart_countdown: Duration,
}

/// Self Service's limits on people without admin rights (see `daemon::queue`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelfService {
    /// The least time between the end of one sync and the next one a person
    /// without admin rights may ask for; a sync asked while one is under way
    /// follows that one instead. Root is never held to it.
    #[serde(serialize_with = "as_duration_text")]
    pub sync_interval: Duration,
}

/// What the agent's own update requires of its package (see `self_update`).
/// Set in the package's default configuration or a profile; the tenant has no
/// say in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct SelfUpdate {
    /// The Apple Developer Team ID that must have signed (Developer ID
    /// Installer) and notarized an agent package; without it the agent does
    /// not update itself.
    pub team_id: Option<String>,
}

/// The state store's bounds (see `state::retention`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct State {
    /// The most bytes the store's files may take; after each run the oldest runs'
    /// output, then the oldest runs, are pruned to stay within it.
    #[serde(serialize_with = "as_size_text")]
    pub max_size: u64,
}

/// The bounds every download (installers, agent updates) is held to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Downloads {
    /// The most bytes one file may have; a larger one is stopped and deleted.
    #[serde(serialize_with = "as_size_text")]
    pub max_size: u64,
    /// The bytes a download must leave free on the cache's volume; one that would
    /// leave less is stopped and deleted.
    #[serde(serialize_with = "as_size_text")]
    pub min_free_space: u64,
    /// The bytes per second a transfer must average over each `min_rate_window`;
    /// a slower one is stopped and deleted.
    #[serde(serialize_with = "as_size_text")]
    pub min_rate: u64,
    /// The window `min_rate` is judged over.
    #[serde(serialize_with = "as_duration_text")]
    pub min_rate_window: Duration,
}

/// The thresholds and hosts of `agent doctor`. Configurable so an admin can match
/// their MDM's rules and tests can point every host at 127.0.0.1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Doctor {
    /// The host Apple push notifications are checked against.
    pub push_host: String,
    /// The TCP ports tried on it, each at once; one that answers is enough to warn
    /// instead of fail.
    pub push_ports: Vec<u16>,
    /// The longest any one check may take: a TCP connect, the tenant's request
    /// (also bounded by `tenant.request_timeout`), `launchctl`, `fdesetup`.
    #[serde(serialize_with = "as_duration_text")]
    pub timeout: Duration,
    /// A last check-in older than this warns: the device is no longer "verified".
    #[serde(serialize_with = "as_long_duration_text")]
    pub checkin_warn_after: Duration,
    /// A last check-in older than this fails: the device is "out of control".
    #[serde(serialize_with = "as_long_duration_text")]
    pub checkin_fail_after: Duration,
    /// A last inventory older than this warns (daily check-ins are not completing).
    #[serde(serialize_with = "as_long_duration_text")]
    pub inventory_warn_after: Duration,
    /// A last inventory older than this fails: the device is "out of control".
    #[serde(serialize_with = "as_long_duration_text")]
    pub inventory_fail_after: Duration,
    /// How long an MDM identity certificate lasts from enrollment, for when the
    /// certificate itself cannot be found in the inventory.
    #[serde(serialize_with = "as_long_duration_text")]
    pub mdm_certificate_lifetime: Duration,
    /// How long before the MDM identity certificate expires the check warns.
    #[serde(serialize_with = "as_long_duration_text")]
    pub mdm_certificate_warn_before: Duration,
}

/// The inventory the daily check-in collects and sends to the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inventory {
    /// How long each collector (one tool, or one scan) may take; one that takes
    /// longer is stopped and named in the inventory's `errors`, the rest is sent.
    #[serde(serialize_with = "as_duration_text")]
    pub collector_timeout: Duration,
}

/// Time limits. An item that runs past its limit is stopped and recorded as
/// `timed_out`, and none of its processes outlive the limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeouts {
    /// Per `custom_script` item (audit, remediation and re-audit together).
    #[serde(serialize_with = "as_duration_text")]
    pub custom_script: Duration,
    /// Per `custom_printer` item.
    #[serde(serialize_with = "as_duration_text")]
    pub custom_printer: Duration,
    /// Per `auto_app` item; app downloads can be large, hence the long default.
    #[serde(serialize_with = "as_duration_text")]
    pub auto_app: Duration,
    /// The whole run; also the only limit on `custom_app` and `managed_os` items.
    #[serde(serialize_with = "as_duration_text")]
    pub run: Duration,
    /// How long an item's processes get between TERM and KILL once its time is up.
    #[serde(serialize_with = "as_duration_text")]
    pub termination_grace: Duration,
    /// The agent's own update, after a check-in: download and installer together.
    #[serde(serialize_with = "as_duration_text")]
    pub agent_update: Duration,
}

/// When check-ins are due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schedule {
    /// Time between recurring check-ins.
    #[serde(serialize_with = "as_duration_text")]
    pub recurring_interval: Duration,
    /// Time between daily check-ins (which also send inventory).
    #[serde(serialize_with = "as_duration_text")]
    pub daily_interval: Duration,
}

/// The daemon launchd starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Daemon {
    /// How long a stopping daemon (SIGTERM, SIGINT) lets its running check-in wind
    /// down before it kills the item's processes and exits anyway. Shorter than the
    /// `ExitTimeOut` of the launchd job, so launchd never has to SIGKILL the daemon.
    #[serde(serialize_with = "as_duration_text")]
    pub shutdown_timeout: Duration,
}

/// The tenant connection. Both are `None` until an admin configures them, in which
/// case the agent runs only from a local or saved blueprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    /// The base URL, `http://` or `https://`.
    pub url: Option<String>,
    /// A device token set directly (`agent enroll`); redacted everywhere but
    /// [`Secret::expose`].
    pub token: Option<Secret>,
    /// The enrollment secret a profile delivers: exchanged once at
    /// `POST /api/v1/agent/enroll` for a device token, never sent elsewhere.
    pub enrollment_secret: Option<Secret>,
    /// How long connecting to the tenant (TCP and TLS) may take.
    #[serde(serialize_with = "as_duration_text")]
    pub connect_timeout: Duration,
    /// How long one whole request may take, answer included; a hung tenant never
    /// holds a check-in longer than this before the items run.
    #[serde(serialize_with = "as_duration_text")]
    pub request_timeout: Duration,
    /// PEM certificates trusted beside the system's anchors, for a tenant with
    /// its own CA; checked when the configuration is loaded.
    pub ca_file: Option<PathBuf>,
    /// When not empty, the tenant's public key must be one of these (checked on
    /// every new connection, after the certificate is verified).
    pub pinned_spki_sha256: Vec<SpkiPin>,
    /// Whether the daemon keeps a long-poll open for the tenant's commands
    /// (`GET /api/v1/agent/commands`), so they run within seconds.
    pub command_channel: bool,
    /// How long the tenant may hold one long-poll before answering that nothing
    /// came (each request asks for 90 to 100 % of it, so a fleet's renewals drift apart).
    #[serde(serialize_with = "as_duration_text")]
    pub command_wait: Duration,
    /// The longest pause between attempts after the channel failed; pauses start
    /// at a few seconds and double up to this, each at a random point of its window.
    #[serde(serialize_with = "as_duration_text")]
    pub command_retry_max: Duration,
}

/// Telemetry export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Otel {
    /// The OTLP/HTTP endpoint; `None` leaves it to the standard
    /// `OTEL_EXPORTER_OTLP_*` variables, read by the telemetry setup.
    pub endpoint: Option<String>,
    /// The longest a check-in waits for one export; a dead or hung collector
    /// costs at most this, never the check-in itself.
    #[serde(serialize_with = "as_duration_text")]
    pub export_timeout: Duration,
}

/// The agent's own logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Logs {
    /// The most the log folder holds, in bytes: the oldest files are removed first.
    #[serde(serialize_with = "as_size_text")]
    pub max_size: u64,
    /// Days of rotated log files kept; at least 1.
    pub retention_days: u32,
    /// The most detailed level written.
    pub level: LogLevel,
}

impl Default for AgentConfig {
    /// The built-in defaults, the bottom layer of every load.
    fn default() -> Self {
        Self {
            timeouts: Timeouts {
                custom_script: Duration::from_secs(HOUR),
                custom_printer: Duration::from_secs(3 * HOUR),
                auto_app: Duration::from_secs(6 * HOUR),
                run: Duration::from_secs(12 * HOUR),
                termination_grace: Duration::from_secs(5),
                agent_update: Duration::from_secs(30 * MINUTE),
            },
            schedule: Schedule {
                recurring_interval: Duration::from_secs(15 * MINUTE),
                daily_interval: Duration::from_secs(24 * HOUR),
            },
            daemon: Daemon { shutdown_timeout: Duration::from_secs(20) },
            blueprint_file: None,
            tenant: Tenant {
                url: None,
                token: None,
                enrollment_secret: None,
                connect_timeout: Duration::from_secs(10),
                request_timeout: Duration::from_secs(30),
                ca_file: None,
                pinned_spki_sha256: Vec::new(),
                command_channel: true,
                command_wait: Duration::from_secs(5 * MINUTE),
                command_retry_max: Duration::from_secs(5 * MINUTE),
            },
            otel: Otel { endpoint: None, export_timeout: Duration::from_secs(5) },
            logs: Logs { max_size: 256 << 20, retention_days: 14, level: LogLevel::Info },
            commands: Commands::default(),
            inventory: Inventory { collector_timeout: Duration::from_secs(MINUTE) },
            doctor: Doctor::default(),
            downloads: Downloads {
                max_size: 20 << 30,
                min_free_space: 5 << 30,
                min_rate: 1 << 10,
                min_rate_window: Duration::from_secs(MINUTE),
            },
            state: State { max_size: 256 << 20 },
            self_service: SelfService { sync_interval: Duration::from_secs(5 * MINUTE) },
            self_update: SelfUpdate::default(),
            notices: Notices {
                interval: Duration::from_secs(24 * HOUR),
                answer_timeout: Duration::from_secs(5 * MINUTE),
                restart_countdown: Duration::from_secs(5 * MINUTE),
            },
        }
    }
}

impl Default for Doctor {
    /// The rules an MDM console applies: verified within 7 days, out of control
    /// after 3 weeks without a check-in or 2 months without inventory, and an MDM
    /// identity good for 2 years from enrollment.
    fn default() -> Self {
        Self {
            push_host: "api.push.apple.com".to_string(),
            push_ports: vec![443, 2197],
            timeout: Duration::from_secs(10),
            checkin_warn_after: Duration::from_secs(7 * DAY),
            checkin_fail_after: Duration::from_secs(21 * DAY),
            inventory_warn_after: Duration::from_secs(7 * DAY),
            inventory_fail_after: Duration::from_secs(60 * DAY),
            mdm_certificate_lifetime: Duration::from_secs(730 * DAY),
            mdm_certificate_warn_before: Duration::from_secs(30 * DAY),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::commands::OPEN_URL_DEFAULT;

    #[test]
    fn json_mirrors_the_keys_admins_write() {
        let json = serde_json::to_value(AgentConfig::default()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "timeouts": {
                    "custom_script": "1h", "custom_printer": "3h", "auto_app": "6h",
                    "run": "12h", "termination_grace": "5s", "agent_update": "30m"
                },
                "schedule": { "recurring_interval": "15m", "daily_interval": "24h" },
                "daemon": { "shutdown_timeout": "20s" },
                "blueprint_file": null,
                "tenant": {
                    "url": null, "token": null, "enrollment_secret": null, "connect_timeout": "10s",
                    "request_timeout": "30s", "ca_file": null, "pinned_spki_sha256": [],
                    "command_channel": true, "command_wait": "5m", "command_retry_max": "5m"
                },
                "otel": { "endpoint": null, "export_timeout": "5s" },
                "logs": { "max_size": "256 MiB", "retention_days": 14, "level": "info" },
                "downloads": {
                    "max_size": "20 GiB", "min_free_space": "5 GiB", "min_rate": "1 KiB", "min_rate_window": "1m"
                },
                "state": { "max_size": "256 MiB" },
                "self_service": { "sync_interval": "5m" },
                "self_update": { "team_id": null },
                "notices": { "interval": "24h", "answer_timeout": "5m", "restart_countdown": "5m" },
                "commands": {
                    "lpadmin": "/usr/sbin/lpadmin", "lpstat": "/usr/bin/lpstat", "lpoptions": "/usr/bin/lpoptions",
                    "installer": "/usr/sbin/installer", "hdiutil": "/usr/bin/hdiutil", "ditto": "/usr/bin/ditto",
                    "pkgutil": "/usr/sbin/pkgutil", "codesign": "/usr/bin/codesign", "spctl": "/usr/sbin/spctl",
                    "softwareupdate": "/usr/sbin/softwareupdate", "sw_vers": "/usr/bin/sw_vers",
                    "system_profiler": "/usr/sbin/system_profiler", "ioreg": "/usr/sbin/ioreg",
                    "fdesetup": "/usr/bin/fdesetup", "profiles": "/usr/bin/profiles", "security": "/usr/bin/security",
                    "launchctl": "/bin/launchctl", "open_url": OPEN_URL_DEFAULT,
                    "osascript": "/usr/bin/osascript", "sudo": "/usr/bin/sudo", "sysctl": "/usr/sbin/sysctl",
                    "shutdown": "/sbin/shutdown"
                },
                "inventory": { "collector_timeout": "1m" },
                "doctor": {
                    "push_host": "api.push.apple.com", "push_ports": [443, 2197], "timeout": "10s",
                    "checkin_warn_after": "7d", "checkin_fail_after": "21d",
                    "inventory_warn_after": "7d", "inventory_fail_after": "60d",
                    "mdm_certificate_lifetime": "730d", "mdm_certificate_warn_before": "30d"
                }
            })
        );
    }
}
