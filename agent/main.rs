//! The `agent` binary: parse the command line, run the verb, map to an exit code.

use std::process::ExitCode;

use clap::Parser;
use endpoint_agent::cli::Cli;
use endpoint_agent::{commands, exit_code, terminal};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(error) => {
            terminal::print_error(&format!("error: {error:#}"));
            ExitCode::from(exit_code::for_error(&error))
        }
    }
}
