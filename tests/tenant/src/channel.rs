//! The command channel's wake-ups: how a held `GET /api/v1/agent/commands`
//! learns, without polling, that a command was queued or that the tenant is
//! stopping.
//!
//! ```text
//! POST …/action/{action} ──> store.queue_command ──> announce_queued() ──┐
//!                                                                        v
//! GET /api/v1/agent/commands?wait=S ── held ── wakes, asks the store for its device's
//!                                              commands: 200 with them, or holds on
//! RunningTenant::shutdown ──> close() ──> every held request answers 503 at once
//! ```
//!
//! One `watch` counter for the whole tenant: every queued command wakes every held
//! request, and each looks only at its own device. A reference tenant holds few
//! requests, so that is cheaper than keeping a waker per device, and a request
//! subscribes before it reads the store, so a command queued in between is never
//! missed.

use tokio::sync::watch;

/// The wake-ups every held command-channel request listens to.
#[derive(Debug)]
pub(crate) struct CommandChannel {
    /// Bumped each time a command is queued for any device.
    queued: watch::Sender<u64>,
    /// Set once, when the tenant starts shutting down.
    closing: watch::Sender<bool>,
}

/// One held request's view of the channel, taken before it reads the store.
#[derive(Debug)]
pub(crate) struct Listener {
    queued: watch::Receiver<u64>,
    closing: watch::Receiver<bool>,
}

/// Why a held request woke up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WakeUp {
    /// A command was queued for some device since the listener last looked.
    Queued,
    /// The tenant is shutting down: answer at once.
    Closing,
}

impl CommandChannel {
    pub(crate) fn new() -> Self {
        Self { queued: watch::Sender::new(0), closing: watch::Sender::new(false) }
    }

    /// Wakes every held request, after a command was queued.
    pub(crate) fn announce_queued(&self) {
        self.queued.send_modify(|count| *count = count.wrapping_add(1));
    }

    /// Ends every held request (and any that arrives later) with a `503`.
    pub(crate) fn close(&self) {
        self.closing.send_replace(true);
    }

    /// A listener for one request; commands queued after this call wake it.
    pub(crate) fn listen(&self) -> Listener {
        Listener { queued: self.queued.subscribe(), closing: self.closing.subscribe() }
    }

    /// How many requests listen right now: the long-polls held open.
    pub(crate) fn held(&self) -> usize {
        self.queued.receiver_count()
    }
}

impl Listener {
    /// Whether the tenant is shutting down.
    pub(crate) fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }

    /// Waits for the next queued command or the shutdown, whichever comes first.
    pub(crate) async fn wake_up(&mut self) -> WakeUp {
        if self.is_closing() {
            return WakeUp::Closing;
        }
        tokio::select! {
            changed = self.queued.changed() => match changed {
                Ok(()) => WakeUp::Queued,
                Err(_) => WakeUp::Closing,
            },
            _ = self.closing.wait_for(|closing| *closing) => WakeUp::Closing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_command_queued_after_listening_wakes_the_listener_even_before_it_waits() {
        let channel = CommandChannel::new();
        let mut listener = channel.listen();
        assert_eq!(channel.held(), 1);
        channel.announce_queued();
        assert_eq!(listener.wake_up().await, WakeUp::Queued);
        channel.close();
        assert_eq!(listener.wake_up().await, WakeUp::Closing);
        assert!(listener.is_closing());
        drop(listener);
        assert_eq!(channel.held(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_listener_sleeps_until_something_happens() {
        let channel = CommandChannel::new();
        let mut listener = channel.listen();
        let waited = tokio::time::timeout(std::time::Duration::from_secs(60), listener.wake_up()).await;
        assert!(waited.is_err(), "nothing was queued");
        channel.close();
        assert_eq!(listener.wake_up().await, WakeUp::Closing);
    }
}
