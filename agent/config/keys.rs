//! The table of known keys: their dotted names, their types and where each lands in
//! [`AgentConfig`].
//!
//! This table is the one list of settings. Loading checks every key against it,
//! `agent config --show-origin` prints one line per entry, and the environment
//! variable names are derived from it (`timeouts.run` → `AGENT_TIMEOUTS_RUN`). The
//! defaults are [`AgentConfig::default`]. Adding a setting means a field in
//! `settings.rs` and one entry here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::durations::{duration_text, long_duration_text};
use super::secret::{REDACTED, Secret};
use super::settings::AgentConfig;
use super::sizes;
use super::values::{self, RawValue, ValueProblem};
use crate::log_level::LogLevel;
use crate::network_rules;
use crate::tenant_trust::{SpkiPin, TrustProblem};

/// The prefix every configuration environment variable starts with.
pub(crate) const ENVIRONMENT_PREFIX: &str = "AGENT_";

/// What `agent config --show-origin` prints for an optional key nobody set.
pub(crate) const UNSET_TEXT: &str = "(none)";

/// One setting admins can write.
pub(crate) struct KnownKey {
    /// The dotted name, as written in files and `--set`.
    pub(crate) name: &'static str,
    /// The type, and where the checked value is stored.
    field: Field,
}

/// Both ways into one field of [`AgentConfig`]: read for display, write when a
/// layer sets it.
struct Place<T: 'static> {
    /// The field, for showing its effective value.
    read: fn(&AgentConfig) -> &T,
    /// The field, for storing a checked value.
    write: fn(&mut AgentConfig) -> &mut T,
}

/// A key's type, which decides how its raw value is checked and shown.
enum Field {
    /// A positive duration, at most ten years.
    Duration(Place<Duration>),
    /// A check-in interval: a duration of at least a second.
    Interval(Place<Duration>),
    /// A path that is always set.
    Path(Place<PathBuf>),
    /// A path, or unset.
    OptionalPath(Place<Option<PathBuf>>),
    /// An `http(s)://` URL, or unset.
    OptionalUrl(Place<Option<String>>),
    /// The tenant's base URL, or unset: https, or http to loopback only, and no
    /// user-info, query or fragment.
    OptionalTenantUrl(Place<Option<String>>),
    /// A secret string, or unset; always shown redacted.
    OptionalSecret(Place<Option<Secret>>),
    /// A whole number from 1 up.
    PositiveInteger(Place<u32>),
    /// On or off.
    Switch(Place<bool>),
    /// A log level name.
    LogLevel(Place<LogLevel>),
    /// A positive duration counted in days or weeks, shown in days when whole.
    LongDuration(Place<Duration>),
    /// A size in bytes, written as bytes or such as `"20 GiB"`.
    Size(Place<u64>),
    /// A host name or IP address.
    Host(Place<String>),
    /// One or more TCP ports.
    PortList(Place<Vec<u16>>),
    /// An Apple Developer Team ID (10 uppercase letters or digits), or unset.
    OptionalTeamId(Place<Option<String>>),
    /// A PEM file of trust anchors, or unset; read and checked once the layers are merged.
    OptionalCaFile(Place<Option<PathBuf>>),
    /// Public key pins, one or several in one string or an array; none when unset.
    PinList(Place<Vec<SpkiPin>>),
}

/// A [`Place`] for the field at a dotted path in [`AgentConfig`].
macro_rules! place {
    ($($field:ident).+) => {
        Place { read: |config| &config.$($field).+, write: |config| &mut config.$($field).+ }
    };
}

