//! The reference tenant: a small server that speaks the agent's tenant protocol
//! (CONTRACT.md, "Tenant protocol") and answers a devices API, so the agent can be
//! run and tested end to end without a real management service.
//!
//! `main` is thin: parse the flags, load the seed, open the store, serve.

mod auth;
mod clock;
mod error;
mod routes;
mod seed;
mod store;
mod verdict;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Parser;

/// Command-line flags of the `tenant` binary.
#[derive(Debug, Parser)]
#[command(name = "tenant", version, about = "Reference tenant for the endpoint agent")]
struct Arguments {
    /// Address to listen on; port 0 picks a free one. The bound URL is printed as the
    /// first line on stdout so scripts and tests can read it.
    #[arg(long, default_value = "127.0.0.1:8700")]
    listen: SocketAddr,
    /// A tenant-wide bearer token (any device, and the devices API); repeatable.
    #[arg(long = "token")]
    tokens: Vec<String>,
    /// The default blueprint (JSON) served to every device without one of its own.
    #[arg(long)]
    blueprint: Option<PathBuf>,
    /// A seed file (JSON): tokens, per-device tokens and blueprints, agent versions.
    #[arg(long)]
    seed: Option<PathBuf>,
    /// The SQLite file to store into; without it everything lives in memory.
    #[arg(long)]
    database: Option<PathBuf>,
    /// Fix "now" (RFC 3339) for check-in times and verdicts, for tests and demos.
    #[arg(long)]
    now: Option<DateTime<Utc>>,
    /// Enable `PUT /api/v1/test/clock` so a test can move "now" while the tenant runs.
    #[arg(long)]
    test_clock: bool,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let arguments = Arguments::parse();
    let mut seed = match &arguments.seed {
        Some(path) => seed::Seed::load(path)?,
        None => seed::Seed::default(),
    };
    seed.tokens.extend(arguments.tokens.iter().cloned());
    if let Some(path) = &arguments.blueprint {
        seed.blueprint = Some(seed::read_json(path)?);
    }
    if seed.tokens.is_empty() && seed.device_tokens.is_empty() {
        anyhow::bail!("no token configured: pass --token or list tokens in the seed file");
    }
    let store = match &arguments.database {
        Some(path) => store::Store::open(path)?,
        None => store::Store::open_in_memory()?,
    };
    let state = routes::AppState {
        seed: seed.resolve()?,
        store,
        clock: clock::Clock::new(arguments.now, arguments.test_clock),
    };
    let runtime = tokio::runtime::Runtime::new().context("could not start the async runtime")?;
    runtime.block_on(serve(arguments.listen, Arc::new(state)))
}

/// Binds, announces the bound URL on stdout, and serves until Ctrl-C or SIGTERM.
async fn serve(listen: SocketAddr, state: Arc<routes::AppState>) -> anyhow::Result<()> {
    let listener =
        tokio::net::TcpListener::bind(listen).await.with_context(|| format!("could not listen on {listen}"))?;
    let address = listener.local_addr().context("could not read the bound address")?;
    println!("http://{address}");
    use std::io::Write as _;
    std::io::stdout().flush().context("could not write to stdout")?;
    axum::serve(listener, routes::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server failed")
}

/// Resolves on Ctrl-C or SIGTERM, whichever comes first.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
