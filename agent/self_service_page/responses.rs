//! The page's responses: short HTML texts for the browser, JSON for the page's
//! script, a streamed body for installs and syncs, and the headers every one of
//! them carries.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Frame};
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use tokio::sync::mpsc;

/// Every response's body.
pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// The headers on every response: the page runs only its own script and styles,
/// talks only to this server, is never framed, never cached, never sniffed and
/// never tells another site where it was.
const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
];

/// `response` with the security headers added.
pub(crate) fn secured(mut response: Response<Body>) -> Response<Body> {
    for (name, value) in SECURITY_HEADERS {
        response.headers_mut().insert(*name, HeaderValue::from_static(value));
    }
    response
}

/// A response of `status` with `content_type` and `bytes`.
pub(crate) fn bytes(status: StatusCode, content_type: &'static str, bytes: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(bytes.into()).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A short HTML page saying `text` (plain text, escaped here).
pub(crate) fn html(status: StatusCode, text: &str) -> Response<Body> {
    let escaped = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Self Service</title></head>\
         <body><p>{escaped}</p></body></html>\n"
    );
    bytes(status, "text/html; charset=utf-8", page)
}

/// `value` as JSON.
pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    bytes(status, "application/json", value.to_string())
}

/// `{"error": message}`.
pub(crate) fn json_error(status: StatusCode, message: &str) -> Response<Body> {
    json(status, &serde_json::json!({ "error": message }))
}

/// `204 No Content`.
pub(crate) fn no_content() -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()).boxed());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// `303 See Other` to `/`, setting `cookie`.
pub(crate) fn to_the_page(cookie: &str) -> Result<Response<Body>, hyper::http::Error> {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, "/")
        .header(header::SET_COOKIE, cookie)
        .body(Full::new(Bytes::new()).boxed())
}

/// A `200` whose body is each line sent into the returned sender, as it comes
/// (`application/x-ndjson`); the body ends when the sender is dropped.
pub(crate) fn streamed_lines() -> (mpsc::UnboundedSender<Bytes>, Response<Body>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let mut response = Response::new(Lines(receiver).boxed());
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    (sender, response)
}

/// A body fed line by line through a channel.
struct Lines(mpsc::UnboundedReceiver<Bytes>);

impl hyper::body::Body for Lines {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(context).map(|line| line.map(|line| Ok(Frame::data(line))))
    }
}
