//! The page's requests to the daemon, made over the control socket as the person
//! who runs the page: the daemon sees their uid and allows exactly what it allows
//! them on the command line.

use std::path::Path;
use std::sync::Arc;

use hyper::body::Bytes;
use hyper::{Response, StatusCode};
use serde_json::json;

use super::lifetime::Activity;
use super::responses::{Body, json, json_error, streamed_lines};
use crate::daemon::client::{self, ClientError, SERVICE_NOT_RUNNING};
use crate::daemon::protocol::{Reply, Request};
use crate::error_chain;

/// Why the daemon gave no answer to pass on.
enum Failure {
    /// No daemon runs.
    NoDaemon,
    /// The daemon could not be asked, or refused.
    Client(ClientError),
    /// The daemon answered something else than asked for.
    Unexpected(Reply),
}

impl Failure {
    /// `503` when no daemon runs, `502` otherwise, with what went wrong.
    fn response(self) -> Response<Body> {
        let message = match self {
            Failure::NoDaemon => return json_error(StatusCode::SERVICE_UNAVAILABLE, SERVICE_NOT_RUNNING),
            Failure::Client(error) => error_chain::with_causes(&error),
            Failure::Unexpected(Reply::Failed { message, .. }) => message,
            Failure::Unexpected(other) => {
                format!("the agent daemon sent an unexpected reply: {}", other.to_line().trim_end())
            }
        };
        tracing::warn!(error = %message, "The Self Service page could not get an answer from the daemon.");
        json_error(StatusCode::BAD_GATEWAY, &message)
    }
}

/// Connects to the daemon.
async fn connect(socket: &Path) -> Result<tokio::net::UnixStream, Failure> {
    client::connect(socket).await.map_err(Failure::Client)?.ok_or(Failure::NoDaemon)
}

/// Asks the daemon `request`, answered in one line.
async fn ask(socket: &Path, request: &Request) -> Result<Reply, Failure> {
    client::ask(connect(socket).await?, request).await.map_err(Failure::Client)
}

/// `GET /api/catalog`: `{"items": [...]}`, the offered items as the daemon lists them.
pub(crate) async fn catalog(socket: &Path) -> Response<Body> {
    match ask(socket, &Request::SelfServiceList).await {
        Ok(Reply::Offered { items }) => json(StatusCode::OK, &json!({ "items": items })),
        Ok(other) => Failure::Unexpected(other).response(),
        Err(failure) => failure.response(),
    }
}

/// `GET /api/device`: Device Info as the daemon summarises it.
pub(crate) async fn device(socket: &Path) -> Response<Body> {
    match ask(socket, &Request::DeviceSummary).await {
        Ok(Reply::Device(summary)) => match serde_json::to_value(summary) {
            Ok(value) => json(StatusCode::OK, &value),
            Err(error) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &error.to_string()),
        },
        Ok(other) => Failure::Unexpected(other).response(),
        Err(failure) => failure.response(),
    }
}

/// `GET /api/updates`: `{"updates": [...]}`, the work waiting on this Mac as the
/// daemon lists it.
pub(crate) async fn updates(socket: &Path) -> Response<Body> {
    match ask(socket, &Request::PendingUpdates).await {
        Ok(Reply::Updates { updates }) => json(StatusCode::OK, &json!({ "updates": updates })),
        Ok(other) => Failure::Unexpected(other).response(),
        Err(failure) => failure.response(),
    }
}

/// `POST /api/install`, `/api/update` and `/api/sync`: the daemon's reply lines, streamed to
/// the page as they come.
///
/// The daemon is read to its last reply in a task of its own: a page closed
/// midway does not close the daemon's connection, which would cancel the run.
/// A conversation that breaks off ends the stream with a `failed` line.
pub(crate) async fn stream(socket: &Path, request: Request, activity: &Arc<Activity>) -> Response<Body> {
    let connection = match connect(socket).await {
        Ok(connection) => connection,
        Err(failure) => return failure.response(),
    };
    let (lines, response) = streamed_lines();
    let running = activity.running();
    tokio::spawn(async move {
        let _running = running;
        // A page gone away drops the receiver; its lines are dropped, the run goes on.
        let pass_on = |line: &str, _: &Reply| {
            let _ = lines.send(Bytes::from(format!("{line}\n")));
        };
        if let Err(error) = client::replies(connection, &request, std::future::pending(), pass_on).await {
            let message = error_chain::with_causes(&error);
            tracing::warn!(request = request.name(), error = %message, "The Self Service page lost the daemon.");
            let _ = lines.send(Bytes::from(Reply::Failed { message, exit_code: crate::exit_code::FAILURE }.to_line()));
        }
    });
    response
}
