//! The command line, as clap types: what an admin can type, and the error for a
//! value typed there that a verb cannot use.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Endpoint Agent: enforces a blueprint on this Mac and reports to its tenant.
#[derive(Debug, Parser)]
#[command(name = "agent", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Override a configuration key for this command (repeatable), e.g.
    /// `--set timeouts.custom_script=90s`. Flags win over every other source.
    #[arg(long = "set", value_name = "KEY=VALUE", global = true)]
    pub set: Vec<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one check-in now and wait for it, printing progress.
    Run(RunArgs),
    /// Show the last check-ins, the schedule and drift.
    Status(JsonArgs),
    /// List past check-ins, or show one in full.
    History(HistoryArgs),
    /// Read the agent's logs back, filtered.
    Logs(LogsArgs),
    /// Collect the device and application inventory now, save it and show it.
    Inventory(JsonArgs),
    /// The MDM daily check-in: answer ProfileList, InstalledApplicationList,
    /// SecurityInfo, CertificateList, AvailableOSUpdates and DeviceInformation
    /// from a fresh inventory, and send the answers to the tenant.
    UpdateMdm(JsonArgs),
    /// Show the effective configuration.
    Config(ConfigArgs),
    /// Check what keeps this Mac under management: install, daemon, tenant, push,
    /// check-in and inventory age, MDM profile, FileVault. Exits 1 when a check fails.
    Doctor(JsonArgs),
    /// Show where the agent keeps its files.
    Paths(JsonArgs),
    /// Run the scheduler and control socket in the foreground (what launchd starts).
    Daemon,
    /// Store the tenant's URL and token (a root-only configuration fragment).
    Enroll(EnrollArgs),
    /// Run the daily check-in now, as Self Service's Sync does.
    Sync(JsonArgs),
    /// What the admin offers in Self Service: list it, or install one item.
    SelfService(SelfServiceArgs),
    /// The blueprint's library items: list them, show one item's last state, or
    /// run one item now (Iru's `library` verbs).
    Library(LibraryArgs),
}

/// `agent library`: exactly one of `--list`, `--state` and `--item`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("action").required(true).args(["list", "state", "item"]))]
pub struct LibraryArgs {
    /// List every item of the blueprint in run order, with its last status.
    #[arg(long)]
    pub list: bool,
    /// Show this item's last results and output.
    #[arg(long, value_name = "ID|NAME")]
    pub state: Option<String>,
    /// Run this item now (as a run of kind `item`) and wait for it, printing
    /// progress. Root only.
    #[arg(long, value_name = "ID|NAME")]
    pub item: Option<String>,
    /// With `--item`: run it even when its frequency would skip it (a `once`
    /// item already done, a `no_enforcement` or `daily` one).
    #[arg(short = 'F', long = "force", requires = "item")]
    pub force: bool,
    /// Print JSON instead of text (with `--item`: the run record when done).
    #[arg(long)]
    pub json: bool,
}

/// `agent self-service`.
#[derive(Debug, Args)]
pub struct SelfServiceArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: SelfServiceAction,
}

/// The Self Service verbs.
#[derive(Debug, Subcommand)]
pub enum SelfServiceAction {
    /// List the offered items with their state (installed, not installed, failed).
    List(JsonArgs),
    /// Run one offered item now and wait for it, printing progress.
    Install(InstallArgs),
    /// Show Device Info: computer name, serial number, model, OS version, the last
    /// check-in and the blueprint.
    Device(JsonArgs),
    /// List the updates waiting on this Mac (an OS update, an app to replace):
    /// what will happen, by when, and where each stands.
    Updates(JsonArgs),
    /// Do one waiting update now instead of at its deadline, printing progress.
    Update(UpdateArgs),
    /// Open the Self Service page in the browser: a web server on 127.0.0.1 for
    /// this user only, which stops once the page is closed or left idle.
    Open(OpenArgs),
}

