//! The clients' end of the control socket (`agent run`, the Self Service verbs
//! and page): find a running daemon, send it the request, and read its replies,
//! showing a check-in's progress as an in-process one would.

use std::future::Future;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::protocol::{Reply, Request};
use crate::progress::ProgressView;
use crate::run_lock::Holder;
use crate::state::RunRecord;

/// How the daemon answered a run request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The check-in ran; its record.
    Finished(RunRecord),
    /// A check-in runs and the request would not wait.
    Busy(Option<Holder>),
    /// The check-in could not run.
    Failed {
        /// Why, with its causes.
        message: String,
        /// The exit code to end with.
        exit_code: u8,
    },
}

/// Why the daemon could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket exists but this user may not use it.
    #[error("the agent daemon refused the request: {reason}")]
    NotAllowed {
        /// What the socket or the daemon said.
        reason: String,
    },
    /// The socket could not be reached for another reason.
    #[error("cannot reach the agent daemon at {path}")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The conversation broke off.
    #[error("lost the connection to the agent daemon before the check-in ended; see agent status")]
    Lost(#[source] std::io::Error),
    /// The daemon sent something this version does not understand.
    #[error("the agent daemon sent an unreadable reply")]
    Unreadable(#[source] serde_json::Error),
}

/// Connects to the daemon at `socket`; `None` when no daemon runs (no socket, or
/// a socket nobody serves), so the caller runs the check-in itself.
pub async fn connect(socket: &Path) -> Result<Option<UnixStream>, ClientError> {
    match UnixStream::connect(socket).await {
        Ok(stream) => Ok(Some(stream)),
        Err(error) if matches!(error.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => {
            Ok(None)
        }
        Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(ClientError::NotAllowed { reason: format!("{}: {error}", socket.display()) })
        }
        Err(source) => Err(ClientError::Connect { path: socket.to_path_buf(), source }),
    }
}

/// What a person without admin rights is told when no daemon answers.
pub(crate) const SERVICE_NOT_RUNNING: &str =
    "the agent's service is not running on this Mac, so Self Service is unavailable; ask your IT admin to start it";

/// Sends `request` (a run, a Self Service install or a sync) and shows the progress the daemon streams back until its last
/// reply. When `interrupted` resolves (Ctrl-C), the daemon is told to stop the
/// check-in, which still ends with its record.
pub async fn run(
    stream: UnixStream,
    request: Request,
    view: &mut ProgressView,
    interrupted: impl Future<Output = ()>,
) -> Result<Answer, ClientError> {
    let shown = |_: &str, reply: &Reply| {
        if let Reply::Progress(event) = reply {
            view.show(event);
        }
    };
    match replies(stream, &request, interrupted, shown).await? {
        Reply::Finished { run } => Ok(Answer::Finished(run)),
        Reply::Busy { holder } => Ok(Answer::Busy(holder)),
        Reply::Failed { message, exit_code } => Ok(Answer::Failed { message, exit_code }),
        Reply::Refused { reason } => Err(ClientError::NotAllowed { reason }),
        Reply::Progress(_) | Reply::Status(_) | Reply::Offered { .. } | Reply::Device(_) | Reply::Updates { .. } => {
            Err(ClientError::Lost(std::io::ErrorKind::InvalidData.into()))
        }
    }
}

/// Sends `request`, one asked and answered in one line (`status`,
/// `self_service_list`, `device_summary`, `pending_updates`), and returns the daemon's reply; a
/// refusal is [`ClientError::NotAllowed`].
pub async fn ask(stream: UnixStream, request: &Request) -> Result<Reply, ClientError> {
    match replies(stream, request, std::future::pending(), |_, _| {}).await? {
        Reply::Refused { reason } => Err(ClientError::NotAllowed { reason }),
        reply => Ok(reply),
    }
}

/// Sends `request` and hands every reply line to `each` as it arrives (the line
/// as the daemon wrote it, without its newline, and read), up to and including
/// the last one, which is returned. When `interrupted` resolves, our writing half
/// is shut down: the daemon cancels the check-in and still sends its record.
///
/// The one reading loop of the socket's replies: `agent run`, the Self Service
/// verbs and the Self Service page all read through it.
pub async fn replies(
    stream: UnixStream,
    request: &Request,
    interrupted: impl Future<Output = ()>,
    mut each: impl FnMut(&str, &Reply),
) -> Result<Reply, ClientError> {
    let (reader, mut writer) = stream.into_split();
    let mut line = serde_json::to_string(request).map_err(ClientError::Unreadable)?;
    line.push('\n');
    // A daemon that refuses this peer answers and closes without reading, so a
    // failed write still leaves its reply to read.
    let written = writer.write_all(line.as_bytes()).await;
    let mut lines = BufReader::new(reader).lines();
    tokio::pin!(interrupted);
    let mut told_to_stop = false;
    loop {
        let line = tokio::select! {
            line = lines.next_line() => line,
            () = &mut interrupted, if !told_to_stop => {
                told_to_stop = true;
                // Closing our side is the signal: the daemon cancels the check-in.
                let _ = writer.shutdown().await;
                continue;
            }
        };
        let line = match line {
            Ok(Some(line)) => line,
            Ok(None) => {
                return Err(ClientError::Lost(written.err().unwrap_or(std::io::ErrorKind::UnexpectedEof.into())));
            }
            Err(error) => return Err(ClientError::Lost(written.err().unwrap_or(error))),
        };
        let reply: Reply = serde_json::from_str(&line).map_err(ClientError::Unreadable)?;
        each(&line, &reply);
        if reply.is_last() {
            return Ok(reply);
        }
    }
}
