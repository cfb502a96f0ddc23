//! The terminal dashboard: one tokio loop owns the terminal and selects over key events, a
//! clock tick and the messages of its helper threads and runs; it draws when something
//! changed. Runs train through the engine's runner on threads of their own; everything that
//! touches a file runs on a helper thread. The app (`app`) routes keys and messages to the
//! screen that owns them (`screens`), which returns effects for the runtime; the views draw.

pub mod app;
pub mod keymap;
pub mod msg;
mod runtime;
pub mod screens;
pub mod shared;
pub mod store;
pub mod views;
mod workers;

#[cfg(test)]
mod tests;

use crate::logging::{install_panic_hook, TERMINAL_ACTIVE};
use anyhow::Result;
use app::App;
use gradboard::config::{PresetDirs, RunConfig};
use gradboard::model::Compute;
use msg::DataState;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

/// The runs folder when none is given.
pub const RUNS_DIR: &str = "runs";

/// Options of the dashboard (`gradboard` with no subcommand).
#[derive(Debug, Clone, clap::Args)]
pub struct DashboardArgs {
    /// The data set: the .tar.gz archive or the extracted folder.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Folder of run folders.
    #[arg(long, default_value = RUNS_DIR)]
    pub runs_dir: PathBuf,
    /// Preset to load at start.
    #[arg(long)]
    pub preset: Option<String>,
    /// Follow other programs' runs under DIR (folders with TensorBoard event files or a
    /// metrics.jsonl) on the logs screen, which the dashboard opens on.
    #[arg(long, value_name = "DIR")]
    pub logdir: Option<PathBuf>,
}

/// Environment variable that turns the terminal's graphics off (`halfblocks`): images are
/// then drawn in half-blocks without asking the terminal what it has.
pub const IMAGES_ENV: &str = "GRADBOARD_IMAGES";

/// Whether asking the terminal for its graphics is safe: a terminal inside tmux or screen may
/// not answer, and an unanswered query leaves a reader on the keyboard that would take the
/// first keys typed.
fn graphics_query_is_safe() -> bool {
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    if env(IMAGES_ENV) == "halfblocks" || !env("TMUX").is_empty() || !env("STY").is_empty() {
        return false;
    }
    let term = env("TERM");
    !(term.is_empty()
        || term == "dumb"
        || term == "linux"
        || term.starts_with("screen")
        || term.starts_with("tmux"))
}

/// Opens the dashboard.
pub fn run(args: DashboardArgs, compute: Compute, threads: usize) -> Result<ExitCode> {
    if !std::io::stdout().is_terminal() {
        anyhow::bail!("the dashboard needs a terminal on stdout; for headless training use `gradboard train --preset NAME` (see `gradboard --help`)");
    }
    if args.runs_dir.exists() && !args.runs_dir.is_dir() {
        anyhow::bail!(
            "--runs-dir {}: not a folder (it names the folder that holds run folders)",
            args.runs_dir.display()
        );
    }
    if let Some(dir) = &args.logdir {
        if !dir.is_dir() {
            anyhow::bail!("--logdir {}: no such folder", dir.display());
        }
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
    let preset_config = presets.find(&preset).ok().map(|p| p.config);
    let app = App::new(
        config,
        preset,
        preset_config,
        presets,
        DataState::Loading("data set".into()),
    );
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut terminal = ratatui::init();
    TERMINAL_ACTIVE.store(true, Ordering::SeqCst);
    install_panic_hook();
    // Asked once, before any key is read: which graphics the terminal draws images with.
    let mut app = app;
    if let Some(dir) = &args.logdir {
        app.logs.dir = Some(dir.clone());
        app.screen = crate::dashboard::msg::Screen::Logs;
    }
    let answered = graphics_query_is_safe()
        .then(|| ratatui_image::picker::Picker::from_query_stdio().ok())
        .flatten();
    app.shared.graphics = shared::image_picker(answered);
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
