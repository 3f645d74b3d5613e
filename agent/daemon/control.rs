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
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::connection_limit::{ConnectionLimit, PER_PERSON};
use super::protocol::{DaemonStatus, LONGEST_REQUEST, Reply, Request};
use super::queue::WorkQueue;
use super::requested::{Connection, serve_checkin, serve_update_now};
use crate::accounts::user_name;
use crate::checkin::CheckinRequest;
use crate::config::AgentConfig;
use crate::error_chain::with_causes;
use crate::paths::AgentPaths;
use crate::safe_path::{self, Folder, Missing, SafePathError, is_kind};
use crate::self_service::{device_summary, offered_items, pending_updates};
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
    /// How many connections each person without admin rights holds open.
    pub(crate) connections: Arc<ConnectionLimit>,
}

impl Control {
    /// The configuration in force now.
    pub(super) fn config(&self) -> Arc<AgentConfig> {
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
    let _admitted = if is_allowed(peer.uid, control.own_uid) {
        None
    } else {
        match control.connections.admit(peer.uid) {
            Ok(admitted) => Some(admitted),
            Err(refused) => {
                if refused.worth_logging() {
                    tracing::warn!(
                        peer_uid = peer.uid, peer_pid = peer.pid, user = %user_name(peer.uid), refused = refused.refused,
                        "Refused a control connection: this user already holds the most open at once."
                    );
                }
                let message = format!(
                    "too many requests from this user at once (at most {PER_PERSON}); try again when one has finished"
                );
                let _ = send(&mut writer, &Reply::Failed { message, exit_code: crate::exit_code::BUSY }).await;
                return;
            }
        }
    };
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
    answer(request, peer, Connection { reader, writer }, &control).await;
}

/// The process at the other end of a control connection, as the kernel says.
#[derive(Clone, Copy)]
pub(super) struct Peer {
    /// Its user id.
    pub(super) uid: u32,
    /// Its process id, when the kernel gives it.
    pub(super) pid: Option<i32>,
}

/// Answers one request read from a peer allowed to make it.
async fn answer(request: Request, peer: Peer, mut connection: Connection, control: &Control) {
    match request {
        Request::Status => {
            let _ = send(&mut connection.writer, &Reply::Status(status(control))).await;
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
                force: false,
                requested_by: None,
            };
            serve_checkin(request, peer, connection, control).await;
        }
        Request::SelfServiceInstall { item } => {
            let user = user_name(peer.uid);
            tracing::info!(
                peer_uid = peer.uid, peer_pid = peer.pid, user = %user, item = %item,
                "Self Service install requested over the control socket."
            );
            let request = CheckinRequest::self_service(Some(item), user);
            serve_checkin(request, peer, connection, control).await;
        }
        Request::SelfServiceList | Request::DeviceSummary | Request::PendingUpdates => {
            let reply = self_service_reading(&request, peer, control).await;
            let _ = send(&mut connection.writer, &reply).await;
        }
        Request::UpdateNow { item } => serve_update_now(item, peer, connection, control).await,
        Request::RunItem { item, force } => {
            tracing::info!(
                peer_uid = peer.uid, peer_pid = peer.pid, item = %item, force,
                "Library item run requested over the control socket."
            );
            serve_checkin(CheckinRequest::library_item(item, force), peer, connection, control).await;
        }
        Request::Sync => {
            let user = user_name(peer.uid);
            tracing::info!(
                peer_uid = peer.uid, peer_pid = peer.pid, user = %user,
                "Self Service sync requested over the control socket."
            );
            let request = CheckinRequest::self_service(None, user);
            serve_checkin(request, peer, connection, control).await;
        }
    }
}

/// The answer to a Self Service request that only reads (the catalog, Device
/// Info, the pending updates), logged with who asked.
async fn self_service_reading(request: &Request, peer: Peer, control: &Control) -> Reply {
    let user = user_name(peer.uid);
    let failed = |error: &dyn std::error::Error| Reply::Failed {
        message: with_causes(error),
        exit_code: crate::exit_code::FAILURE,
    };
    match request {
        Request::DeviceSummary => {
            tracing::info!(peer_uid = peer.uid, peer_pid = peer.pid, user = %user, "Device Info requested over the control socket.");
            Reply::Device(device_summary(&control.paths, &control.config()).await)
        }
        Request::PendingUpdates => {
            tracing::info!(peer_uid = peer.uid, peer_pid = peer.pid, user = %user, "Self Service updates requested over the control socket.");
            pending_updates(&control.paths).map_or_else(|error| failed(&error), |updates| Reply::Updates { updates })
        }
        _ => {
            tracing::info!(peer_uid = peer.uid, peer_pid = peer.pid, user = %user, "Self Service catalog requested over the control socket.");
            offered_items(&control.paths, &control.config())
                .map_or_else(|error| failed(&error), |items| Reply::Offered { items })
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

/// Writes one reply line.
pub(super) async fn send(writer: &mut OwnedWriteHalf, reply: &Reply) -> std::io::Result<()> {
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
