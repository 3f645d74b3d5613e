//! `package`: builds `target/pkg/endpoint-agent-X.Y.Z.pkg` and checks it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::{Parser, Subcommand};
use endpoint_package::product::{self, BuildInputs};
use endpoint_package::verify::verify;

/// Builds and checks Endpoint Agent's flat installer package.
#[derive(Debug, Parser)]
#[command(name = "package", version)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The verbs.
#[derive(Debug, Subcommand)]
enum Command {
    /// Build the .pkg from an agent binary, then check it as `verify` does.
    Build {
        /// The `agent` binary to ship (a macOS one for a real install).
        #[arg(long)]
        binary: PathBuf,
        /// The repository (pkg/, launchd/ and Cargo.toml are read from it).
        #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))]
        source_dir: PathBuf,
        /// Where the .pkg goes; default: <source-dir>/target/pkg.
        #[arg(long)]
        output_dir: Option<PathBuf>,
        /// The package version; default: the version in <source-dir>/Cargo.toml.
        #[arg(long)]
        version: Option<String>,
        /// The architectures the binary runs on (Distribution's hostArchitectures).
        #[arg(long, default_value = "arm64,x86_64")]
        host_architectures: String,
        /// Pin the agent's own updates to packages signed by this Apple Developer
        /// Team ID (10 uppercase letters or digits): the payload then carries
        /// config.d/00-package.plist setting self_update.team_id.
        #[arg(long, value_name = "TEAMID")]
        self_update_team_id: Option<String>,
    },
    /// Read a .pkg back and check it.
    Verify {
        /// The package.
        package: PathBuf,
        /// Fail unless the package has this version.
        #[arg(long)]
        version: Option<String>,
    },
}

/// `SOURCE_DATE_EPOCH` when set (reproducible builds), else now.
fn timestamp() -> anyhow::Result<SystemTime> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(seconds) => {
            let seconds: u64 = seconds.trim().parse().context("SOURCE_DATE_EPOCH is not whole seconds")?;
            Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
        }
        Err(_) => Ok(SystemTime::now()),
    }
}

/// What a package says about the agent's own updates.
fn pin_line(pinned_team: Option<&str>) -> String {
    match pinned_team {
        Some(team_id) => format!("self-update pinned to team {team_id}"),
        None => "self-update not pinned by the package (a profile may set self_update.team_id)".to_string(),
    }
}

/// Runs the verb; errors print with their causes.
fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Build { binary, source_dir, output_dir, version, host_architectures, self_update_team_id } => {
            let version = match version {
                Some(version) => version,
                None => product::manifest_version(&source_dir.join("Cargo.toml"))?,
            };
            let inputs = BuildInputs {
                source_dir: source_dir.clone(),
                binary,
                version,
                timestamp: timestamp()?,
                host_architectures,
                self_update_team_id,
            };
            let output_dir = output_dir.unwrap_or_else(|| source_dir.join("target/pkg"));
            let path = product::write_package(&inputs, &output_dir)?;
            let report = verify(&path, Some(&inputs.version))?;
            println!("{}", path.display());
            eprintln!("Built and checked version {} ({} payload paths).", report.version, report.payload_paths.len());
            eprintln!("{}", pin_line(report.pinned_team.as_deref()));
        }
        Command::Verify { package, version } => {
            let report = verify(&package, version.as_deref())?;
            println!("{} is well formed: version {}", package.display(), report.version);
            println!("{}", pin_line(report.pinned_team.as_deref()));
            for path in report.payload_paths {
                println!("  {path}");
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
