//! The logs' instrumentation scope with the agent's version, which the OTLP log
//! exporter of opentelemetry-otlp 0.31 leaves out.
//!
//! Log records are emitted under the scope `endpoint-agent` with the agent's
//! version, as the metrics are. The exporter groups records by scope name and
//! writes each group's scope from that name alone
//! (`opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope`),
//! so the version never reaches the collector. The log exporter is therefore given
//! the agent's HTTP client wrapped in [`ScopeVersionClient`], which reads the
//! encoded `ExportLogsServiceRequest` it is about to send and gives every scope
//! named `endpoint-agent` without a version the agent's, before sending it as the
//! plain client would. Headers, endpoint and timeouts stay the exporter's.
//! A body that does not decode is sent as it is. Revisit on upgrade: once the
//! exporter keeps the version, this finds nothing to fill in.

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message;

/// An HTTP client for the log exporter that puts the scope version back.
#[derive(Debug)]
pub(crate) struct ScopeVersionClient {
    /// The client that sends the request.
    pub(crate) inner: reqwest::Client,
    /// The scope whose version is filled in.
    pub(crate) scope_name: &'static str,
    /// The version it gets.
    pub(crate) version: &'static str,
}

#[async_trait::async_trait]
impl HttpClient for ScopeVersionClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request = request.map(|body| with_scope_version(body, self.scope_name, self.version));
        self.inner.send_bytes(request).await
    }
}

/// `body` (an encoded `ExportLogsServiceRequest`) with every scope named
/// `scope_name` and no version given `version`; unchanged when nothing needs it
/// or the body is not such a request.
fn with_scope_version(body: Bytes, scope_name: &str, version: &str) -> Bytes {
    let Ok(mut export) = ExportLogsServiceRequest::decode(body.as_ref()) else { return body };
    let scopes = export.resource_logs.iter_mut().flat_map(|resource| resource.scope_logs.iter_mut());
    let mut changed = false;
    for scope in scopes.filter_map(|scope_logs| scope_logs.scope.as_mut()) {
        if scope.name == scope_name && scope.version.is_empty() {
            scope.version = version.to_string();
            changed = true;
        }
    }
    if changed { Bytes::from(export.encode_to_vec()) } else { body }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};

    use super::*;

    fn export(scopes: &[(&str, &str)]) -> ExportLogsServiceRequest {
        let scope_logs = scopes
            .iter()
            .map(|(name, version)| ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: name.to_string(),
                    version: version.to_string(),
                    ..Default::default()
                }),
                log_records: vec![LogRecord { event_name: "agent.item.failed".into(), ..Default::default() }],
                ..Default::default()
            })
            .collect();
        ExportLogsServiceRequest { resource_logs: vec![ResourceLogs { scope_logs, ..Default::default() }] }
    }

    fn versions(body: &Bytes) -> Vec<(String, String)> {
        let export = ExportLogsServiceRequest::decode(body.as_ref()).unwrap();
        let scopes = export.resource_logs.iter().flat_map(|resource| &resource.scope_logs);
        scopes.map(|scope_logs| scope_logs.scope.clone().unwrap()).map(|scope| (scope.name, scope.version)).collect()
    }

    #[test]
    fn the_agent_s_scope_gets_the_version_and_nothing_else_changes() {
        let body = Bytes::from(export(&[("endpoint-agent", ""), ("other", ""), ("pinned", "0.1")]).encode_to_vec());
        let fixed = with_scope_version(body, "endpoint-agent", "1.2.3");
        let expected = [("endpoint-agent", "1.2.3"), ("other", ""), ("pinned", "0.1")];
        let expected: Vec<_> = expected.iter().map(|(name, version)| (name.to_string(), version.to_string())).collect();
        assert_eq!(versions(&fixed), expected);
        let records = ExportLogsServiceRequest::decode(fixed.as_ref()).unwrap().resource_logs[0].scope_logs[0]
            .log_records
            .clone();
        assert_eq!(records[0].event_name, "agent.item.failed", "the records are kept");
    }

    #[test]
    fn a_version_already_there_or_a_body_that_is_no_export_is_sent_as_it_is() {
        let versioned = Bytes::from(export(&[("endpoint-agent", "9.9.9")]).encode_to_vec());
        assert_eq!(with_scope_version(versioned.clone(), "endpoint-agent", "1.2.3"), versioned);
        let garbage = Bytes::from_static(b"\xff\xff\xff not protobuf");
        assert_eq!(with_scope_version(garbage.clone(), "endpoint-agent", "1.2.3"), garbage);
    }
}
