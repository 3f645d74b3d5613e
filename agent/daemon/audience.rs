//! Who follows one requested check-in: the person who asked for it, and everyone
//! whose Self Service sync joined it while it waited or ran (see
//! [`super::queue`]). Each gets the same progress and the same last reply; the
//! check-in is called off only once every one of them went away.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::protocol::Reply;

/// The people following one check-in, and the token that calls it off.
#[derive(Debug)]
pub(crate) struct Audience {
    listeners: Mutex<Vec<Listener>>,
    cancel: CancellationToken,
}

/// One requester's connection.
#[derive(Debug)]
struct Listener {
    /// Where its replies go.
    replies: mpsc::UnboundedSender<Reply>,
    /// Whether it still wants the check-in (it has not closed its side).
    present: bool,
}

/// One requester's place in an [`Audience`], kept by its connection.
#[derive(Debug)]
pub(crate) struct Seat {
    audience: Arc<Audience>,
    index: usize,
}

impl Audience {
    /// An audience of the one requester whose replies go to `replies`; `cancel`
    /// (a child of the daemon's shutdown token) calls the check-in off.
    pub(crate) fn new(replies: mpsc::UnboundedSender<Reply>, cancel: CancellationToken) -> (Arc<Self>, Seat) {
        let audience = Arc::new(Audience { listeners: Mutex::new(vec![Listener { replies, present: true }]), cancel });
        let seat = Seat { audience: Arc::clone(&audience), index: 0 };
        (audience, seat)
    }

    /// Adds a requester whose replies go to `replies`; `None` when the check-in
    /// was already called off (everyone left, or the daemon stops).
    pub(crate) fn join(self: &Arc<Self>, replies: mpsc::UnboundedSender<Reply>) -> Option<Seat> {
        let mut listeners = self.lock();
        if self.cancel.is_cancelled() {
            return None;
        }
        listeners.push(Listener { replies, present: true });
        Some(Seat { audience: Arc::clone(self), index: listeners.len() - 1 })
    }

    /// Sends `reply` to every requester whose connection is still open (one who
    /// asked to stop still hears how its check-in ended).
    pub(crate) fn send(&self, reply: &Reply) {
        for listener in self.lock().iter() {
            let _ = listener.replies.send(reply.clone());
        }
    }

    /// Fires when the check-in is called off: every requester left, or the daemon stops.
    pub(crate) fn cancel(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Whether the check-in was called off.
    pub(crate) fn is_called_off(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The lock; nothing panics while holding it, and a poisoned one is still whole.
    fn lock(&self) -> MutexGuard<'_, Vec<Listener>> {
        self.listeners.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Seat {
    /// This requester stopped wanting the check-in (Ctrl-C, or it went away).
    /// The last one to leave calls the check-in off; says whether others still
    /// follow it, so it carries on.
    pub(crate) fn leave(&self) -> bool {
        let mut listeners = self.audience.lock();
        if let Some(listener) = listeners.get_mut(self.index) {
            listener.present = false;
        }
        let others = listeners.iter().any(|listener| listener.present);
        if !others {
            self.audience.cancel.cancel();
        }
        others
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener() -> (mpsc::UnboundedSender<Reply>, mpsc::UnboundedReceiver<Reply>) {
        mpsc::unbounded_channel()
    }

    #[test]
    fn the_check_in_is_called_off_only_when_everyone_left() {
        let (first, mut first_hears) = listener();
        let (audience, first_seat) = Audience::new(first, CancellationToken::new());
        let (joiner, mut joiner_hears) = listener();
        let joiner_seat = audience.join(joiner).expect("joins a live check-in");
        assert!(first_seat.leave(), "the joiner still follows");
        assert!(!audience.is_called_off());
        let reply = Reply::Busy { holder: None };
        audience.send(&reply);
        assert_eq!((first_hears.try_recv().ok(), joiner_hears.try_recv().ok()), (Some(reply.clone()), Some(reply)));
        assert!(!joiner_seat.leave(), "nobody follows any more");
        assert!(audience.is_called_off());
        assert!(audience.join(listener().0).is_none(), "nobody joins a check-in called off");
    }

    #[test]
    fn a_lone_requester_leaving_calls_its_check_in_off() {
        let (audience, seat) = Audience::new(listener().0, CancellationToken::new());
        assert!(!seat.leave());
        assert!(audience.cancel().is_cancelled());
    }
}
