//! Ctrl-C and SIGTERM for the verbs that run until they are stopped (`agent run`,
//! `agent logs --follow`): they stop cleanly instead of dying mid-write.

/// Resolves on SIGINT (Ctrl-C) or SIGTERM. Never resolves when the signals cannot
/// be watched (said once in the log).
pub(crate) async fn stop_requested() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        tracing::warn!("Cannot watch for signals; Ctrl-C will not stop cleanly.");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
}
