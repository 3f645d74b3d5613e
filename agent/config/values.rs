//! Raw values as the layers hold them, and the checks that turn them into typed
//! settings.
//!
//! Plist and JSON files carry typed values (a duration may be an integer number of
//! seconds); environment variables and flags carry only text. Every source is first
//! brought to one [`RawValue`] shape, so each key type is checked in one place,
//! whatever the layer.
//!
//! For the optional keys (paths, URLs, the token) an empty string or a JSON `null`
//! means "unset": a later layer, e.g. `--set tenant.url=`, can clear what an earlier
//! one set.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::secret::Secret;
use crate::log_level::LogLevel;
use crate::network_rules::{self, TenantUrlProblem};

/// The longest duration any key accepts: 3650 days, about ten years. No real
/// timeout, interval or threshold comes near it, and every deadline the agent works
/// out from one (a clock reading plus a timeout plus a grace) stays far inside what
/// its clocks can hold.
pub(crate) const LONGEST_DURATION: Duration = Duration::from_secs(3650 * 24 * 60 * 60);

/// The shortest check-in interval: one second. A shorter one would have the daemon
/// check in back to back; tests scale intervals down to seconds, no further.
pub(crate) const SHORTEST_INTERVAL: Duration = Duration::from_secs(1);

/// The largest whole-number setting (`logs.retention_days`): ten years of daily files.
pub(crate) const LARGEST_WHOLE_NUMBER: u32 = 3650;

/// The longest text any key accepts, in bytes; far beyond any URL, token or path.
pub(crate) const LONGEST_TEXT: usize = 8192;

/// The longest path, in bytes: macOS's `PATH_MAX`.
pub(crate) const LONGEST_PATH: usize = 1024;

/// The longest host name, in bytes, as DNS allows.
pub(crate) const LONGEST_HOST: usize = 253;

/// The most ports `doctor.push_ports` lists; each is tried at once.
pub(crate) const MOST_PORTS: usize = 16;

/// The most values an array in a settings file may hold.
pub(crate) const MOST_LIST_VALUES: usize = 64;

/// How much of a value an error message quotes before it cuts it short.
const QUOTED_CHARACTERS: usize = 100;

/// A value read from a layer, not yet checked against its key's type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawValue {
    /// A string; the only kind environment variables and flags give.
    Text(String),
    /// An integer from a plist or JSON file.
    Integer(i128),
    /// A number with a fractional part.
    Real(f64),
    /// A boolean.
    Boolean(bool),
    /// JSON `null`.
    Null,
    /// A dictionary, kept in file order so it can be flattened into dotted keys.
    Dictionary(Vec<(String, RawValue)>),
    /// An array of strings and numbers (at most [`MOST_LIST_VALUES`]), for the
    /// keys that take several values (pins, ports).
    List(Vec<RawValue>),
    /// Anything no key accepts (data, a date, an array of arrays), by its description.
    Other(&'static str),
}

