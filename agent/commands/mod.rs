//! One file per verb; `dispatch` sends the parsed command line to it.

pub mod config;
pub mod daemon;
pub mod doctor;
pub mod enroll;
pub mod history;
pub mod inventory;
pub mod library;
pub mod logs;
pub mod paths;
pub mod run;
pub mod self_service;
pub mod status;
pub mod update_mdm;

mod interrupt;
mod settings;

pub use settings::Settings;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs the verb the command line asks for and gives its exit code.
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Paths(arguments) = &cli.command {
        return Ok(ExitCode::from(paths::paths(&Settings::paths()?, arguments.json)?));
    }
    // Enrolling must work even when the configuration it replaces is broken.
    if let Command::Enroll(arguments) = &cli.command {
        return Ok(ExitCode::from(enroll::enroll(&Settings::paths()?, arguments)?));
    }
    let for_a_person = is_a_persons_request(&cli.command);
    let settings = if for_a_person { Settings::for_a_person()? } else { Settings::load(&cli.set)? };
    // A person's Self Service verbs log through the daemon; root's may run here.
    let runs_an_item = matches!(&cli.command, Command::Library(arguments) if arguments.item.is_some());
    let writes_logs = matches!(cli.command, Command::Run(_) | Command::Daemon | Command::UpdateMdm(_))
        || runs_an_item
        || (matches!(cli.command, Command::Sync(_) | Command::SelfService(_)) && !for_a_person);
    let _log_guard = settings.start_logging(writes_logs);
    let code = match cli.command {
        Command::Run(arguments) => run::run(&settings, &arguments)?,
        Command::Status(arguments) => status::status(&settings, arguments.json)?,
        Command::History(arguments) => history::history(&settings, &arguments)?,
        Command::Inventory(arguments) => inventory::inventory(&settings, arguments.json)?,
        Command::UpdateMdm(arguments) => update_mdm::update_mdm(&settings, arguments.json)?,
        Command::Logs(arguments) => logs::run(&settings, &arguments)?,
        Command::Config(arguments) => config::config(&settings, &arguments)?,
        Command::Doctor(arguments) => doctor::doctor(&settings, arguments.json)?,
        Command::Daemon => daemon::daemon(&settings, &cli.set)?,
        Command::Sync(arguments) => self_service::sync(&settings, arguments.json)?,
        Command::SelfService(arguments) => self_service::self_service(&settings, &arguments)?,
        Command::Library(arguments) => library::library(&settings, &arguments)?,
        Command::Paths(_) | Command::Enroll(_) => unreachable!("handled before the configuration is read"),
    };
    Ok(ExitCode::from(code))
}

/// Whether `command` is a Self Service verb run by someone who is not root: it
/// only asks the daemon, which answers with its own configuration and logs.
fn is_a_persons_request(command: &Command) -> bool {
    matches!(command, Command::Sync(_) | Command::SelfService(_)) && !nix::unistd::geteuid().is_root()
}
