//! The check every new connection to the tenant passes before a request is
//! written on it: a layer on reqwest's connector.
//!
//! The connector below has already done the TLS handshake, chain and name
//! verified; this layer then holds the server's certificate (reqwest's
//! `TlsInfo`, so `tls_info(true)` must be on) to the pins, and refuses the
//! connection when its public key matches none: hyper never gets it, so not a
//! byte of a request is sent. A connection that failed below is renamed by the
//! check that failed, with the tenant's URL: a certificate the anchors do not
//! vouch for is `the tenant's certificate is not trusted`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::http::Extensions;
use hyper_util::client::legacy::connect::Connection;
use tower_layer::Layer;
use tower_service::Service;

use super::SpkiPin;

/// What the connector's errors are boxed as.
pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a connection to the tenant was refused; each names the tenant and the check.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectionRefused {
    /// The handshake failed on the server's certificate (chain, name or validity).
    #[error("the tenant's certificate is not trusted ({tenant}): {reason}")]
    NotTrusted { tenant: String, reason: String },
    /// Verified, but its public key is none of the pins.
    #[error("the tenant's public key matches no tenant.pinned_spki_sha256 ({tenant}): the server's is {found}")]
    PinMismatch { tenant: String, found: String },
    /// Pins are set but the connection is not TLS (a loopback `http://` tenant).
    #[error("the tenant's public key matches no tenant.pinned_spki_sha256 ({tenant}): the connection is not TLS")]
    NotTls { tenant: String },
}

/// Makes [`ConnectionCheck`]s for one tenant.
#[derive(Clone)]
pub(crate) struct ConnectionCheckLayer {
    tenant: String,
    pins: Arc<Vec<SpkiPin>>,
}

impl ConnectionCheckLayer {
    /// A layer for the tenant at `tenant` (redacted URL, for messages) holding
    /// connections to `pins` (none: any verified server).
    pub(crate) fn new(tenant: String, pins: Arc<Vec<SpkiPin>>) -> Self {
        Self { tenant, pins }
    }
}

impl<S> Layer<S> for ConnectionCheckLayer {
    type Service = ConnectionCheck<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConnectionCheck { inner, tenant: self.tenant.clone(), pins: Arc::clone(&self.pins) }
    }
}

/// The connector `inner`, with its connections checked.
#[derive(Clone)]
pub(crate) struct ConnectionCheck<S> {
    inner: S,
    tenant: String,
    pins: Arc<Vec<SpkiPin>>,
}

impl<S, Request> Service<Request> for ConnectionCheck<S>
where
    S: Service<Request>,
    S::Response: Connection + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(context).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let connecting = self.inner.call(request);
        let (tenant, pins) = (self.tenant.clone(), Arc::clone(&self.pins));
        Box::pin(async move {
            let connection = connecting.await.map_err(|error| renamed(error.into(), &tenant))?;
            if !pins.is_empty() {
                let mut extensions = Extensions::new();
                connection.connected().get_extras(&mut extensions);
                let certificate = extensions.get::<reqwest::tls::TlsInfo>().and_then(|info| info.peer_certificate());
                check_pin(certificate, &pins, &tenant)?;
            }
            Ok(connection)
        })
    }
}

/// Holds the server's certificate (`None`: not TLS) to `pins`.
pub(crate) fn check_pin(certificate: Option<&[u8]>, pins: &[SpkiPin], tenant: &str) -> Result<(), ConnectionRefused> {
    let Some(certificate) = certificate else {
        return Err(ConnectionRefused::NotTls { tenant: tenant.to_string() });
    };
    match SpkiPin::of_certificate(certificate) {
        Some(pin) if pins.contains(&pin) => Ok(()),
        found => Err(ConnectionRefused::PinMismatch {
            tenant: tenant.to_string(),
            found: found.map_or_else(|| "not readable".to_string(), |pin| pin.to_string()),
        }),
    }
}

/// A failed connection's error, renamed [`ConnectionRefused::NotTrusted`] when
/// it failed on the certificate (rustls says `invalid peer certificate`, the
/// system's TLS that the certificate is not trusted: any cause naming a
/// certificate), else as it was.
pub(super) fn renamed(error: BoxError, tenant: &str) -> BoxError {
    let mut causes = Vec::new();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error.as_ref());
    while let Some(current) = cause {
        causes.push(current.to_string());
        cause = current.source();
    }
    let Some(reason) = causes.iter().rev().find(|text| text.to_ascii_lowercase().contains("certificate")) else {
        return error;
    };
    Box::new(ConnectionRefused::NotTrusted { tenant: tenant.to_string(), reason: reason.clone() })
}
