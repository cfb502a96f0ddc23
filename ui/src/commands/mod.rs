//! One module per subcommand.

mod bench;
mod data;
mod eval;
mod gradcheck;
mod presets;
mod train;

use crate::cli::{Cli, Command, DataAction};
use anyhow::Result;
use gradboard::config::{PresetDirs, RunConfig};
use std::process::ExitCode;

/// Runs what the command line asked for.
pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        None => crate::dashboard::run(cli.dashboard),
        Some(Command::Train(args)) => train::run(args),
        Some(Command::Presets) => presets::run(),
        Some(Command::Data {
            action: DataAction::Verify { data },
        }) => data::verify(data.as_deref()),
        Some(Command::Gradcheck { seed }) => gradcheck::run(seed),
        Some(Command::Eval { run_dir, data }) => eval::run(&run_dir, data.as_deref()),
        Some(Command::Bench {
            preset,
            steps,
            overrides,
        }) => bench::run(&preset, steps, &overrides),
    }
}

/// A preset's configuration with `key=value` overrides applied and checked.
pub fn load_config(preset: &str, overrides: &[String]) -> Result<(String, RunConfig)> {
    let preset = PresetDirs::discover().find(preset)?;
    let mut config = preset.config;
    for o in overrides {
        config.apply_override(o)?;
    }
    config.validate()?;
    Ok((preset.name, config))
}
