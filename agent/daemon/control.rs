//! The daemon's end of the control socket: binding it safely, checking who
//! connects, and serving each connection's one request (see [`super::protocol`]).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::audience::Seat;
use super::protocol::{DaemonStatus, LONGEST_REQUEST, Reply, Request};
use super::queue::{Asked, Queued, Rejection, Submitted, WorkQueue};
use crate::accounts::user_name;
use crate::checkin::{CheckinRequest, ProgressEvent};
use crate::config::AgentConfig;
use crate::error_chain::with_causes;
use crate::paths::AgentPaths;
use crate::render;
use crate::safe_path::{self, Folder, Missing, SafePathError, is_kind};
use crate::self_service::{device_summary, offered_items};
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
    /// The socket's folder could not be reached without following a symbolic
    /// link, or made.
    #[error("cannot reach the control socket's folder")]
    Folder(#[source] SafePathError),
    /// Something that is not a socket (a file, a folder, a symbolic link) is in the way.
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

/// The mode of the socket's folder when the agent makes it (`/var/run` is the
/// system's; under `AGENT_ROOT` people who may connect must be able to look in).
const FOLDER_MODE: u32 = 0o755;

/// The socket file's mode: every local user may connect; what each may ask is
/// decided per request from the peer's credentials ([`Request::is_self_service`]).
const SOCKET_MODE: u32 = 0o666;

/// The socket file in its folder, reached without following a link; removed with
/// [`SocketFile::remove`] when the daemon stops.
#[derive(Debug)]
pub(crate) struct SocketFile {
    folder: Folder,
    name: OsString,
}

impl SocketFile {
    /// Removes the socket file with `unlinkat` relative to its folder.
    pub(crate) fn remove(&self) -> Result<(), SafePathError> {
        self.folder.remove_file(&self.name)
    }
}

/// Binds the socket at `path` (under `root`), open to every local user (the
/// daemon checks each request against the peer's credentials). Its folder is reached from `root` without following a link (a link
/// on the way is refused). A socket file left by a daemon that died is removed
/// relative to the folder; a live daemon's is kept; anything else is refused.
pub(crate) fn bind(root: &Path, path: &Path) -> Result<(UnixListener, SocketFile), ControlError> {
    let failed = |source| ControlError::Io { path: path.to_path_buf(), source };
    let (folder, name) =
        safe_path::parent_of(root, path, Missing::Create(FOLDER_MODE)).map_err(ControlError::Folder)?;
    match folder.entry(&name).map_err(ControlError::Folder)? {
        Some(stat) if !is_kind(&stat, nix::sys::stat::SFlag::S_IFSOCK) => {
            return Err(ControlError::NotASocket { path: path.to_path_buf() });
        }
        Some(_) => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(ControlError::InUse { path: path.to_path_buf() });
            }
            tracing::info!(socket = %path.display(), "Replacing the control socket a stopped daemon left behind.");
            folder.remove_file(&name).map_err(ControlError::Folder)?;
        }
        None => {}
    }
    // `bind` takes a path; the folder's path was just walked without a link, and
    // the mode is then set relative to the open folder without following one, so a
    // socket bound anywhere else fails here.
    let listener = UnixListener::bind(path).map_err(failed)?;
    let mode = nix::sys::stat::Mode::from_bits_truncate(SOCKET_MODE as _);
    nix::sys::stat::fchmodat(folder.as_fd(), name.as_os_str(), mode, nix::sys::stat::FchmodatFlags::NoFollowSymlink)
        .map_err(|errno| failed(std::io::Error::from(errno)))?;
    Ok((listener, SocketFile { folder, name }))
}

/// Whether a peer running as `peer_uid` may make every request: root, or the user
/// the daemon itself runs as (a daemon started by hand, or by tests). Others may
/// make the Self Service requests only.
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
    /// Where everything lives, for the Self Service answers.
    pub(crate) paths: AgentPaths,
    /// The configuration in force (replaced on reload).
    pub(crate) config: watch::Receiver<Arc<AgentConfig>>,
}

impl Control {
    /// The configuration in force now.
    fn config(&self) -> Arc<AgentConfig> {
        Arc::clone(&self.config.borrow())
    }
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
    let peer = Peer { uid: credentials.uid(), pid: credentials.pid() };
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let request = match tokio::time::timeout(REQUEST_WAIT, read_request(&mut reader)).await {
        Ok(Ok(request)) => request,
        Ok(Err(problem)) => {
            tracing::warn!(peer_uid = peer.uid, peer_pid = peer.pid, problem = %problem, "Ignored a bad control request.");
            let reply =
                Reply::Failed { message: format!("bad request: {problem}"), exit_code: crate::exit_code::BAD_INPUT };
            let _ = send(&mut writer, &reply).await;
            return;
        }
        Err(_) => return,
    };
    if !is_allowed(peer.uid, control.own_uid) && !request.is_self_service() {
        let user = user_name(peer.uid);
        tracing::warn!(
            peer_uid = peer.uid, peer_pid = peer.pid, user = %user, request = request.name(),
            "Refused a control request: only root may make it."
        );
        let reason = format!("only an administrator may ask the agent to {} (sudo agent …)", request.what_it_asks());
        let _ = send(&mut writer, &Reply::Refused { reason }).await;
        let _ = writer.shutdown().await;
        return;
    }
    answer(request, peer, reader, writer, &control).await;
}

