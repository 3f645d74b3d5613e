//! Ctrl-C and SIGTERM for the verbs that run until they are stopped (`agent run`,
//! `agent logs --follow`): they stop cleanly instead of dying mid-write.

/// Resolves on SIGINT (Ctrl-C) or SIGTERM. Never resolves when the signals cannot
/// be watched (said once in the log).
///
/// The handlers are registered when this is called, not when the future is first
/// polled: a signal that arrives before then (say, while a check-in is busy
/// starting its first item) is caught instead of killing the agent. Call it
/// inside the tokio runtime.
pub(crate) fn stop_requested() -> impl std::future::Future<Output = ()> + Send {
    use tokio::signal::unix::{SignalKind, signal};
    let watched = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()));
    async move {
        let (Ok(mut interrupt), Ok(mut terminate)) = watched else {
            tracing::warn!("Cannot watch for signals; Ctrl-C will not stop cleanly.");
            return std::future::pending().await;
        };
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    }
}
