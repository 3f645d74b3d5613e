//! The daemon's end of the control socket: binding it safely, checking who
//! connects, and serving each connection's one request (see [`super::protocol`]).

use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::protocol::{DaemonStatus, LONGEST_REQUEST, Reply, Request, RunRequest};
use super::queue::{Job, Queued, Rejection, WorkQueue};
use crate::checkin::CheckinRequest;
use crate::progress::ProgressEvent;
use crate::state::Trigger;

/// How long a connected client has to send its request.
const REQUEST_WAIT: Duration = Duration::from_secs(10);

/// Why the control socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Another daemon answers on the socket.
    #[error("another agent daemon is already serving {path}")]
    InUse {
        /// The socket.
        path: PathBuf,
    },
    /// Something that is not a socket is in the way.
    #[error("{path} exists and is not a socket; remove it")]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// The folder, the old socket or the new one could not be handled.
    #[error("cannot set up the control socket {path}")]
    Io {
        /// The socket.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Binds the socket at `path`, readable and writable by its owner (root) only.
/// A socket file left by a daemon that died is replaced; a live daemon's is not.
pub(crate) fn bind(path: &Path) -> Result<UnixListener, ControlError> {
    let failed = |source| ControlError::Io { path: path.to_path_buf(), source };
    if let Some(folder) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o755).create(folder).map_err(failed)?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if !metadata.file_type().is_socket() => {
            return Err(ControlError::NotASocket { path: path.to_path_buf() });
        }
        Ok(_) => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(ControlError::InUse { path: path.to_path_buf() });
            }
            tracing::info!(socket = %path.display(), "Replacing the control socket a stopped daemon left behind.");
            std::fs::remove_file(path).map_err(failed)?;
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(failed(error)),
    }
    let listener = UnixListener::bind(path).map_err(failed)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(failed)?;
    Ok(listener)
}

/// Whether a peer running as `peer_uid` may use the socket: root, or the user the
/// daemon itself runs as (a daemon started by hand, or by tests).
pub(crate) fn is_allowed(peer_uid: u32, own_uid: u32) -> bool {
    peer_uid == 0 || peer_uid == own_uid
}

/// What every connection is served from.
pub(crate) struct Control {
    /// Where run requests go.
    pub(crate) queue: Arc<WorkQueue>,
    /// Fires when the daemon stops: no new connections, requests cancelled.
    pub(crate) shutdown: CancellationToken,
    /// When the daemon started, for `status`.
    pub(crate) started_at: DateTime<Utc>,
    /// The daemon's own uid.
    pub(crate) own_uid: u32,
}

