//! When the page's server stops: `GRACE_AFTER_CLOSED` after the page says it was
//! closed (unless another request comes: a reload), or after `IDLE_LIMIT` without
//! any request (the open page asks `/api/ping` every minute). Never while an
//! install or a sync it started is still running: stopping would close the
//! daemon's connection and cancel it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// How long the server waits after the page says it was closed: long enough for
/// a reload to come back.
pub(crate) const GRACE_AFTER_CLOSED: Duration = Duration::from_secs(10);

/// How long the server waits without a request: five pings missed.
pub(crate) const IDLE_LIMIT: Duration = Duration::from_secs(5 * 60);

/// The two waits, shortened by tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// See [`IDLE_LIMIT`].
    pub idle: Duration,
    /// See [`GRACE_AFTER_CLOSED`].
    pub closed: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { idle: IDLE_LIMIT, closed: GRACE_AFTER_CLOSED }
    }
}

/// What the server has seen lately.
#[derive(Debug)]
struct Seen {
    /// The last request.
    last_request: Instant,
    /// When the page said it was closed, unless a request came since.
    closed_at: Option<Instant>,
    /// Installs and syncs still streaming from the daemon.
    running: usize,
}

/// The server's activity, shared by every request and the task that waits to stop.
#[derive(Debug)]
pub(crate) struct Activity {
    limits: Limits,
    seen: Mutex<Seen>,
    changed: Notify,
}

impl Activity {
    /// Activity starting now.
    pub(crate) fn new(limits: Limits) -> Arc<Self> {
        let seen = Seen { last_request: Instant::now(), closed_at: None, running: 0 };
        Arc::new(Self { limits, seen: Mutex::new(seen), changed: Notify::new() })
    }

    /// A request came: the page is open (again).
    pub(crate) fn request(&self) {
        self.update(|seen| {
            seen.last_request = Instant::now();
            seen.closed_at = None;
        });
    }

    /// The page said it was closed.
    pub(crate) fn closed(&self) {
        self.update(|seen| seen.closed_at = Some(Instant::now()));
    }

    /// A daemon request started; the server does not stop until the returned
    /// guard is dropped.
    pub(crate) fn running(self: &Arc<Self>) -> Running {
        self.update(|seen| seen.running += 1);
        Running(Arc::clone(self))
    }

    /// Resolves when the server should stop.
    pub(crate) async fn until_done(&self) {
        loop {
            let changed = self.changed.notified();
            match self.due() {
                None => changed.await,
                Some(at) if at <= Instant::now() => return,
                Some(at) => {
                    tokio::select! {
                        () = changed => {}
                        () = tokio::time::sleep_until(at) => {}
                    }
                }
            }
        }
    }

    /// When the server stops if nothing else happens; `None` while a daemon
    /// request runs.
    fn due(&self) -> Option<Instant> {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.running > 0 {
            return None;
        }
        let idle = seen.last_request + self.limits.idle;
        Some(seen.closed_at.map_or(idle, |closed| idle.min(closed + self.limits.closed)))
    }

    fn update(&self, change: impl FnOnce(&mut Seen)) {
        change(&mut self.seen.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.notify_one();
    }
}

/// A daemon request in progress (see [`Activity::running`]).
#[derive(Debug)]
pub(crate) struct Running(Arc<Activity>);

impl Drop for Running {
    fn drop(&mut self) {
        // Its end counts as activity: the idle wait starts again from here.
        self.0.update(|seen| {
            seen.running -= 1;
            seen.last_request = Instant::now();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How long `until_done` took, in paused time, after `meanwhile` ran.
    async fn stops_after(activity: &Arc<Activity>, meanwhile: impl Future<Output = ()>) -> Duration {
        let start = Instant::now();
        tokio::join!(activity.until_done(), meanwhile);
        start.elapsed()
    }

    fn limits() -> Limits {
        Limits { idle: Duration::from_secs(300), closed: Duration::from_secs(10) }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_page_stops_the_server_after_the_idle_limit() {
        let activity = Activity::new(limits());
        assert_eq!(stops_after(&activity, async {}).await, Duration::from_secs(300));
    }

    #[tokio::test(start_paused = true)]
    async fn each_request_restarts_the_idle_wait() {
        let activity = Activity::new(limits());
        let pings = async {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_secs(60)).await;
                activity.request();
            }
        };
        assert_eq!(stops_after(&activity, pings).await, Duration::from_secs(180 + 300));
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_page_stops_the_server_after_the_grace_unless_it_reloads() {
        let activity = Activity::new(limits());
        let closed = async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            activity.closed();
        };
        assert_eq!(stops_after(&activity, closed).await, Duration::from_secs(40));

        let activity = Activity::new(limits());
        let reloaded = async {
            activity.closed();
            tokio::time::sleep(Duration::from_secs(5)).await;
            activity.request();
        };
        assert_eq!(stops_after(&activity, reloaded).await, Duration::from_secs(5 + 300), "a reload keeps it");
    }

    #[tokio::test(start_paused = true)]
    async fn a_running_install_keeps_the_server_until_it_ends() {
        let activity = Activity::new(limits());
        let install = async {
            let running = activity.running();
            activity.closed();
            tokio::time::sleep(Duration::from_secs(1000)).await;
            drop(running);
        };
        assert_eq!(
            stops_after(&activity, install).await,
            Duration::from_secs(1000),
            "closed meanwhile: it stops at once"
        );
    }
}
