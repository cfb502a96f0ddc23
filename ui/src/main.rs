//! `gradboard`: the terminal dashboard with no arguments, headless training and tools with them.

mod cli;
mod dashboard;
mod data_setup;
mod logging;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    gradboard::keep_freed_memory();
    let cli = cli::Cli::parse();
    let threads = cli.threads.unwrap_or_else(gradboard::default_threads);
    if let Err(e) = gradboard::check_threads(threads) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if let Err(e) = gradboard::kernels::simd::Level::cap_from_env() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if let Err(e) = gradboard::data::stall_timeout() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    gradboard::set_threads(threads);
    logging::init();
    logging::install_panic_hook();
    match cli::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
