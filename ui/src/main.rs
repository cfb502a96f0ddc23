//! `gradboard`: the terminal dashboard with no arguments, headless training and tools with them.

mod cli;
mod commands;
mod dashboard;
mod data_setup;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    gradboard::set_threads(cli.threads.unwrap_or_else(gradboard::default_threads));
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
