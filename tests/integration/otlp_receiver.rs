//! A real OTLP/HTTP receiver on 127.0.0.1 for the telemetry tests: it takes
//! `POST /v1/metrics` and `POST /v1/logs`, decodes the protobuf bodies with the
//! OpenTelemetry protocol's own messages (opentelemetry-proto), and keeps them with
//! the request's headers, so a test asserts on what a collector would see.
//!
//! On the tests' one accept loop ([`crate::test_server`]), so it can also hang:
//! accept, read the request, and never answer. One thread per connection.
//!
//! Why not an OpenTelemetry Collector binary: none is installed on the build
//! machines, and getting one means downloading a release (or building it from
//! hundreds of Go modules) while the tests run, which the test run must not depend
//! on. Decoding with the protocol's own generated messages checks the same thing a
//! collector's OTLP receiver does first: that every byte is a valid export request
//! of the current protocol (`opentelemetry-proto`, the version the exporter is built
//! against), with the names, units, kinds and scopes a console then reads.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{Metric, NumberDataPoint, metric, number_data_point};
use prost::Message;

use crate::test_server::{Connection, Connections, Request, TestServer};

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// `200` with an empty export response, as a collector does.
    Answer,
    /// Reads the request and never answers.
    Hang,
}

/// One export request as it arrived.
#[derive(Debug, Clone)]
pub struct Export {
    /// `/v1/metrics` or `/v1/logs`.
    pub path: String,
    /// Every header, names in lowercase.
    pub headers: BTreeMap<String, String>,
    /// The body, still encoded.
    pub body: Vec<u8>,
}

struct Shared {
    behavior: Behavior,
    exports: Mutex<Vec<Export>>,
}

/// The running receiver; stopped when dropped.
pub struct OtlpReceiver {
    server: TestServer,
    shared: Arc<Shared>,
}

impl OtlpReceiver {
    /// Starts on a free port of 127.0.0.1.
    pub fn start(behavior: Behavior) -> Self {
        let shared = Arc::new(Shared { behavior, exports: Mutex::new(Vec::new()) });
        let serving = shared.clone();
        let server = TestServer::start(Connections::Concurrent, move |request, connection| {
            answer(request, connection, &serving)
        });
        Self { server, shared }
    }

    /// The base URL, to configure as `otel.endpoint`.
    pub fn endpoint(&self) -> String {
        self.server.base_url()
    }

    /// Every export request so far, in arrival order.
    pub fn exports(&self) -> Vec<Export> {
        self.shared.exports.lock().unwrap().clone()
    }

    /// The metrics exports, decoded.
    pub fn metrics(&self) -> Vec<ExportMetricsServiceRequest> {
        let bodies = self.exports().into_iter().filter(|export| export.path == "/v1/metrics");
        bodies
            .map(|export| ExportMetricsServiceRequest::decode(export.body.as_slice()).expect("metrics protobuf"))
            .collect()
    }

    /// The logs exports, decoded.
    pub fn logs(&self) -> Vec<ExportLogsServiceRequest> {
        let bodies = self.exports().into_iter().filter(|export| export.path == "/v1/logs");
        bodies.map(|export| ExportLogsServiceRequest::decode(export.body.as_slice()).expect("logs protobuf")).collect()
    }