/// The process at the other end of a control connection, as the kernel says.
#[derive(Clone, Copy)]
struct Peer {
    uid: u32,
    pid: Option<i32>,
}

/// Answers one request read from a peer allowed to make it.
async fn answer(
    request: Request,
    peer: Peer,
    reader: BufReader<OwnedReadHalf>,
    mut writer: OwnedWriteHalf,
    control: &Control,
) {
    match request {
        Request::Status => {
            let _ = send(&mut writer, &Reply::Status(status(control))).await;
        }
        Request::Run(run) => {
            tracing::info!(
                peer_uid = peer.uid,
                peer_pid = peer.pid,
                reset_daily = run.reset_daily,
                wait = run.wait,
                blueprint = run.blueprint.as_ref().map(|path| path.display().to_string()),
                "Check-in requested over the control socket."
            );
            let request = CheckinRequest {
                reset_daily: run.reset_daily,
                blueprint: run.blueprint,
                trigger: Trigger::Cli,
                wait: run.wait,
                item: None,
                requested_by: None,
            };
            serve_checkin(request, peer, None, Connection { reader, writer }, control).await;
        }
        Request::SelfServiceInstall { item } => {
            let user = user_name(peer.uid);
            tracing::info!(
                peer_uid = peer.uid, peer_pid = peer.pid, user = %user, item = %item,
                "Self Service install requested over the control socket."
            );
            let request = CheckinRequest::self_service(Some(item), user);
            serve_checkin(request, peer, None, Connection { reader, writer }, control).await;
        }
        Request::SelfServiceList => {
            tracing::info!(peer_uid = peer.uid, peer_pid = peer.pid, user = %user_name(peer.uid), "Self Service catalog requested over the control socket.");
            let reply = match offered_items(&control.paths, &control.config()) {
                Ok(items) => Reply::Offered { items },
                Err(error) => Reply::Failed { message: with_causes(&error), exit_code: crate::exit_code::FAILURE },
            };
            let _ = send(&mut writer, &reply).await;
        }
        Request::DeviceSummary => {
            tracing::info!(peer_uid = peer.uid, peer_pid = peer.pid, user = %user_name(peer.uid), "Device Info requested over the control socket.");
            let summary = device_summary(&control.paths, &control.config()).await;
            let _ = send(&mut writer, &Reply::Device(summary)).await;
        }
        Request::Sync => {
            let user = user_name(peer.uid);
            tracing::info!(
                peer_uid = peer.uid, peer_pid = peer.pid, user = %user,
                "Self Service sync requested over the control socket."
            );
            // People without admin rights sync at most once per interval; root always may.
            let limit = (!is_allowed(peer.uid, control.own_uid)).then(|| control.config().self_service.sync_interval);
            serve_checkin(
                CheckinRequest::self_service(None, user),
                peer,
                limit,
                Connection { reader, writer },
                control,
            )
            .await;
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

/// Both halves of a control connection.
struct Connection {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

/// Queues the check-in (or joins the sync under way) and streams its replies
/// until the last one. `sync_interval` limits a sync by someone without admin
/// rights.
async fn serve_checkin(
    request: CheckinRequest,
    peer: Peer,
    sync_interval: Option<Duration>,
    connection: Connection,
    control: &Control,
) {
    let Connection { reader, mut writer } = connection;
    let (replies, receiver) = mpsc::unbounded_channel();
    let requested_by = request.requested_by.clone();
    let asked = Asked { request, replies, cancel: control.shutdown.child_token(), at: Utc::now(), sync_interval };
    let (first, seat) = match control.queue.submit(asked) {
        Ok(Submitted { queued: Queued::Next, seat }) => (None, seat),
        Ok(Submitted { queued: Queued::Behind(holder), seat }) => {
            (Some(ProgressEvent::Waiting { holder: Some(holder) }), seat)
        }
        Ok(Submitted { queued: Queued::Joined { requested_by: first_by, asked_at }, seat }) => {
            tracing::info!(
                peer_uid = peer.uid, peer_pid = peer.pid, user = requested_by, first_asked_by = first_by, first_asked_at = %asked_at.to_rfc3339(),
                "Joined the Self Service sync already under way."
            );
            (Some(ProgressEvent::Joined { requested_by: first_by, asked_at }), seat)
        }
        Err(rejection) => {
            let _ = send(&mut writer, &refusal(rejection, peer, requested_by.as_deref())).await;
            return;
        }
    };
    if let Some(first) = first {
        let _ = send(&mut writer, &Reply::Progress(first)).await;
    }
    stream_replies(receiver, reader, writer, seat).await;
}

/// The one reply to a request the queue would not take; a sync asked too soon is logged.
fn refusal(rejection: Rejection, peer: Peer, user: Option<&str>) -> Reply {
    match rejection {
        Rejection::Busy(holder) => Reply::Busy { holder },
        Rejection::TooSoon { last_ended, next_from } => {
            tracing::warn!(
                peer_uid = peer.uid, peer_pid = peer.pid, user = user, last_sync_ended = %last_ended.to_rfc3339(),
                next_sync_from = %next_from.to_rfc3339(),
                "Refused a Self Service sync: the last one ended less than self_service.sync_interval ago."
            );
            let message = format!(
                "this Mac last synced at {}; the next sync may be asked for from {} (ask your IT admin if it cannot wait)",
                render::time(last_ended),
                render::time(next_from)
            );
            Reply::Failed { message, exit_code: crate::exit_code::BUSY }
        }
        Rejection::Stopping => {
            let message = "the agent daemon is stopping; try again once it is back".to_string();
            Reply::Failed { message, exit_code: crate::exit_code::FAILURE }
        }
    }
}

/// Passes each reply on until the last one. The requester closing its side (or
/// going away) leaves its check-in, which is called off once nobody else follows
/// it: the run then ends properly and its replies still go to the requester as
/// long as it listens. One who leaves a sync others still follow is told so and
/// let go at once.
async fn stream_replies(
    mut receiver: mpsc::UnboundedReceiver<Reply>,
    mut reader: BufReader<OwnedReadHalf>,
    mut writer: OwnedWriteHalf,
    seat: Seat,
) {
    let mut requester_sending = true;
    let mut requester_listening = true;
    let mut left = false;
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
                    leave(&seat, &mut left);
                }
                if reply.is_last() {
                    let _ = writer.shutdown().await;
                    return;
                }
            }
            read = reader.read(&mut scratch), if requester_sending => {
                if matches!(read, Ok(0) | Err(_)) {
                    requester_sending = false;
                    if leave(&seat, &mut left) {
                        let message = "stopped following the sync; it carries on for the others who asked for it".to_string();
                        let _ = send(&mut writer, &Reply::Failed { message, exit_code: crate::exit_code::FAILURE }).await;
                        let _ = writer.shutdown().await;
                        return;
                    }
                }
            }
        }
    }
}

