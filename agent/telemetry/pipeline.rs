//! The export pipeline: the OpenTelemetry SDK's meter and logger providers, and the
//! OTLP/HTTP exporters they feed, sent on the agent's own schedule.
//!
//! Nothing is exported in the background. Events record into the providers as the
//! check-in goes; [`flush`] sends what was recorded, metrics and logs side by side,
//! each bounded by its export timeout, at the end of every check-in and when the
//! daemon stops. A collector that is down or hangs therefore costs a check-in one
//! bounded wait and one warning, and no thread is left behind holding a request.
//!
//! Metrics are read through the SDK's `ManualReader` (behind its
//! `experimental_metrics_custom_reader` feature: the periodic reader would export
//! from its own thread on its own clock, through a blocking client). Log records
//! are kept by [`LogBuffer`] until the flush hands them to the OTLP log exporter
//! as a `LogBatch`, as the SDK's own processors do (its constructor is public but
//! marked "may become private": pinned to 0.31, revisit on upgrade).
//! Temporality is cumulative: counters count from the process's start (each
//! data point's start time says when that was, so a console reads a new process
//! of the same `service.instance.id` as a counter reset, not a drop).
//! Metrics and log records share one instrumentation scope, `endpoint-agent`
//! with the agent's version (the log exporter needs `scope_version` for that).
//!
//! The resource is fixed per provider, so when it changes (a blueprint or team
//! arrives, the configuration names another collector) the pipeline is built
//! anew; [`activate`] does that once per check-in.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry::logs::{AnyValue, LogRecord, Logger, LoggerProvider, Severity};
use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry_otlp::{LogExporter, MetricExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter as _, LogProcessor, SdkLogRecord, SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    InstrumentKind, ManualReader, Pipeline as SdkPipeline, SdkMeterProvider, Temporality,
};

use super::destination::{Destination, Target};
use super::resource::SERVICE_NAME;
use super::scope_version::ScopeVersionClient;

/// The version of the instrumentation scope of every metric and log record: the agent's.
const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The most log records kept between two flushes; older ones are dropped first.
const LOG_BUFFER_LIMIT: usize = 1024;

/// The pipeline every event of this process records into; `None` while telemetry is off.
static CURRENT: Mutex<Option<Arc<ExportPipeline>>> = Mutex::new(None);

/// Providers, exporters and what they were built for.
pub(crate) struct ExportPipeline {
    destination: Destination,
    resource: Resource,
    /// Kept alive: the reader collects through it.
    _meter_provider: SdkMeterProvider,
    meter: Meter,
    reader: SharedReader,
    metric_exporter: Option<(MetricExporter, Duration)>,
    /// Something was recorded since the last export.
    metrics_pending: AtomicBool,
    /// Kept alive: the logger emits through it.
    _logger_provider: SdkLoggerProvider,
    logger: SdkLogger,
    log_buffer: Arc<LogBuffer>,
    log_exporter: Option<(LogExporter, Duration)>,
}

/// Makes sure events of the coming check-in go to `destination` under `resource`:
/// keeps the current pipeline when both are unchanged, else builds a new one (or
/// none, when nothing is to be exported).
pub(crate) fn activate(destination: Destination, resource: Resource) {
    let mut current = lock(&CURRENT);
    let unchanged =
        current.as_ref().is_some_and(|pipeline| pipeline.destination == destination && pipeline.resource == resource);
    if unchanged {
        return;
    }
    *current = if destination.is_off() { None } else { Some(Arc::new(ExportPipeline::build(destination, resource))) };
}

/// The pipeline events record into, if telemetry is on.
fn current() -> Option<Arc<ExportPipeline>> {
    lock(&CURRENT).clone()
}

/// Records metrics through the current pipeline's meter, if telemetry is on.
pub(crate) fn record_metrics(record: impl FnOnce(&Meter)) {
    if let Some(pipeline) = current() {
        record(&pipeline.meter);
        pipeline.metrics_pending.store(true, Ordering::SeqCst);
    }
}

/// A log record to export: an event name, a severity, a one-line body, attributes.
pub(crate) struct LogEvent {
    /// The record's event name, such as `agent.item.failed`.
    pub(crate) name: &'static str,
    /// How serious it is.
    pub(crate) severity: Severity,
    /// One sentence for people.
    pub(crate) body: String,
    /// The record's attributes.
    pub(crate) attributes: Vec<(&'static str, AnyValue)>,
}

/// Emits `event` as a log record through the current pipeline, if telemetry is on.
pub(crate) fn emit_log(event: LogEvent) {
    let Some(pipeline) = current() else { return };
    let mut record = pipeline.logger.create_log_record();
    let now = std::time::SystemTime::now();
    record.set_event_name(event.name);
    record.set_timestamp(now);
    record.set_observed_timestamp(now);
    record.set_severity_number(event.severity);
    record.set_severity_text(event.severity.name());
    record.set_body(AnyValue::from(event.body));
    for (key, value) in event.attributes {
        record.add_attribute(key, value);
    }
    pipeline.logger.emit(record);
}

/// Sends what was recorded since the last flush. Never fails and never waits
/// longer than the longest export timeout: a collector that is down, refuses or
/// hangs is one warning per signal.
pub(crate) async fn flush() {
    let Some(pipeline) = current() else { return };
    let (metrics, logs) = tokio::join!(pipeline.export_metrics(), pipeline.export_logs());
    for (signal, result) in [("metrics", metrics), ("logs", logs)] {
        if let Some(Err(error)) = result {
            tracing::warn!(signal, error = %error, "Cannot export telemetry; the check-in goes on without it.");
        }
    }
}

impl ExportPipeline {
    /// Builds the providers for `resource` and an exporter per signal `destination` names.
    fn build(destination: Destination, resource: Resource) -> Self {
        let scope = InstrumentationScope::builder(SERVICE_NAME).with_version(AGENT_VERSION).build();
        let reader = SharedReader(Arc::new(ManualReader::builder().with_temporality(Temporality::Cumulative).build()));
        let meter_provider =
            SdkMeterProvider::builder().with_resource(resource.clone()).with_reader(reader.clone()).build();
        let log_buffer = Arc::new(LogBuffer::default());
        let logger_provider = SdkLoggerProvider::builder()
            .with_resource(resource.clone())
            .with_log_processor(SharedLogBuffer(Arc::clone(&log_buffer)))
            .build();
        let metric_exporter = destination.metrics.as_ref().and_then(|target| {
            let exporter =
                metric_exporter(target).map_err(|error| exporter_unusable("metrics", target, &error)).ok()?;
            Some((exporter, target.timeout))
        });
        let log_exporter = destination.logs.as_ref().and_then(|target| {
            let mut exporter = log_exporter(target).map_err(|error| exporter_unusable("logs", target, &error)).ok()?;
            exporter.set_resource(&resource);
            Some((exporter, target.timeout))
        });
        Self {
            meter: meter_provider.meter_with_scope(scope.clone()),
            logger: logger_provider.logger_with_scope(scope),
            destination,
            resource,
            _meter_provider: meter_provider,
            reader,
            metric_exporter,
            metrics_pending: AtomicBool::new(false),
            _logger_provider: logger_provider,
            log_buffer,
            log_exporter,
        }
    }

