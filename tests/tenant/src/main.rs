//! The reference tenant: a small server that speaks the agent's tenant protocol
//! (CONTRACT.md, "Tenant protocol") and answers a devices API, so the agent can be
//! run and tested end to end without a real management service.
//!
//! `main` is thin: parse the flags, load the seed, then serve through the library
//! until Ctrl-C or SIGTERM.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Parser;
use endpoint_tenant::{Seed, Settings};

/// Command-line flags of the `tenant` binary.
#[derive(Debug, Parser)]
#[command(name = "tenant", version, about = "Reference tenant for the endpoint agent")]
struct Arguments {
    /// Address to listen on; port 0 picks a free one. The bound URL is printed as the
    /// first line on stdout so scripts and tests can read it.
    #[arg(long, default_value = "127.0.0.1:8700")]
    listen: SocketAddr,
    /// A fleet-wide agent token (acts for any device, never on the devices API); repeatable.
    #[arg(long = "token")]
    tokens: Vec<String>,
    /// An admin token: the devices API and its actions only; repeatable.
    #[arg(long = "admin-token")]
    admin_tokens: Vec<String>,
    /// An enrollment secret: `POST /api/v1/agent/enroll` only; repeatable.
    #[arg(long = "enrollment-secret")]
    enrollment_secrets: Vec<String>,
    /// The default blueprint (JSON) served to every device without one of its own.
    #[arg(long)]
    blueprint: Option<PathBuf>,
    /// A seed file (JSON): tokens, admin tokens, enrollment secrets, per-device tokens
    /// and blueprints, agent versions.
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
    /// Do not offer the command channel: `GET /api/v1/agent/commands` answers 404 and
    /// queued commands wait for each device's next check-in.
    #[arg(long)]
    no_command_channel: bool,
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
        Some(path) => Seed::load(path)?,
        None => Seed::default(),
    };
    seed.tokens.extend(arguments.tokens.iter().cloned());
    seed.admin_tokens.extend(arguments.admin_tokens.iter().cloned());
    seed.enrollment_secrets.extend(arguments.enrollment_secrets.iter().cloned());
    if let Some(path) = &arguments.blueprint {
        seed.blueprint = Some(endpoint_tenant::read_json(path)?);
    }
    let settings = Settings {
        seed,
        database: arguments.database.clone(),
        now: arguments.now,
        test_clock: arguments.test_clock,
        without_command_channel: arguments.no_command_channel,
    };
    let listener = std::net::TcpListener::bind(arguments.listen)
        .with_context(|| format!("could not listen on {}", arguments.listen))?;
    let runtime = tokio::runtime::Runtime::new().context("could not start the async runtime")?;
    runtime.block_on(async {
        let tenant = endpoint_tenant::start(listener, settings).await?;
        // The bound URL is the first line on stdout, so scripts and tests can read it.
        println!("{}", tenant.url());
        std::io::stdout().flush().context("could not write to stdout")?;
        tenant.serve_until(shutdown_signal()).await
    })
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