/// Accepts connections until the daemon stops, then waits for the open ones to
/// end (each ends once its check-in has its last reply).
pub(crate) async fn serve(listener: UnixListener, control: Arc<Control>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = control.shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(handle(stream, Arc::clone(&control)));
                }
                Err(error) => {
                    tracing::warn!(error = %error, "Cannot accept a control connection.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Serves one connection: checks the peer, reads its request, answers it.
async fn handle(stream: UnixStream, control: Arc<Control>) {
    let credentials = match stream.peer_cred() {
        Ok(credentials) => credentials,
        Err(error) => {
            tracing::warn!(error = %error, "Cannot read a control connection's credentials; closing it.");
            return;
        }
    };
    let (peer_uid, peer_pid) = (credentials.uid(), credentials.pid());
    let (reader, mut writer) = stream.into_split();
    if !is_allowed(peer_uid, control.own_uid) {
        tracing::warn!(peer_uid, peer_pid, "Refused a control connection: only root may use the control socket.");
        let reason = "only root may use the agent's control socket (try sudo)".to_string();
        let _ = send(&mut writer, &Reply::Refused { reason }).await;
        let _ = writer.shutdown().await;
        return;
    }
    let mut reader = BufReader::new(reader);
    let request = match tokio::time::timeout(REQUEST_WAIT, read_request(&mut reader)).await {
        Ok(Ok(request)) => request,
        Ok(Err(problem)) => {
            tracing::warn!(peer_uid, peer_pid, problem = %problem, "Ignored a bad control request.");
            let reply =
                Reply::Failed { message: format!("bad request: {problem}"), exit_code: crate::exit_code::BAD_INPUT };
            let _ = send(&mut writer, &reply).await;
            return;
        }
        Err(_) => return,
    };
    match request {
        Request::Status => {
            let _ = send(&mut writer, &Reply::Status(status(&control))).await;
        }
        Request::Run(run) => {
            tracing::info!(
                peer_uid,
                peer_pid,
                reset_daily = run.reset_daily,
                wait = run.wait,
                blueprint = run.blueprint.as_ref().map(|path| path.display().to_string()),
                "Check-in requested over the control socket."
            );
            serve_run(run, reader, writer, &control).await;
        }
    }
}

/// Reads the one request line.
async fn read_request(reader: &mut BufReader<OwnedReadHalf>) -> Result<Request, String> {
    let mut line = String::new();
    let read = reader.take(LONGEST_REQUEST).read_line(&mut line).await.map_err(|error| error.to_string())?;
    if read == 0 {
        return Err("the connection closed before a request".to_string());
    }
    if !line.ends_with('\n') {
        return Err(format!("no request line within {LONGEST_REQUEST} bytes"));
    }
    serde_json::from_str(&line).map_err(|error| error.to_string())
}

/// The daemon's state, for a `status` request.
fn status(control: &Control) -> DaemonStatus {
    let (running, queued, next_checkin) = control.queue.snapshot();
    DaemonStatus { pid: std::process::id(), started_at: control.started_at, running, queued, next_checkin }
}

/// Queues the check-in and streams its replies until the last one.
async fn serve_run(run: RunRequest, reader: BufReader<OwnedReadHalf>, mut writer: OwnedWriteHalf, control: &Control) {
    let (replies, receiver) = mpsc::unbounded_channel();
    let cancel = control.shutdown.child_token();
    let request = CheckinRequest {
        reset_daily: run.reset_daily,
        blueprint: run.blueprint,
        trigger: Trigger::Cli,
        wait: run.wait,
    };
    let first = match control.queue.submit(Job { request, replies, cancel: cancel.clone() }) {
        Ok(Queued::Next) => None,
        Ok(Queued::Behind(holder)) => Some(Reply::Progress(ProgressEvent::Waiting { holder: Some(holder) })),
        Err(Rejection::Busy(holder)) => {
            let _ = send(&mut writer, &Reply::Busy { holder }).await;
            return;
        }
        Err(Rejection::Stopping) => {
            let message = "the agent daemon is stopping; try again once it is back".to_string();
            let _ = send(&mut writer, &Reply::Failed { message, exit_code: crate::exit_code::FAILURE }).await;
            return;
        }
    };
    if let Some(first) = first {
        let _ = send(&mut writer, &first).await;
    }
    stream_replies(receiver, reader, writer, cancel).await;
}

/// Passes each reply on until the last one. The requester closing its side (or
/// going away) cancels its check-in; the run then ends properly and its replies
/// still go to the requester as long as it listens.
async fn stream_replies(
    mut receiver: mpsc::UnboundedReceiver<Reply>,
    mut reader: BufReader<OwnedReadHalf>,
    mut writer: OwnedWriteHalf,
    cancel: CancellationToken,
) {
    let mut requester_sending = true;
    let mut requester_listening = true;
    let mut scratch = [0u8; 512];
    loop {
        tokio::select! {
            reply = receiver.recv() => {
                let reply = reply.unwrap_or_else(|| Reply::Failed {
                    message: "the agent daemon stopped before the check-in ended; see agent status".to_string(),
                    exit_code: crate::exit_code::FAILURE,
                });
                if requester_listening && send(&mut writer, &reply).await.is_err() {
                    requester_listening = false;
                    stop_for_the_requester(&cancel);
                }
                if reply.is_last() {
                    let _ = writer.shutdown().await;
                    return;
                }
            }
            read = reader.read(&mut scratch), if requester_sending => {
                if matches!(read, Ok(0) | Err(_)) {
                    requester_sending = false;
                    stop_for_the_requester(&cancel);
                }
            }
        }
    }
}

/// Cancels the requester's check-in (once), as it asked by closing its side.
fn stop_for_the_requester(cancel: &CancellationToken) {
    if !cancel.is_cancelled() {
        tracing::warn!("The requester of a check-in stopped it (Ctrl-C) or went away; stopping its check-in.");
        cancel.cancel();
    }
}

/// Writes one reply line.
async fn send(writer: &mut OwnedWriteHalf, reply: &Reply) -> std::io::Result<()> {
    writer.write_all(reply.to_line().as_bytes()).await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_root_and_the_daemons_own_user_are_served() {
        let cases =
            [(0, 0, true), (0, 501, true), (501, 501, true), (501, 0, false), (65534, 0, false), (502, 501, false)];
        for (peer, own, expected) in cases {
            assert_eq!(is_allowed(peer, own), expected, "peer {peer}, daemon {own}");
        }
    }

    #[tokio::test]
    async fn a_stale_socket_is_replaced_a_live_one_kept_and_a_file_left_alone() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("var/run/agent.sock");
        let live = bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(matches!(bind(&path), Err(ControlError::InUse { .. })));
        drop(live);
        bind(&path).expect("a socket nobody serves is replaced");
        let file = folder.path().join("not-a-socket");
        std::fs::write(&file, "keep").unwrap();
        assert!(matches!(bind(&file), Err(ControlError::NotASocket { .. })));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
    }
}