/// `agent self-service open`.
#[derive(Debug, Args)]
pub struct OpenArgs {
    /// Print the page's one-time URL instead of opening the browser.
    #[arg(long)]
    pub no_browser: bool,
    /// How long the page may go without a request before the server stops
    /// (tests only).
    #[arg(long, value_name = "DURATION", hide = true, value_parser = humantime::parse_duration)]
    pub idle_limit: Option<std::time::Duration>,
    /// How long after the page says it was closed the server stops (tests only).
    #[arg(long, value_name = "DURATION", hide = true, value_parser = humantime::parse_duration)]
    pub closed_grace: Option<std::time::Duration>,
}

/// `agent self-service install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The offered item's id, or its name.
    #[arg(value_name = "ID|NAME")]
    pub item: String,
    /// Print the run record as JSON when done, instead of progress.
    #[arg(long)]
    pub json: bool,
}

/// `agent self-service update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The id or name of the item whose update waits.
    #[arg(value_name = "ID|NAME")]
    pub item: String,
    /// Print the run record as JSON when done, instead of progress.
    #[arg(long)]
    pub json: bool,
}

/// `agent enroll`.
#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// The tenant's base URL, `https://...` (plain `http://` only to a loopback host).
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// A file holding the device's bearer token from the tenant, or `-` to read it
    /// from standard input; stored, never printed.
    #[arg(long, value_name = "PATH|-", required_unless_present_any = ["token", "enrollment_secret_file"])]
    pub token_file: Option<PathBuf>,
    /// Instead of a device token: a file holding the tenant's enrollment secret (or
    /// `-`), exchanged for a device token at the next check-in; stored, never printed.
    #[arg(long, value_name = "PATH|-", conflicts_with = "token_file")]
    pub enrollment_secret_file: Option<PathBuf>,
    /// Refused: a token on the command line is readable by every process on the
    /// Mac. Accepted by the parser only so the refusal can say why.
    #[arg(long, value_name = "TOKEN", hide = true)]
    pub token: Option<String>,
}

/// `agent run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Make this the daily check-in, whatever the schedule says.
    #[arg(long)]
    pub reset_daily: bool,
    /// Enforce this blueprint file (JSON or plist) instead of the configured one.
    #[arg(long, value_name = "PATH")]
    pub blueprint: Option<PathBuf>,
    /// Give up (exit 3) instead of waiting when another check-in is running.
    #[arg(long)]
    pub no_wait: bool,
    /// Print the run record as JSON when done, instead of progress.
    #[arg(long)]
    pub json: bool,
}

/// Verbs whose only option is `--json`.
#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `agent history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Show this run in full instead of the list.
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// How many runs to list, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `agent logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only lines of this run.
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// Only lines about this item (its name or id).
    #[arg(long, value_name = "NAME")]
    pub item: Option<String>,
    /// Only lines at this level or more severe (error, warn, info, debug, trace).
    #[arg(long, value_name = "LEVEL")]
    pub level: Option<String>,
    /// Only lines from this long ago until now, e.g. `2h` or `30m`.
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
    /// Print each line as its JSON record.
    #[arg(long)]
    pub json: bool,
    /// Keep printing new lines as they are written, across the daily file
    /// rotation and the day's parts, until Ctrl-C. Starts with the last 10
    /// matching lines of the newest file's last MiB (every matching line with
    /// `--since`).
    #[arg(long, short = 'f')]
    pub follow: bool,
}

/// `agent config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Also say which file, variable or flag set each key.
    #[arg(long)]
    pub show_origin: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A value given to a flag that the verb cannot use; nothing was done. It exits
/// with the bad-input code, 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value {value:?} for {flag}: {reason}")]
pub struct BadArgument {
    /// The flag, as typed: `--level`, `--since`.
    pub flag: &'static str,
    /// The value as given.
    pub value: String,
    /// What was expected instead.
    pub reason: String,
}
