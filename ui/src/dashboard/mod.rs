//! The terminal dashboard: one tokio loop owns the terminal and selects over key events, a
//! render tick and the messages of the data loader and the runs; it drains what is pending
//! and draws once. Runs train through the engine's runner on threads of their own and never
//! block the screen.

mod analysis;
pub mod app;
mod browse;
pub mod keymap;
pub mod library;
mod live;
mod lr_finder;
mod runtime;
pub mod series;
pub mod state;
mod sweeps;
pub mod views;

#[cfg(test)]
mod tests;

use crate::cli::DashboardArgs;
use crate::logging::{install_panic_hook, TERMINAL_ACTIVE};
use anyhow::Result;
use app::{App, DataState};
use gradboard::config::{PresetDirs, RunConfig};
use gradboard::train::Compute;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

/// Opens the dashboard.
pub fn run(args: DashboardArgs, compute: Compute, threads: usize) -> Result<ExitCode> {
    if !std::io::stdout().is_terminal() {
        anyhow::bail!("the dashboard needs a terminal on stdout; for headless training use `gradboard train --preset NAME` (see `gradboard --help`)");
    }
    let presets = PresetDirs::discover();
    let (preset, config) = match &args.preset {
        Some(name) => {
            let p = presets.find(name)?;
            (p.name, p.config)
        }
        None => presets
            .find("numpy-mlp")
            .map(|p| (p.name, p.config))
            .unwrap_or_else(|_| ("default".into(), RunConfig::default())),
    };
    let app = App::new(
        config,
        preset,
        presets,
        DataState::Loading("data set".into()),
    );
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut terminal = ratatui::init();
    TERMINAL_ACTIVE.store(true, Ordering::SeqCst);
    install_panic_hook();
    let result = tokio.block_on(runtime::event_loop(
        &mut terminal,
        args,
        app,
        compute,
        threads,
    ));
    TERMINAL_ACTIVE.store(false, Ordering::SeqCst);
    ratatui::restore();
    result.map(|_| ExitCode::SUCCESS)
}