/// Why a raw value does not fit its key. Each message ends with what was found, so
/// the admin can spot the typo.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ValueProblem {
    /// Not a string `humantime` can read, nor an integer number of seconds.
    #[error("expected a duration such as \"90s\" or \"12h\", found {found}")]
    NotADuration { found: String },
    /// A duration of zero, which would stop every item at once.
    #[error("expected a duration greater than zero, found {found}")]
    ZeroDuration { found: String },
    /// A duration past [`LONGEST_DURATION`].
    #[error("expected a duration of at most 3650d (about ten years), found {found}")]
    DurationTooLong { found: String },
    /// A check-in interval under [`SHORTEST_INTERVAL`].
    #[error("expected an interval of at least 1s, found {found}")]
    IntervalTooShort { found: String },
    /// Text longer than its key allows; the value itself is not shown (it may be a
    /// secret, and it is long).
    #[error("expected at most {limit} bytes, found {length} bytes")]
    TooLong { limit: usize, length: usize },
    /// Not a string.
    #[error("expected a path, found {found}")]
    NotAPath { found: String },
    /// Not an `http://` or `https://` URL with a host; `found` is redacted.
    #[error("expected an http:// or https:// URL with a host, found {found}")]
    NotAUrl { found: String },
    /// A tenant URL the agent refuses to talk to (its message shows it redacted).
    #[error(transparent)]
    TenantUrl(#[from] TenantUrlProblem),
    /// Not a string; `found` names only the type, never the value.
    #[error("expected a string, found {found}")]
    NotAString { found: String },
    /// Not a whole number from 1 to [`LARGEST_WHOLE_NUMBER`].
    #[error("expected a whole number from 1 to 3650, found {found}")]
    NotAPositiveInteger { found: String },
    /// Not one of the level names.
    #[error("expected one of error, warn, info, debug, trace, found {found}")]
    NotALogLevel { found: String },
    /// Not a host name or IP address.
    #[error("expected a host name or IP address, found {found}")]
    NotAHost { found: String },
    /// Not an Apple Developer Team ID.
    #[error(
        "expected an Apple Developer Team ID (10 uppercase letters or digits, such as \"ABCDE12345\"), found {found}"
    )]
    NotATeamId { found: String },
    /// Not one or more TCP ports.
    #[error("expected TCP ports from 1 to 65535 such as \"443, 2197\", found {found}")]
    NotAPortList { found: String },
    /// Not a size from 1 byte to 1024 TiB.
    #[error(
        "expected a size from 1 byte to 1024 TiB, in bytes or such as \"20 GiB\" (units B, KiB, MiB, GiB, TiB), found {found}"
    )]
    NotASize { found: String },
    /// More ports than [`MOST_PORTS`].
    #[error("expected at most 16 ports, found {count}")]
    TooManyPorts { count: usize },
    /// A CA file or a pin the tenant's TLS trust cannot use.
    #[error(transparent)]
    TenantTrust(#[from] crate::tenant_trust::TrustProblem),
    /// Not a boolean, nor `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`.
    #[error("expected true or false, found {found}")]
    NotASwitch { found: String },
}

impl fmt::Display for RawValue {
    /// The value as found, for error messages: strings quoted, containers by kind.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawValue::Text(text) if text.chars().nth(QUOTED_CHARACTERS).is_some() => {
                let start: String = text.chars().take(QUOTED_CHARACTERS).collect();
                write!(formatter, "{start:?}… ({} bytes)", text.len())
            }
            RawValue::Text(text) => write!(formatter, "{text:?}"),
            RawValue::Integer(number) => write!(formatter, "{number}"),
            RawValue::Real(number) => write!(formatter, "{number}"),
            RawValue::Boolean(value) => write!(formatter, "{value}"),
            RawValue::Null => formatter.write_str("null"),
            RawValue::Dictionary(_) => formatter.write_str("a dictionary"),
            RawValue::List(values) => write!(formatter, "an array of {} values", values.len()),
            RawValue::Other(description) => formatter.write_str(description),
        }
    }
}

impl RawValue {
    /// The kind of value, without the value itself: what error messages about a
    /// secret may show.
    fn kind(&self) -> &'static str {
        match self {
            RawValue::Text(_) => "a string",
            RawValue::Integer(_) => "an integer",
            RawValue::Real(_) => "a number",
            RawValue::Boolean(_) => "a boolean",
            RawValue::Null => "null",
            RawValue::Dictionary(_) => "a dictionary",
            RawValue::List(_) => "an array",
            RawValue::Other(description) => description,
        }
    }

    /// The text with surrounding whitespace removed, `None` for any other kind.
    fn trimmed_text(&self) -> Option<&str> {
        match self {
            RawValue::Text(text) => Some(text.trim()),
            _ => None,
        }
    }

    /// The value as found, for error messages about a URL: text shown without
    /// user-info, query or fragment.
    fn redacted_url(&self) -> String {
        match self {
            RawValue::Text(text) => format!("{:?}", network_rules::redacted_text(text)),
            other => other.to_string(),
        }
    }

    /// True for the values that mean "unset" on an optional key.
    fn is_unset(&self) -> bool {
        matches!(self, RawValue::Null) || self.trimmed_text() == Some("")
    }
}