    /// Exports the metrics if any were recorded since the last export.
    async fn export_metrics(&self) -> Option<Result<(), String>> {
        let (exporter, timeout) = self.metric_exporter.as_ref()?;
        if !self.metrics_pending.swap(false, Ordering::SeqCst) {
            return None;
        }
        let mut collected = ResourceMetrics::default();
        if let Err(error) = self.reader.collect(&mut collected) {
            return Some(Err(format!("cannot collect the metrics: {error}")));
        }
        Some(bounded(*timeout, exporter.export(&collected)).await)
    }

    /// Exports the log records kept since the last flush, if any.
    async fn export_logs(&self) -> Option<Result<(), String>> {
        let (exporter, timeout) = self.log_exporter.as_ref()?;
        let records = self.log_buffer.take();
        if records.is_empty() {
            return None;
        }
        let borrowed: Vec<(&SdkLogRecord, &InstrumentationScope)> =
            records.iter().map(|(record, scope)| (record, scope)).collect();
        Some(bounded(*timeout, exporter.export(LogBatch::new(&borrowed))).await)
    }
}

/// `export` cut off at `timeout`, its error as text.
async fn bounded(timeout: Duration, export: impl Future<Output = OTelSdkResult>) -> Result<(), String> {
    match tokio::time::timeout(timeout, export).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("the collector did not answer within {}", humantime::format_duration(timeout))),
    }
}

fn metric_exporter(target: &Target) -> anyhow::Result<MetricExporter> {
    Ok(MetricExporter::builder()
        .with_http()
        .with_endpoint(&target.url)
        .with_timeout(target.timeout)
        .with_http_client(http_client(target.timeout)?)
        .with_temporality(Temporality::Cumulative)
        .build()?)
}

/// The log exporter, sending through a client that keeps the scope's version
/// (see `scope_version`).
fn log_exporter(target: &Target) -> anyhow::Result<LogExporter> {
    let client =
        ScopeVersionClient { inner: http_client(target.timeout)?, scope_name: SERVICE_NAME, version: AGENT_VERSION };
    Ok(LogExporter::builder()
        .with_http()
        .with_endpoint(&target.url)
        .with_timeout(target.timeout)
        .with_http_client(client)
        .build()?)
}

/// The agent's HTTP client for exports (its TLS stack). [`bounded`] enforces the
/// export timeout; the client's own limit, a little later, only frees a request
/// nobody waits for any more.
fn http_client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    crate::network_rules::client_builder()
        .connect_timeout(timeout)
        .timeout(timeout.saturating_add(Duration::from_secs(1)))
        .build()
}

fn exporter_unusable(signal: &str, target: &Target, error: &anyhow::Error) {
    let error = format!("{error:#}");
    let endpoint = crate::network_rules::redacted_text(&target.url);
    tracing::warn!(signal, endpoint = %endpoint, error = %error, "Cannot set up the telemetry exporter; this signal is not exported.");
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The manual reader, shared between the meter provider (which owns a reader) and
/// the flush (which collects through it).
#[derive(Debug, Clone)]
struct SharedReader(Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<SdkPipeline>) {
        self.0.register_pipeline(pipeline);
    }

    fn collect(&self, metrics: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(metrics)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// Log records kept until the next flush.
#[derive(Debug, Default)]
struct LogBuffer {
    records: Mutex<Vec<(SdkLogRecord, InstrumentationScope)>>,
}

impl LogBuffer {
    /// Everything kept so far, leaving the buffer empty.
    fn take(&self) -> Vec<(SdkLogRecord, InstrumentationScope)> {
        std::mem::take(&mut *lock(&self.records))
    }
}

/// The log processor: keeps each record for the flush instead of exporting it.
#[derive(Debug)]
struct SharedLogBuffer(Arc<LogBuffer>);

impl LogProcessor for SharedLogBuffer {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        let mut records = lock(&self.0.records);
        if records.len() >= LOG_BUFFER_LIMIT {
            records.remove(0);
        }
        records.push((record.clone(), scope.clone()));
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
}