/// Every known key, sorted by name (the order `--show-origin` prints them in).
pub(crate) const KNOWN_KEYS: &[KnownKey] = &[
    KnownKey { name: "blueprint_file", field: Field::OptionalPath(place!(blueprint_file)) },
    KnownKey { name: "commands.codesign", field: Field::Path(place!(commands.codesign)) },
    KnownKey { name: "commands.ditto", field: Field::Path(place!(commands.ditto)) },
    KnownKey { name: "commands.fdesetup", field: Field::Path(place!(commands.fdesetup)) },
    KnownKey { name: "commands.hdiutil", field: Field::Path(place!(commands.hdiutil)) },
    KnownKey { name: "commands.installer", field: Field::Path(place!(commands.installer)) },
    KnownKey { name: "commands.ioreg", field: Field::Path(place!(commands.ioreg)) },
    KnownKey { name: "commands.launchctl", field: Field::Path(place!(commands.launchctl)) },
    KnownKey { name: "commands.lpadmin", field: Field::Path(place!(commands.lpadmin)) },
    KnownKey { name: "commands.lpoptions", field: Field::Path(place!(commands.lpoptions)) },
    KnownKey { name: "commands.lpstat", field: Field::Path(place!(commands.lpstat)) },
    KnownKey { name: "commands.open_url", field: Field::Path(place!(commands.open_url)) },
    KnownKey { name: "commands.osascript", field: Field::Path(place!(commands.osascript)) },
    KnownKey { name: "commands.pkgutil", field: Field::Path(place!(commands.pkgutil)) },
    KnownKey { name: "commands.profiles", field: Field::Path(place!(commands.profiles)) },
    KnownKey { name: "commands.security", field: Field::Path(place!(commands.security)) },
    KnownKey { name: "commands.shutdown", field: Field::Path(place!(commands.shutdown)) },
    KnownKey { name: "commands.softwareupdate", field: Field::Path(place!(commands.softwareupdate)) },
    KnownKey { name: "commands.spctl", field: Field::Path(place!(commands.spctl)) },
    KnownKey { name: "commands.sudo", field: Field::Path(place!(commands.sudo)) },
    KnownKey { name: "commands.sw_vers", field: Field::Path(place!(commands.sw_vers)) },
    KnownKey { name: "commands.sysctl", field: Field::Path(place!(commands.sysctl)) },
    KnownKey { name: "commands.system_profiler", field: Field::Path(place!(commands.system_profiler)) },
    KnownKey { name: "daemon.shutdown_timeout", field: Field::Duration(place!(daemon.shutdown_timeout)) },
    KnownKey { name: "doctor.checkin_fail_after", field: Field::LongDuration(place!(doctor.checkin_fail_after)) },
    KnownKey { name: "doctor.checkin_warn_after", field: Field::LongDuration(place!(doctor.checkin_warn_after)) },
    KnownKey { name: "doctor.inventory_fail_after", field: Field::LongDuration(place!(doctor.inventory_fail_after)) },
    KnownKey { name: "doctor.inventory_warn_after", field: Field::LongDuration(place!(doctor.inventory_warn_after)) },
    KnownKey {
        name: "doctor.mdm_certificate_lifetime",
        field: Field::LongDuration(place!(doctor.mdm_certificate_lifetime)),
    },
    KnownKey {
        name: "doctor.mdm_certificate_warn_before",
        field: Field::LongDuration(place!(doctor.mdm_certificate_warn_before)),
    },
    KnownKey { name: "doctor.push_host", field: Field::Host(place!(doctor.push_host)) },
    KnownKey { name: "doctor.push_ports", field: Field::PortList(place!(doctor.push_ports)) },
    KnownKey { name: "doctor.timeout", field: Field::Duration(place!(doctor.timeout)) },
    KnownKey { name: "downloads.max_size", field: Field::Size(place!(downloads.max_size)) },
    KnownKey { name: "downloads.min_free_space", field: Field::Size(place!(downloads.min_free_space)) },
    KnownKey { name: "downloads.min_rate", field: Field::Size(place!(downloads.min_rate)) },
    KnownKey { name: "downloads.min_rate_window", field: Field::Duration(place!(downloads.min_rate_window)) },
    KnownKey { name: "inventory.collector_timeout", field: Field::Duration(place!(inventory.collector_timeout)) },
    KnownKey { name: "logs.level", field: Field::LogLevel(place!(logs.level)) },
    KnownKey { name: "logs.max_size", field: Field::Size(place!(logs.max_size)) },
    KnownKey { name: "logs.retention_days", field: Field::PositiveInteger(place!(logs.retention_days)) },
    KnownKey { name: "notices.answer_timeout", field: Field::Duration(place!(notices.answer_timeout)) },
    KnownKey { name: "notices.interval", field: Field::Duration(place!(notices.interval)) },
    KnownKey { name: "notices.restart_countdown", field: Field::Duration(place!(notices.restart_countdown)) },
    KnownKey { name: "otel.endpoint", field: Field::OptionalUrl(place!(otel.endpoint)) },
    KnownKey { name: "otel.export_timeout", field: Field::Duration(place!(otel.export_timeout)) },
    KnownKey { name: "schedule.daily_interval", field: Field::Interval(place!(schedule.daily_interval)) },
    KnownKey { name: "schedule.recurring_interval", field: Field::Interval(place!(schedule.recurring_interval)) },
    KnownKey { name: "self_service.sync_interval", field: Field::Duration(place!(self_service.sync_interval)) },
    KnownKey { name: "self_update.team_id", field: Field::OptionalTeamId(place!(self_update.team_id)) },
    KnownKey { name: "state.max_size", field: Field::Size(place!(state.max_size)) },
    KnownKey { name: "tenant.ca_file", field: Field::OptionalCaFile(place!(tenant.ca_file)) },
    KnownKey { name: "tenant.command_channel", field: Field::Switch(place!(tenant.command_channel)) },
    KnownKey { name: "tenant.command_retry_max", field: Field::Duration(place!(tenant.command_retry_max)) },
    KnownKey { name: "tenant.command_wait", field: Field::Duration(place!(tenant.command_wait)) },
    KnownKey { name: "tenant.connect_timeout", field: Field::Duration(place!(tenant.connect_timeout)) },
    KnownKey { name: "tenant.enrollment_secret", field: Field::OptionalSecret(place!(tenant.enrollment_secret)) },
    KnownKey { name: "tenant.pinned_spki_sha256", field: Field::PinList(place!(tenant.pinned_spki_sha256)) },
    KnownKey { name: "tenant.request_timeout", field: Field::Duration(place!(tenant.request_timeout)) },
    KnownKey { name: "tenant.token", field: Field::OptionalSecret(place!(tenant.token)) },
    KnownKey { name: "tenant.url", field: Field::OptionalTenantUrl(place!(tenant.url)) },
    KnownKey { name: "timeouts.agent_update", field: Field::Duration(place!(timeouts.agent_update)) },
    KnownKey { name: "timeouts.auto_app", field: Field::Duration(place!(timeouts.auto_app)) },
    KnownKey { name: "timeouts.custom_printer", field: Field::Duration(place!(timeouts.custom_printer)) },
    KnownKey { name: "timeouts.custom_script", field: Field::Duration(place!(timeouts.custom_script)) },
    KnownKey { name: "timeouts.run", field: Field::Duration(place!(timeouts.run)) },
    KnownKey { name: "timeouts.termination_grace", field: Field::Duration(place!(timeouts.termination_grace)) },
];

