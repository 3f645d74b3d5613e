//! Starting and stopping a tenant: serve on a listener the caller bound (so it
//! knows the port before anything is served), stop gracefully and within a bound.
//! Command-channel requests held open are ended first (`503`), so they never hold
//! up a shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::channel::CommandChannel;
use crate::clock::Clock;
use crate::routes::{self, AppState};
use crate::seed::Seed;
use crate::store::Store;

/// How long requests in flight may take to finish once a shutdown is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What a tenant starts with.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Credentials, blueprints and agent versions; at least one agent token or
    /// enrollment secret is required.
    pub seed: Seed,
    /// The SQLite file to store into; `None` keeps everything in memory. A tenant
    /// started again on the same file knows every device, report and command.
    pub database: Option<PathBuf>,
    /// Fix "now" for check-in times and verdicts.
    pub now: Option<DateTime<Utc>>,
    /// Enable `PUT /api/v1/test/clock`, so a test can move "now" while it runs.
    pub test_clock: bool,
    /// Do not offer the command channel (`GET /api/v1/agent/commands` answers `404`,
    /// as an unknown route): commands then wait for the device's next check-in, as
    /// with a tenant that predates the channel. Off by default.
    pub without_command_channel: bool,
}

/// A tenant serving on its listener until [`RunningTenant::shutdown`].
#[derive(Debug)]
pub struct RunningTenant {
    address: SocketAddr,
    channel: Arc<CommandChannel>,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
}

/// Opens the store and serves on `listener` in a task of the current Tokio
/// runtime; returns once it accepts connections.
pub async fn start(listener: std::net::TcpListener, settings: Settings) -> anyhow::Result<RunningTenant> {
    let Settings { seed, database, now, test_clock, without_command_channel } = settings;
    if seed.tokens.is_empty() && seed.device_tokens.is_empty() && seed.enrollment_secrets.is_empty() {
        anyhow::bail!(
            "no token configured: pass --token or --enrollment-secret, or list tokens or enrollment_secrets in the seed file"
        );
    }
    let all = || seed.tokens.iter().chain(&seed.admin_tokens).chain(&seed.enrollment_secrets);
    let distinct: std::collections::BTreeSet<_> = all().chain(seed.device_tokens.values()).collect();
    if distinct.len() != all().count() + seed.device_tokens.len() {
        anyhow::bail!("a token is listed twice: admin tokens, enrollment secrets and device tokens must all differ");
    }
    let store = match &database {
        Some(path) => Store::open(path)?,
        None => Store::open_in_memory()?,
    };
    let channel = Arc::new(CommandChannel::new());
    let clock = Clock::new(now, test_clock);
    let state = Arc::new(AppState { seed: seed.resolve()?, store, clock, channel: Arc::clone(&channel) });
    listener.set_nonblocking(true).context("could not make the listener non-blocking")?;
    let listener = tokio::net::TcpListener::from_std(listener).context("could not serve on the listener")?;
    let address = listener.local_addr().context("could not read the bound address")?;
    let (stop, stopped) = oneshot::channel::<()>();
    let router = routes::router(state, !without_command_channel);
    let server = axum::serve(listener, router).with_graceful_shutdown(async {
        let _ = stopped.await;
    });
    Ok(RunningTenant { address, channel, stop, server: tokio::spawn(server.into_future()) })
}

impl RunningTenant {
    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Its base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// How many command-channel requests are held open right now.
    pub fn held_command_requests(&self) -> usize {
        self.channel.held()
    }

    /// Ends the command-channel requests held open (`503`, at once), stops accepting
    /// connections (the port is closed when this returns) and lets the other requests
    /// in flight finish, for at most [`SHUTDOWN_GRACE`]; then the database is closed.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.channel.close();
        let _ = self.stop.send(());
        let mut server = self.server;
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
            Ok(result) => result.context("the server task failed")?.context("server failed"),
            Err(_) => {
                server.abort();
                anyhow::bail!("requests still in flight after {SHUTDOWN_GRACE:?}; they were cut off")
            }
        }
    }

    /// Serves until `signal` resolves (or the server fails), then shuts down.
    pub async fn serve_until(mut self, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
        tokio::select! {
            () = signal => self.shutdown().await,
            result = &mut self.server => result.context("the server task failed")?.context("server failed"),
        }
    }
}
