//! What the daemon does on a signal: SIGTERM and SIGINT stop it (a second one:
//! stop now), SIGHUP reloads the configuration ([`super::reload`]).

use std::sync::Arc;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;

use super::reload::{Cause, ConfigSource};

/// The signals the daemon handles, registered before it starts serving so none
/// falls through to its default action (which would kill the daemon mid-run).
pub(crate) struct Signals {
    terminate: Signal,
    interrupt: Signal,
    hang_up: Signal,
}

impl Signals {
    /// Registers the handlers.
    pub(crate) fn install() -> std::io::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hang_up: signal(SignalKind::hangup())?,
        })
    }
}

/// Where signals lead.
pub(crate) struct Reactions {
    /// Cancelled by the first SIGTERM or SIGINT: stop gracefully.
    pub(crate) shutdown: CancellationToken,
    /// Cancelled by the second: stop now.
    pub(crate) stop_now: CancellationToken,
    /// The configuration, read again on SIGHUP.
    pub(crate) config: Arc<ConfigSource>,
}

/// Reacts to signals until the daemon ends (the task is then dropped).
pub(crate) async fn watch(mut signals: Signals, reactions: Reactions) {
    loop {
        let name = tokio::select! {
            Some(()) = signals.terminate.recv() => "SIGTERM",
            Some(()) = signals.interrupt.recv() => "SIGINT",
            Some(()) = signals.hang_up.recv() => {
                reactions.config.reload(Cause::Signal);
                continue;
            }
            else => return,
        };
        if reactions.shutdown.is_cancelled() {
            tracing::warn!(signal = name, "Second stop signal: stopping now.");
            reactions.stop_now.cancel();
        } else {
            tracing::info!(signal = name, "Stopping: the running check-in, if any, is being stopped.");
            reactions.shutdown.cancel();
        }
    }
}