/// The known key called `name`, if there is one.
pub(crate) fn find(name: &str) -> Option<&'static KnownKey> {
    KNOWN_KEYS.iter().find(|key| key.name == name)
}

/// The known key whose environment variable is `variable`, if there is one.
pub(crate) fn find_by_environment_variable(variable: &str) -> Option<&'static KnownKey> {
    KNOWN_KEYS.iter().find(|key| key.environment_variable() == variable)
}

impl KnownKey {
    /// `AGENT_` + the name uppercased with `.` → `_`, e.g. `AGENT_TIMEOUTS_RUN`.
    pub(crate) fn environment_variable(&self) -> String {
        format!("{ENVIRONMENT_PREFIX}{}", self.name.to_ascii_uppercase().replace('.', "_"))
    }

    /// Whether the value is a secret: shown redacted, never taken from the command
    /// line, never passed to a child process.
    pub(crate) fn is_secret(&self) -> bool {
        matches!(self.field, Field::OptionalSecret(_))
    }

    /// Checks `raw` against this key's type and bounds and stores it in `config`.
    /// Text past [`values::LONGEST_TEXT`] is refused whatever the key.
    pub(crate) fn apply(&self, raw: &RawValue, config: &mut AgentConfig) -> Result<(), ValueProblem> {
        values::check_length(raw, values::LONGEST_TEXT)?;
        match &self.field {
            Field::Duration(place) => *(place.write)(config) = values::parse_duration(raw)?,
            Field::Interval(place) => *(place.write)(config) = values::parse_interval(raw)?,
            Field::Path(place) => *(place.write)(config) = values::parse_path(raw)?,
            Field::OptionalPath(place) => *(place.write)(config) = values::parse_optional_path(raw)?,
            Field::OptionalUrl(place) => *(place.write)(config) = values::parse_optional_url(raw)?,
            Field::OptionalTenantUrl(place) => *(place.write)(config) = values::parse_optional_tenant_url(raw)?,
            Field::OptionalSecret(place) => *(place.write)(config) = values::parse_optional_secret(raw)?,
            Field::PositiveInteger(place) => *(place.write)(config) = values::parse_positive_integer(raw)?,
            Field::Switch(place) => *(place.write)(config) = values::parse_switch(raw)?,
            Field::LogLevel(place) => *(place.write)(config) = values::parse_log_level(raw)?,
            Field::LongDuration(place) => *(place.write)(config) = values::parse_duration(raw)?,
            Field::Size(place) => *(place.write)(config) = sizes::parse_size(raw)?,
            Field::Host(place) => *(place.write)(config) = values::parse_host(raw)?,
            Field::PortList(place) => *(place.write)(config) = values::parse_port_list(raw)?,
            Field::OptionalTeamId(place) => *(place.write)(config) = parse_optional_team_id(raw)?,
            Field::OptionalCaFile(place) => *(place.write)(config) = parse_optional_ca_file(raw)?,
            Field::PinList(place) => *(place.write)(config) = parse_pin_list(raw)?,
        }
        Ok(())
    }

