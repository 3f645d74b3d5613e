//! A check-in asked for over a control connection: queued, joined to the sync
//! under way, or refused at once, then followed until its last reply. The
//! requester closing its side leaves the check-in ([`super::audience`]).
//!
//! "Update Now" is checked here before it is queued: only an item whose work
//! waits in the store may be asked for, and it then runs as a Self Service
//! install of that one item does.

use chrono::Utc;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use super::audience::Seat;
use super::control::{Control, Peer, is_allowed, send};
use super::protocol::Reply;
use super::queue::{Asked, Queued, Rejection, Submitted};
use crate::accounts::user_name;
use crate::checkin::{CheckinRequest, ProgressEvent};
use crate::error_chain::with_causes;
use crate::render;
use crate::self_service::waiting_update;

/// Both halves of a control connection.
pub(super) struct Connection {
    /// What the requester sends (its closing is the signal to stop).
    pub(super) reader: BufReader<OwnedReadHalf>,
    /// Where the replies go.
    pub(super) writer: OwnedWriteHalf,
}

/// Queues the check-in (or joins the sync under way) and streams its replies
/// until the last one. People without admin rights sync at most once per
/// `self_service.sync_interval`; root always may.
pub(super) async fn serve_checkin(request: CheckinRequest, peer: Peer, connection: Connection, control: &Control) {
    let Connection { reader, mut writer } = connection;
    let limited = request.is_sync() && !is_allowed(peer.uid, control.own_uid);
    let sync_interval = limited.then(|| control.config().self_service.sync_interval);
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

/// "Update Now" on `item` (its id or name): refused, and logged, unless the item
/// has pending work; otherwise its run of kind `self_service`, asked for by the
/// peer's user, queued and streamed like an install.
pub(super) async fn serve_update_now(item: String, peer: Peer, mut connection: Connection, control: &Control) {
    let user = user_name(peer.uid);
    match waiting_update(&control.paths, &control.config(), &item) {
        Ok(update) => {
            tracing::info!(
                peer_uid = peer.uid, peer_pid = peer.pid, user = %user, item = %item, item_id = %update.id,
                "Self Service update requested over the control socket."
            );
            let request = CheckinRequest::self_service(Some(update.id), user);
            serve_checkin(request, peer, connection, control).await;
        }
        Err(error) => {
            let message = with_causes(&error);
            tracing::warn!(
                peer_uid = peer.uid, peer_pid = peer.pid, user = %user, item = %item, error = %message,
                "Refused a Self Service update: nothing of that item waits."
            );
            let exit_code = if error.is_refusal() { crate::exit_code::BAD_INPUT } else { crate::exit_code::FAILURE };
            let _ = send(&mut connection.writer, &Reply::Failed { message, exit_code }).await;
            let _ = connection.writer.shutdown().await;
        }
    }
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

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;

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
}