    /// Waits (bounded) until `count` metrics exports have arrived; returns them.
    pub fn wait_for_metrics(&self, count: usize, limit: Duration) -> Vec<ExportMetricsServiceRequest> {
        let start = Instant::now();
        loop {
            let metrics = self.metrics();
            if metrics.len() >= count {
                return metrics;
            }
            assert!(start.elapsed() < limit, "{} metrics exports after {limit:?}, not {count}", metrics.len());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Keeps the export, then answers it as a collector does, or hangs.
fn answer(request: Request, connection: Connection, shared: &Shared) {
    let export = Export { path: request.target, headers: request.headers, body: request.body };
    shared.exports.lock().unwrap().push(export);
    match shared.behavior {
        Behavior::Hang => connection.hang(),
        Behavior::Answer => {
            let content_type = "Content-Type: application/x-protobuf".to_string();
            connection.answer("200 OK", &[content_type], b"");
        }
    }
}

/// An attribute value as text (strings as they are, numbers and booleans printed).
pub fn value_text(value: Option<&AnyValue>) -> String {
    match value.and_then(|value| value.value.as_ref()) {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        Some(any_value::Value::IntValue(number)) => number.to_string(),
        Some(any_value::Value::BoolValue(flag)) => flag.to_string(),
        Some(any_value::Value::DoubleValue(number)) => number.to_string(),
        other => format!("{other:?}"),
    }
}

/// Attributes as a map of texts.
pub fn attributes(attributes: &[KeyValue]) -> BTreeMap<String, String> {
    attributes.iter().map(|attribute| (attribute.key.clone(), value_text(attribute.value.as_ref()))).collect()
}

/// The resource attributes of a metrics export (each export is one resource).
pub fn resource(export: &ExportMetricsServiceRequest) -> BTreeMap<String, String> {
    let resource = export.resource_metrics[0].resource.as_ref().expect("a resource");
    attributes(&resource.attributes)
}

/// Every metric of a metrics export, by name.
pub fn metric<'a>(export: &'a ExportMetricsServiceRequest, name: &str) -> Option<&'a Metric> {
    let metrics = export.resource_metrics.iter().flat_map(|resource| &resource.scope_metrics);
    metrics.flat_map(|scope| &scope.metrics).find(|metric| metric.name == name)
}

/// The gauge or sum data points of `name`, as (attributes, whole-number value).
pub fn points(export: &ExportMetricsServiceRequest, name: &str) -> Vec<(BTreeMap<String, String>, i64)> {
    let points: &[NumberDataPoint] = match metric(export, name).and_then(|metric| metric.data.as_ref()) {
        Some(metric::Data::Gauge(gauge)) => &gauge.data_points,
        Some(metric::Data::Sum(sum)) => &sum.data_points,
        _ => &[],
    };
    let value = |point: &NumberDataPoint| match point.value {
        Some(number_data_point::Value::AsInt(number)) => number,
        Some(number_data_point::Value::AsDouble(number)) => number as i64,
        None => panic!("a data point without a value"),
    };
    points.iter().map(|point| (attributes(&point.attributes), value(point))).collect()
}

/// The `agent.drift` value for `kind`, if exported.
pub fn drift(export: &ExportMetricsServiceRequest, kind: &str) -> Option<i64> {
    let points = points(export, "agent.drift");
    points
        .iter()
        .find(|(attributes, _)| attributes.get("drift.kind").map(String::as_str) == Some(kind))
        .map(|(_, v)| *v)
}

/// Every log record of every logs export, with its resource attributes.
pub fn log_records(exports: &[ExportLogsServiceRequest]) -> Vec<(BTreeMap<String, String>, LogRecord)> {
    let mut all = Vec::new();
    for resource_logs in exports.iter().flat_map(|export| &export.resource_logs) {
        let resource = resource_logs.resource.as_ref().map(|resource| attributes(&resource.attributes));
        for record in resource_logs.scope_logs.iter().flat_map(|scope| &scope.log_records) {
            all.push((resource.clone().unwrap_or_default(), record.clone()));
        }
    }
    all
}

/// The `agent.drift.changed` records, as (drift.kind, previous, value, run.id).
pub fn drift_changes(logs: &[ExportLogsServiceRequest]) -> Vec<(String, String, String, Option<String>)> {
    let records = log_records(logs);
    let changes = records.iter().filter(|(_, record)| record.event_name == "agent.drift.changed");
    changes
        .map(|(_, record)| {
            let attributes = attributes(&record.attributes);
            let field = |name: &str| attributes.get(name).cloned().unwrap_or_default();
            (field("drift.kind"), field("drift.previous"), field("drift.value"), attributes.get("run.id").cloned())
        })
        .collect()
}

/// The instrumentation scopes of logs exports, as (name, version), each once, in order.
pub fn log_scopes(logs: &[ExportLogsServiceRequest]) -> Vec<(String, String)> {
    let resources = logs.iter().flat_map(|export| &export.resource_logs);
    unique_scopes(resources.flat_map(|resource| &resource.scope_logs).map(|scope_logs| scope_logs.scope.as_ref()))
}

/// The instrumentation scopes of a metrics export, as (name, version), each once, in order.
pub fn metric_scopes(export: &ExportMetricsServiceRequest) -> Vec<(String, String)> {
    let scopes = export.resource_metrics.iter().flat_map(|resource| &resource.scope_metrics);
    unique_scopes(scopes.map(|scope_metrics| scope_metrics.scope.as_ref()))
}

fn unique_scopes<'a>(scopes: impl Iterator<Item = Option<&'a InstrumentationScope>>) -> Vec<(String, String)> {
    let mut unique = Vec::new();
    for scope in scopes {
        let named = scope.map(|scope| (scope.name.clone(), scope.version.clone())).unwrap_or_default();
        if !unique.contains(&named) {
            unique.push(named);
        }
    }
    unique
}