    /// This key's value in `config` as an admin would write it; secrets redacted,
    /// [`UNSET_TEXT`] when unset.
    pub(crate) fn value_text(&self, config: &AgentConfig) -> String {
        let text = match &self.field {
            Field::Duration(place) | Field::Interval(place) => Some(duration_text(*(place.read)(config))),
            Field::Path(place) => Some(path_text((place.read)(config))),
            Field::OptionalPath(place) => (place.read)(config).as_deref().map(path_text),
            Field::OptionalUrl(place) => (place.read)(config).as_deref().map(network_rules::redacted_text),
            Field::OptionalTenantUrl(place) | Field::OptionalTeamId(place) => (place.read)(config).clone(),
            Field::OptionalSecret(place) => (place.read)(config).as_ref().map(|_| REDACTED.to_string()),
            Field::PositiveInteger(place) => Some((place.read)(config).to_string()),
            Field::Switch(place) => Some((place.read)(config).to_string()),
            Field::LogLevel(place) => Some((place.read)(config).name().to_string()),
            Field::LongDuration(place) => Some(long_duration_text(*(place.read)(config))),
            Field::Size(place) => Some(sizes::size_text(*(place.read)(config))),
            Field::Host(place) => Some((place.read)(config).clone()),
            Field::PortList(place) => {
                Some((place.read)(config).iter().map(u16::to_string).collect::<Vec<_>>().join(", "))
            }
            Field::OptionalCaFile(place) => (place.read)(config).as_deref().map(path_text),
            Field::PinList(place) => {
                let pins = (place.read)(config);
                (!pins.is_empty()).then(|| pins.iter().map(SpkiPin::to_string).collect::<Vec<_>>().join(", "))
            }
        };
        text.unwrap_or_else(|| UNSET_TEXT.to_string())
    }
}

/// An Apple Developer Team ID such as `ABCDE12345`, or unset.
fn parse_optional_team_id(raw: &RawValue) -> Result<Option<String>, ValueProblem> {
    // Read as any other optional text; a Team ID is no secret.
    match values::parse_optional_secret(raw)?.map(|text| text.expose().to_string()) {
        None => Ok(None),
        Some(team_id) if crate::blueprint::is_team_id(&team_id) => Ok(Some(team_id)),
        Some(_) => Err(ValueProblem::NotATeamId { found: raw.to_string() }),
    }
}

/// A path as text, for display only.
fn path_text(path: &Path) -> String {
    path.display().to_string()
}

/// A CA file's path, or `None` when unset; the file itself is read and checked
/// once every layer is merged (`resolve`), where the agent's root is known for
/// the check of the folders on the way to it.
fn parse_optional_ca_file(raw: &RawValue) -> Result<Option<PathBuf>, ValueProblem> {
    values::parse_optional_path(raw)
}

