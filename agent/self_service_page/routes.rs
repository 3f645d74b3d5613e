//! What each request to the page's server gets, after the access checks:
//!
//! ```text
//! GET  /open?secret=S   the secret for the session cookie, then 303 to /
//! GET  /                the page; GET /assets/…: its styles and script
//! GET  /api/catalog     {"items": [...]}: the offered items
//! GET  /api/device      Device Info
//! GET  /api/updates     {"updates": [...]}: the work waiting on this Mac
//! GET  /api/ping        204: the page is still open
//! POST /api/install     {"item": "ID"} → the daemon's reply lines, streamed
//! POST /api/update      {"item": "ID"} → "Update Now": the daemon's reply lines, streamed
//! POST /api/sync        the daemon's reply lines, streamed
//! POST /api/closed      204: the page was closed; the server stops soon after
//! ```

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;

use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{COOKIE, HOST, ORIGIN};
use hyper::{Method, Request, Response, StatusCode};

use super::access::{Access, Refusal};
use super::assets::asset;
use super::daemon_requests;
use super::lifetime::Activity;
use super::responses::{Body, bytes, html, json_error, no_content, secured, to_the_page};
use crate::daemon::protocol;

/// The largest request body read (`{"item": "…"}`).
pub(crate) const LONGEST_BODY: usize = 4 * 1024;

/// What a used or wrong link shows.
pub(crate) const LINK_USED: &str = "This link was already used. Open Self Service again.";

/// Everything a request may need: the access checks, the activity that decides
/// when the server stops, and the daemon's socket.
pub(crate) struct Page {
    /// The secret, the session and the server's address.
    pub access: Access,
    /// Requests seen, for stopping when the page is gone.
    pub activity: Arc<Activity>,
    /// The daemon's control socket.
    pub socket: PathBuf,
}

/// Answers one request; every answer carries the security headers.
pub(crate) async fn answer(page: Arc<Page>, request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path().to_string();
    let response = match page.route(request).await {
        Ok(response) => response,
        Err(refusal) => {
            tracing::warn!(path, why = refusal.why(), "Self Service page request refused.");
            refused(refusal, &path)
        }
    };
    Ok(secured(response))
}

/// What a refused request gets: HTML for the browser, JSON for the page's script.
fn refused(refusal: Refusal, path: &str) -> Response<Body> {
    match refusal {
        Refusal::WrongHost => html(StatusCode::MISDIRECTED_REQUEST, "This address is not the Self Service page."),
        Refusal::WrongOrigin => {
            json_error(StatusCode::FORBIDDEN, "the request did not come from the Self Service page")
        }
        Refusal::SecretSpent => html(StatusCode::FORBIDDEN, LINK_USED),
        Refusal::NoSession if path.starts_with("/api/") => {
            json_error(StatusCode::UNAUTHORIZED, "not signed in to this Self Service page; open Self Service again")
        }
        Refusal::NoSession => html(StatusCode::UNAUTHORIZED, "Open Self Service again to use this page."),
    }
}

impl Page {
    /// Checks `Host`, a `POST`'s `Origin` and the session, then routes.
    async fn route(&self, request: Request<Incoming>) -> Result<Response<Body>, Refusal> {
        let headers = request.headers();
        self.access.check_host(headers.get(HOST).map(|value| value.as_bytes()))?;
        if request.method() == Method::POST {
            self.access.check_origin(headers.get(ORIGIN).map(|value| value.as_bytes()))?;
        }
        if request.method() == Method::GET && request.uri().path() == "/open" {
            self.access.spend_secret(request.uri().query())?;
            self.activity.request();
            return Ok(to_the_page(&self.access.session_cookie())
                .unwrap_or_else(|error| json_error(StatusCode::INTERNAL_SERVER_ERROR, &error.to_string())));
        }
        self.access.check_session(headers.get_all(COOKIE).iter().map(|value| value.as_bytes()))?;
        self.activity.request();
        Ok(self.signed_in(request).await)
    }

    /// A request from the signed-in page.
    async fn signed_in(&self, request: Request<Incoming>) -> Response<Body> {
        let method = request.method().clone();
        match (&method, request.uri().path()) {
            (&Method::GET, "/api/catalog") => daemon_requests::catalog(&self.socket).await,
            (&Method::GET, "/api/device") => daemon_requests::device(&self.socket).await,
            (&Method::GET, "/api/updates") => daemon_requests::updates(&self.socket).await,
            (&Method::GET, "/api/ping") => no_content(),
            (&Method::POST, "/api/closed") => {
                self.activity.closed();
                no_content()
            }
            (&Method::POST, "/api/sync") => {
                daemon_requests::stream(&self.socket, protocol::Request::Sync, &self.activity).await
            }
            (&Method::POST, "/api/install") => match item_asked(request).await {
                Ok(item) => {
                    let asked = protocol::Request::SelfServiceInstall { item };
                    daemon_requests::stream(&self.socket, asked, &self.activity).await
                }
                Err(response) => response,
            },
            (&Method::POST, "/api/update") => match item_asked(request).await {
                Ok(item) => {
                    let asked = protocol::Request::UpdateNow { item };
                    daemon_requests::stream(&self.socket, asked, &self.activity).await
                }
                Err(response) => response,
            },
            (&Method::GET, path) => match asset(path) {
                Some(found) => bytes(StatusCode::OK, found.content_type, found.bytes),
                None => not_found(path),
            },
            (_, path) => not_found(path),
        }
    }
}

/// No such page, or not with this method.
fn not_found(path: &str) -> Response<Body> {
    if path.starts_with("/api/") {
        json_error(StatusCode::NOT_FOUND, "no such request")
    } else {
        html(StatusCode::NOT_FOUND, "There is no such page.")
    }
}

/// The body of `POST /api/install` and `POST /api/update`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemBody {
    /// The item's id.
    item: String,
}

/// Reads `{"item": "ID"}` (at most [`LONGEST_BODY`] bytes): the item asked for.
async fn item_asked(request: Request<Incoming>) -> Result<String, Response<Body>> {
    let body = match Limited::new(request.into_body(), LONGEST_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<LengthLimitError>() => {
            let message = format!("the request body is larger than {LONGEST_BODY} bytes");
            return Err(json_error(StatusCode::PAYLOAD_TOO_LARGE, &message));
        }
        Err(error) => return Err(json_error(StatusCode::BAD_REQUEST, &format!("cannot read the request: {error}"))),
    };
    // A flat object of one string, so serde_json's own nesting limit is plenty.
    match serde_json::from_slice::<ItemBody>(&body) {
        Ok(ItemBody { item }) => Ok(item),
        Err(error) => Err(json_error(StatusCode::BAD_REQUEST, &format!("expected {{\"item\": \"ID\"}}: {error}"))),
    }
}
