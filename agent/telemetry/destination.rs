//! Where telemetry goes and how long an export may take, from the agent's
//! configuration and the standard `OTEL_*` environment variables.
//!
//! The agent's own `otel.endpoint` wins (as programmatic configuration does in every
//! OpenTelemetry SDK), else the signal's own variable, else the common one:
//!
//! ```text
//! otel.endpoint = http://collector:4318       → http://collector:4318/v1/metrics, …/v1/logs
//! OTEL_EXPORTER_OTLP_METRICS_ENDPOINT = URL   → URL as given (metrics only)
//! OTEL_EXPORTER_OTLP_ENDPOINT = http://c:4318 → http://c:4318/v1/metrics, …/v1/logs
//! ```
//!
//! A signal with no endpoint anywhere is not exported (the SDK's default of
//! `localhost:4318` would make every Mac without a collector knock on a closed
//! port); `OTEL_SDK_DISABLED=true` turns both off. An export waits at most
//! `otel.export_timeout`, or `OTEL_EXPORTER_OTLP_[SIGNAL_]TIMEOUT` (milliseconds)
//! when that is shorter: the agent's key is the ceiling on what a check-in spends.
//! Headers (`OTEL_EXPORTER_OTLP_[SIGNAL_]HEADERS`) are read by the exporter itself.

use std::time::Duration;

use crate::config::Otel;

/// The OTLP signals the agent exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Counters, histograms and gauges.
    Metrics,
    /// Log records.
    Logs,
}

impl Signal {
    /// The path appended to a base endpoint (`/v1/metrics`).
    fn path(self) -> &'static str {
        match self {
            Signal::Metrics => "/v1/metrics",
            Signal::Logs => "/v1/logs",
        }
    }

    /// The signal's word in variable names (`METRICS`).
    fn variable_word(self) -> &'static str {
        match self {
            Signal::Metrics => "METRICS",
            Signal::Logs => "LOGS",
        }
    }
}

/// Where one signal is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The full URL the export is POSTed to.
    pub(crate) url: String,
    /// The longest one export may take.
    pub(crate) timeout: Duration,
}

/// Where each signal goes; `None` when it is not exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Destination {
    /// The metrics target.
    pub(crate) metrics: Option<Target>,
    /// The logs target.
    pub(crate) logs: Option<Target>,
}

impl Destination {
    /// Resolves both signals from `config` and `variable` (a lookup of the
    /// environment).
    pub(crate) fn resolve(config: &Otel, variable: &dyn Fn(&str) -> Option<String>) -> Self {
        let disabled = variable("OTEL_SDK_DISABLED").is_some_and(|value| value.trim().eq_ignore_ascii_case("true"));
        let target = |signal| if disabled { None } else { target(config, signal, variable) };
        Self { metrics: target(Signal::Metrics), logs: target(Signal::Logs) }
    }

    /// Resolves from the process environment.
    pub(crate) fn from_environment(config: &Otel) -> Self {
        Self::resolve(config, &|name| std::env::var(name).ok())
    }

    /// Whether anything is exported at all.
    pub(crate) fn is_off(&self) -> bool {
        self.metrics.is_none() && self.logs.is_none()
    }
}

fn target(config: &Otel, signal: Signal, variable: &dyn Fn(&str) -> Option<String>) -> Option<Target> {
    let word = signal.variable_word();
    let set = |name: &str| variable(name).map(|value| value.trim().to_string()).filter(|value| !value.is_empty());
    let url = match (&config.endpoint, set(&format!("OTEL_EXPORTER_OTLP_{word}_ENDPOINT"))) {
        (Some(base), _) => join(base, signal.path()),
        (None, Some(url)) => url,
        (None, None) => join(&set("OTEL_EXPORTER_OTLP_ENDPOINT")?, signal.path()),
    };
    let from_variable = set(&format!("OTEL_EXPORTER_OTLP_{word}_TIMEOUT"))
        .or_else(|| set("OTEL_EXPORTER_OTLP_TIMEOUT"))
        .and_then(|milliseconds| milliseconds.parse::<u64>().ok())
        .filter(|milliseconds| *milliseconds > 0)
        .map(Duration::from_millis);
    let timeout = from_variable.map_or(config.export_timeout, |timeout| timeout.min(config.export_timeout));
    Some(Target { url, timeout })
}

/// `base` with the signal's path, without a doubled `/`.
fn join(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn otel(endpoint: Option<&str>) -> Otel {
        Otel { endpoint: endpoint.map(str::to_string), export_timeout: Duration::from_secs(5) }
    }

    fn resolve(config: &Otel, variables: &[(&str, &str)]) -> Destination {
        let lookup = |name: &str| variables.iter().find(|(key, _)| *key == name).map(|(_, value)| value.to_string());
        Destination::resolve(config, &lookup)
    }

    /// The metrics and logs URLs.
    type Urls<'a> = (Option<&'a str>, Option<&'a str>);

    fn urls(destination: &Destination) -> Urls<'_> {
        (destination.metrics.as_ref().map(|t| t.url.as_str()), destination.logs.as_ref().map(|t| t.url.as_str()))
    }

    #[test]
    fn endpoints_come_from_the_key_then_the_signal_variable_then_the_common_one() {
        let common = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://common:4318/");
        let metrics_only = ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:9000/custom");
        let check = |endpoint: Option<&str>, variables: &[(&str, &str)], expected: Urls<'_>| {
            let destination = resolve(&otel(endpoint), variables);
            assert_eq!(urls(&destination), expected, "{endpoint:?} {variables:?}");
        };
        check(None, &[], (None, None));
        let agent = (Some("http://agent:4318/v1/metrics"), Some("http://agent:4318/v1/logs"));
        check(Some("http://agent:4318"), &[common, metrics_only], agent);
        check(None, &[common], (Some("http://common:4318/v1/metrics"), Some("http://common:4318/v1/logs")));
        check(None, &[metrics_only], (Some("http://m:9000/custom"), None));
        check(None, &[common, metrics_only], (Some("http://m:9000/custom"), Some("http://common:4318/v1/logs")));
    }

    #[test]
    fn the_sdk_switch_turns_everything_off() {
        let destination = resolve(&otel(Some("http://agent:4318")), &[("OTEL_SDK_DISABLED", "TRUE")]);
        assert!(destination.is_off());
        let destination = resolve(&otel(Some("http://agent:4318")), &[("OTEL_SDK_DISABLED", "false")]);
        assert!(!destination.is_off());
    }

    #[test]
    fn a_timeout_variable_only_shortens_the_agent_s_ceiling() {
        let config = otel(Some("http://agent:4318"));
        let timeouts = |variables: &[(&str, &str)]| {
            let destination = resolve(&config, variables);
            (destination.metrics.unwrap().timeout, destination.logs.unwrap().timeout)
        };
        let (five, two, one) = (Duration::from_secs(5), Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(timeouts(&[]), (five, five));
        assert_eq!(timeouts(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "2000")]), (two, two));
        assert_eq!(timeouts(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "60000")]), (five, five));
        let per_signal = [("OTEL_EXPORTER_OTLP_TIMEOUT", "2000"), ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "1000")];
        assert_eq!(timeouts(&per_signal), (two, one));
        assert_eq!(timeouts(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")]), (five, five));
        assert_eq!(timeouts(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "0")]), (five, five));
    }
}