/// One pin or several separated by commas or spaces, or an array of pins; unset
/// (null, empty text or an empty array) is none.
fn parse_pin_list(raw: &RawValue) -> Result<Vec<SpkiPin>, ValueProblem> {
    match raw {
        RawValue::Null => Ok(Vec::new()),
        RawValue::Text(text) if text.trim().is_empty() => Ok(Vec::new()),
        RawValue::Text(text) => Ok(SpkiPin::parse_list(text)?),
        RawValue::List(values) => {
            let pins = values.iter().map(|value| match value {
                RawValue::Text(text) => SpkiPin::parse_list(text),
                other => Err(TrustProblem::NotPinText { found: other.to_string() }),
            });
            Ok(pins.collect::<Result<Vec<_>, _>>()?.concat())
        }
        other => Err(TrustProblem::NotPinText { found: other.to_string() }.into()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn keys_are_sorted_and_their_variables_unique() {
        let names: Vec<_> = KNOWN_KEYS.iter().map(|key| key.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        let variables: BTreeSet<_> = KNOWN_KEYS.iter().map(KnownKey::environment_variable).collect();
        assert_eq!(variables.len(), KNOWN_KEYS.len());
        assert!(!variables.contains(crate::paths::ROOT_VARIABLE));
    }

    #[test]
    fn every_secret_key_is_withheld_from_children() {
        let secret: Vec<String> =
            KNOWN_KEYS.iter().filter(|key| key.is_secret()).map(KnownKey::environment_variable).collect();
        assert_eq!(secret, ["AGENT_TENANT_ENROLLMENT_SECRET", "AGENT_TENANT_TOKEN"]);
        assert_eq!(secret, crate::process::SECRET_VARIABLES, "process::SECRET_VARIABLES lists every secret key");
    }

    #[test]
    fn environment_variables_follow_the_naming_rule() {
        let cases = [
            ("AGENT_TIMEOUTS_CUSTOM_SCRIPT", Some("timeouts.custom_script")),
            ("AGENT_TENANT_URL", Some("tenant.url")),
            ("AGENT_BLUEPRINT_FILE", Some("blueprint_file")),
            ("AGENT_LOGS_RETENTION_DAYS", Some("logs.retention_days")),
            ("AGENT_TIMEOUTS_NAP", None),
            ("agent_tenant_url", None),
        ];
        for (variable, expected) in cases {
            assert_eq!(find_by_environment_variable(variable).map(|key| key.name), expected);
        }
    }

    #[test]
    fn defaults_show_as_admins_write_them() {
        let config = AgentConfig::default();
        let shown: Vec<_> = KNOWN_KEYS.iter().map(|key| (key.name, key.value_text(&config))).collect();
        let expected = [
            ("blueprint_file", "(none)"),
            ("commands.codesign", "/usr/bin/codesign"),
            ("commands.ditto", "/usr/bin/ditto"),
            ("commands.fdesetup", "/usr/bin/fdesetup"),
            ("commands.hdiutil", "/usr/bin/hdiutil"),
            ("commands.installer", "/usr/sbin/installer"),
            ("commands.ioreg", "/usr/sbin/ioreg"),
            ("commands.launchctl", "/bin/launchctl"),
            ("commands.lpadmin", "/usr/sbin/lpadmin"),
            ("commands.lpoptions", "/usr/bin/lpoptions"),
            ("commands.lpstat", "/usr/bin/lpstat"),
            ("commands.open_url", crate::config::commands::OPEN_URL_DEFAULT),
            ("commands.osascript", "/usr/bin/osascript"),
            ("commands.pkgutil", "/usr/sbin/pkgutil"),
            ("commands.profiles", "/usr/bin/profiles"),
            ("commands.security", "/usr/bin/security"),
            ("commands.shutdown", "/sbin/shutdown"),
            ("commands.softwareupdate", "/usr/sbin/softwareupdate"),
            ("commands.spctl", "/usr/sbin/spctl"),
            ("commands.sudo", "/usr/bin/sudo"),
            ("commands.sw_vers", "/usr/bin/sw_vers"),
            ("commands.sysctl", "/usr/sbin/sysctl"),
            ("commands.system_profiler", "/usr/sbin/system_profiler"),
            ("daemon.shutdown_timeout", "20s"),
            ("doctor.checkin_fail_after", "21d"),
            ("doctor.checkin_warn_after", "7d"),
            ("doctor.inventory_fail_after", "60d"),
            ("doctor.inventory_warn_after", "7d"),
            ("doctor.mdm_certificate_lifetime", "730d"),
            ("doctor.mdm_certificate_warn_before", "30d"),
            ("doctor.push_host", "api.push.apple.com"),
            ("doctor.push_ports", "443, 2197"),
            ("doctor.timeout", "10s"),
            ("downloads.max_size", "20 GiB"),
            ("downloads.min_free_space", "5 GiB"),
            ("downloads.min_rate", "1 KiB"),
            ("downloads.min_rate_window", "1m"),
            ("inventory.collector_timeout", "1m"),
            ("logs.level", "info"),
            ("logs.max_size", "256 MiB"),
            ("logs.retention_days", "14"),
            ("notices.answer_timeout", "5m"),
            ("notices.interval", "24h"),
            ("notices.restart_countdown", "5m"),
            ("otel.endpoint", "(none)"),
            ("otel.export_timeout", "5s"),
            ("schedule.daily_interval", "24h"),
            ("schedule.recurring_interval", "15m"),
            ("self_service.sync_interval", "5m"),
            ("self_update.team_id", "(none)"),
            ("state.max_size", "256 MiB"),
            ("tenant.ca_file", "(none)"),
            ("tenant.command_channel", "true"),
            ("tenant.command_retry_max", "5m"),
            ("tenant.command_wait", "5m"),
            ("tenant.connect_timeout", "10s"),
            ("tenant.enrollment_secret", "(none)"),
            ("tenant.pinned_spki_sha256", "(none)"),
            ("tenant.request_timeout", "30s"),
            ("tenant.token", "(none)"),
            ("tenant.url", "(none)"),
            ("timeouts.agent_update", "30m"),
            ("timeouts.auto_app", "6h"),
            ("timeouts.custom_printer", "3h"),
            ("timeouts.custom_script", "1h"),
            ("timeouts.run", "12h"),
            ("timeouts.termination_grace", "5s"),
        ];
        let expected: Vec<_> = expected.iter().map(|(name, text)| (*name, text.to_string())).collect();
        assert_eq!(shown, expected);
    }

    #[test]
    fn applying_stores_the_checked_value_in_its_field() {
        let mut config = AgentConfig::default();
        let apply = |config: &mut AgentConfig, name: &str, raw: RawValue| find(name).unwrap().apply(&raw, config);
        apply(&mut config, "timeouts.run", RawValue::Integer(60)).unwrap();
        apply(&mut config, "tenant.token", RawValue::Text("tok-1".to_string())).unwrap();
        apply(&mut config, "logs.level", RawValue::Text("trace".to_string())).unwrap();
        assert_eq!(config.timeouts.run, Duration::from_secs(60));
        assert_eq!(config.tenant.token.as_ref().map(Secret::expose), Some("tok-1"));
        assert_eq!(config.logs.level, LogLevel::Trace);
        assert_eq!(find("tenant.token").unwrap().value_text(&config), REDACTED);
        assert!(apply(&mut config, "timeouts.run", RawValue::Boolean(true)).is_err());
        assert_eq!(config.timeouts.run, Duration::from_secs(60), "a bad value leaves the field alone");
    }

    #[test]
    fn a_pinned_signing_team_must_look_like_a_team_id() {
        let key = find("self_update.team_id").unwrap();
        let mut config = AgentConfig::default();
        key.apply(&RawValue::Text(" ABCDE12345 ".into()), &mut config).unwrap();
        assert_eq!(config.self_update.team_id.as_deref(), Some("ABCDE12345"));
        assert_eq!(key.value_text(&config), "ABCDE12345");
        for wrong in ["abcde12345", "ABCDE", "ABCDE12345X"] {
            let error = key.apply(&RawValue::Text(wrong.into()), &mut config).unwrap_err().to_string();
            assert!(error.starts_with("expected an Apple Developer Team ID"), "{wrong}: {error}");
        }
        assert!(key.apply(&RawValue::Integer(12), &mut config).is_err());
    }
}

#[cfg(test)]
#[path = "keys_trust_tests.rs"]
mod tenant_trust_tests;