/// The requester stopped wanting its check-in (Ctrl-C, or it went away): leaves
/// it, logging that once; says whether others still follow it.
fn leave(seat: &Seat, left: &mut bool) -> bool {
    let others = seat.leave();
    if !std::mem::replace(left, true) {
        if others {
            tracing::info!("A requester stopped following the sync; it carries on for the others who asked for it.");
        } else {
            tracing::warn!("The requester of a check-in stopped it (Ctrl-C) or went away; stopping its check-in.");
        }
    }
    others
}

/// Writes one reply line.
async fn send(writer: &mut OwnedWriteHalf, reply: &Reply) -> std::io::Result<()> {
    writer.write_all(reply.to_line().as_bytes()).await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn only_root_and_the_daemons_own_user_are_served() {
        let cases =
            [(0, 0, true), (0, 501, true), (501, 501, true), (501, 0, false), (65534, 0, false), (502, 501, false)];
        for (peer, own, expected) in cases {
            assert_eq!(is_allowed(peer, own), expected, "peer {peer}, daemon {own}");
        }
    }

    #[test]
    fn a_sync_asked_too_soon_says_when_the_last_ran_and_when_the_next_may_be_asked() {
        let last_ended = DateTime::UNIX_EPOCH;
        let next_from = last_ended + chrono::TimeDelta::minutes(5);
        let peer = Peer { uid: 65534, pid: Some(4242) };
        let reply = refusal(Rejection::TooSoon { last_ended, next_from }, peer, Some("nobody"));
        let Reply::Failed { message, exit_code } = reply else { panic!("{reply:?}") };
        assert_eq!(exit_code, crate::exit_code::BUSY);
        assert_eq!(
            message,
            "this Mac last synced at 1970-01-01T00:00:00Z; the next sync may be asked for from 1970-01-01T00:05:00Z (ask your IT admin if it cannot wait)"
        );
    }

    #[tokio::test]
    async fn a_stale_socket_is_replaced_a_live_one_kept_and_a_file_left_alone() {
        let folder = tempfile::tempdir().unwrap();
        let root = folder.path();
        let path = root.join("var/run/agent.sock");
        let live = bind(root, &path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666);
        assert!(matches!(bind(root, &path), Err(ControlError::InUse { .. })));
        drop(live);
        bind(root, &path).expect("a socket nobody serves is replaced");
        let file = root.join("not-a-socket");
        std::fs::write(&file, "keep").unwrap();
        assert!(matches!(bind(root, &file), Err(ControlError::NotASocket { .. })));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
        let link = root.join("link.sock");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(matches!(bind(root, &link), Err(ControlError::NotASocket { .. })));
    }

    #[test]
    fn a_link_on_the_way_to_the_socket_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("var")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("var/run")).unwrap();
        let error = bind(root.path(), &root.path().join("var/run/agent.sock")).unwrap_err();
        assert!(matches!(error, ControlError::Folder(SafePathError::SymbolicLink { .. })), "{error:?}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}