/// A positive duration of at most [`LONGEST_DURATION`]: text such as `"90s"` or
/// `"1h 30m"`, or whole seconds.
pub(crate) fn parse_duration(raw: &RawValue) -> Result<Duration, ValueProblem> {
    let not_a_duration = || ValueProblem::NotADuration { found: raw.to_string() };
    let duration = match raw {
        RawValue::Integer(seconds) if *seconds <= 0 => {
            return Err(ValueProblem::ZeroDuration { found: raw.to_string() });
        }
        RawValue::Integer(seconds) => match u64::try_from(*seconds) {
            Ok(seconds) => Duration::from_secs(seconds),
            Err(_) => return Err(ValueProblem::DurationTooLong { found: raw.to_string() }),
        },
        RawValue::Text(text) => humantime::parse_duration(text.trim()).map_err(|error| match error {
            humantime::DurationError::NumberOverflow => ValueProblem::DurationTooLong { found: raw.to_string() },
            _ => not_a_duration(),
        })?,
        _ => return Err(not_a_duration()),
    };
    if duration.is_zero() {
        return Err(ValueProblem::ZeroDuration { found: raw.to_string() });
    }
    if duration > LONGEST_DURATION {
        return Err(ValueProblem::DurationTooLong { found: raw.to_string() });
    }
    Ok(duration)
}

/// A check-in interval: a duration of at least [`SHORTEST_INTERVAL`].
pub(crate) fn parse_interval(raw: &RawValue) -> Result<Duration, ValueProblem> {
    let interval = parse_duration(raw)?;
    if interval < SHORTEST_INTERVAL {
        return Err(ValueProblem::IntervalTooShort { found: raw.to_string() });
    }
    Ok(interval)
}

/// Refuses text longer than `limit` bytes, before any other check reads it.
pub(crate) fn check_length(raw: &RawValue, limit: usize) -> Result<(), ValueProblem> {
    match raw {
        RawValue::Text(text) if text.len() > limit => Err(ValueProblem::TooLong { limit, length: text.len() }),
        _ => Ok(()),
    }
}

/// A path of at most [`LONGEST_PATH`] bytes without a NUL, or `None` when unset.
/// Kept as written: a relative path is taken from the folder the agent runs in.
pub(crate) fn parse_optional_path(raw: &RawValue) -> Result<Option<PathBuf>, ValueProblem> {
    if raw.is_unset() {
        return Ok(None);
    }
    check_length(raw, LONGEST_PATH)?;
    match raw.trimmed_text() {
        Some(text) if !text.contains('\0') => Ok(Some(PathBuf::from(text))),
        _ => Err(ValueProblem::NotAPath { found: raw.to_string() }),
    }
}

/// A path that must be set (it has a default, so unsetting it is a mistake).
pub(crate) fn parse_path(raw: &RawValue) -> Result<PathBuf, ValueProblem> {
    match parse_optional_path(raw)? {
        Some(path) => Ok(path),
        None => Err(ValueProblem::NotAPath { found: raw.to_string() }),
    }
}

/// An `http://` or `https://` URL with a host, or `None` when unset.
pub(crate) fn parse_optional_url(raw: &RawValue) -> Result<Option<String>, ValueProblem> {
    if raw.is_unset() {
        return Ok(None);
    }
    match raw.trimmed_text() {
        Some(text) if is_web_url(text) => Ok(Some(text.to_string())),
        _ => Err(ValueProblem::NotAUrl { found: raw.redacted_url() }),
    }
}

/// The tenant's base URL, or `None` when unset: `https://`, or `http://` to a
/// loopback host, without user-info, query or fragment
/// ([`network_rules::check_tenant_url`]).
pub(crate) fn parse_optional_tenant_url(raw: &RawValue) -> Result<Option<String>, ValueProblem> {
    if raw.is_unset() {
        return Ok(None);
    }
    let text = raw.trimmed_text().ok_or_else(|| ValueProblem::NotAUrl { found: raw.redacted_url() })?;
    network_rules::check_tenant_url(text)?;
    Ok(Some(text.to_string()))
}

/// A secret string, or `None` when unset. A wrong type is reported by its kind
/// only, so a mistyped token never reaches a log.
pub(crate) fn parse_optional_secret(raw: &RawValue) -> Result<Option<Secret>, ValueProblem> {
    if raw.is_unset() {
        return Ok(None);
    }
    match raw.trimmed_text() {
        Some(text) => Ok(Some(Secret::new(text))),
        None => Err(ValueProblem::NotAString { found: raw.kind().to_string() }),
    }
}

/// A whole number from 1 to [`LARGEST_WHOLE_NUMBER`]: an integer, or text of digits.
pub(crate) fn parse_positive_integer(raw: &RawValue) -> Result<u32, ValueProblem> {
    let number = match raw {
        RawValue::Integer(number) => u32::try_from(*number).ok(),
        RawValue::Text(text) => text.trim().parse::<u32>().ok(),
        _ => None,
    };
    number
        .filter(|number| (1..=LARGEST_WHOLE_NUMBER).contains(number))
        .ok_or_else(|| ValueProblem::NotAPositiveInteger { found: raw.to_string() })
}

/// A switch: a boolean (plist `<true/>`, JSON `true`), or `true`/`false`,
/// `yes`/`no`, `on`/`off`, `1`/`0` in any letter case (what `--set` and the
/// environment give).
pub(crate) fn parse_switch(raw: &RawValue) -> Result<bool, ValueProblem> {
    let value = match raw {
        RawValue::Boolean(value) => Some(*value),
        RawValue::Integer(0) => Some(false),
        RawValue::Integer(1) => Some(true),
        RawValue::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Some(true),
            "false" | "no" | "off" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    };
    value.ok_or_else(|| ValueProblem::NotASwitch { found: raw.to_string() })
}

/// A log level name, in any letter case.
pub(crate) fn parse_log_level(raw: &RawValue) -> Result<LogLevel, ValueProblem> {
    raw.trimmed_text()
        .and_then(|name| name.parse::<LogLevel>().ok())
        .ok_or_else(|| ValueProblem::NotALogLevel { found: raw.to_string() })
}

/// A host name or IP address (`api.push.apple.com`, `127.0.0.1`, `::1`) of at most
/// [`LONGEST_HOST`] bytes: text without spaces, slashes or `@`, so a URL pasted by
/// mistake is caught.
pub(crate) fn parse_host(raw: &RawValue) -> Result<String, ValueProblem> {
    check_length(raw, LONGEST_HOST)?;
    let host = raw.trimmed_text().map(|text| text.trim_start_matches('[').trim_end_matches(']'));
    let valid = |host: &&str| {
        !host.is_empty() && host.chars().all(|character| character.is_alphanumeric() || ".-_:".contains(character))
    };
    host.filter(valid).map(str::to_string).ok_or_else(|| ValueProblem::NotAHost { found: raw.to_string() })
}

/// One to [`MOST_PORTS`] TCP ports: an integer, or text of ports separated by
/// commas or spaces (`"443, 2197"`).
pub(crate) fn parse_port_list(raw: &RawValue) -> Result<Vec<u16>, ValueProblem> {
    let port = |number: i128| u16::try_from(number).ok().filter(|port| *port >= 1);
    let ports_of = |raw: &RawValue| match raw {
        RawValue::Integer(number) => port(*number).map(|port| vec![port]),
        RawValue::Text(text) => text
            .split([',', ' '])
            .filter(|part| !part.trim().is_empty())
            .map(|part| part.trim().parse::<i128>().ok().and_then(port))
            .collect::<Option<Vec<u16>>>(),
        _ => None,
    };
    let ports = match raw {
        RawValue::List(values) => values.iter().map(ports_of).collect::<Option<Vec<_>>>().map(|lists| lists.concat()),
        single => ports_of(single),
    };
    let ports =
        ports.filter(|ports| !ports.is_empty()).ok_or_else(|| ValueProblem::NotAPortList { found: raw.to_string() })?;
    if ports.len() > MOST_PORTS {
        return Err(ValueProblem::TooManyPorts { count: ports.len() });
    }
    Ok(ports)
}

/// A plain check, enough to catch typos: the scheme is `http` or `https`, a host
/// follows (after any `user@`), a port if given is digits, and there is no space.
pub(crate) fn is_web_url(text: &str) -> bool {
    let lowercase = text.to_ascii_lowercase();
    let Some(scheme_length) =
        ["http://", "https://"].iter().find(|scheme| lowercase.starts_with(**scheme)).map(|scheme| scheme.len())
    else {
        return false;
    };
    if text.chars().any(char::is_whitespace) {
        return false;
    }
    let rest = &text[scheme_length..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_and_port = authority.rsplit('@').next().unwrap_or_default();
    let (host, port) = match host_and_port.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((address, after)) => (address, after.strip_prefix(':')),
            None => return false,
        },
        None => match host_and_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_and_port, None),
        },
    };
    let port_is_valid = port.is_none_or(|port| !port.is_empty() && port.bytes().all(|byte| byte.is_ascii_digit()));
    !host.is_empty() && port_is_valid
}

#[cfg(test)]
#[path = "values_tests.rs"]
mod tests;
