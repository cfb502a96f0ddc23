//! The command line (DESIGN.md's headless contract): one file a subcommand, each with its
//! arguments and what it does.

mod analyze;
mod bench;
mod data;
mod eval;
mod export;
mod gradcheck;
mod lr_find;
mod net;
mod presets;
mod runs;
mod sweep;
mod train;

use anyhow::Result;
use clap::{Parser, Subcommand};
use gradboard::config::{PresetDirs, RunConfig};
use gradboard::model::Compute;
use std::process::ExitCode;

/// gradboard: train networks on CIFAR-10 and watch them learn.
#[derive(Debug, Parser)]
#[command(name = "gradboard", version, about)]
pub struct Cli {
    /// CPU threads a run trains with (default: all cores).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// Device: cpu, or cuda / metal in builds with those features.
    #[arg(long, global = true, default_value = "cpu")]
    pub device: String,
    /// What to do; with none, the dashboard opens.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of the dashboard.
    #[command(flatten)]
    pub dashboard: crate::dashboard::DashboardArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train one run to the end without the dashboard (also a fork or a resume).
    Train(train::TrainArgs),
    /// List presets with their descriptions, or every configuration key.
    Presets(presets::PresetsArgs),
    /// Data set tools.
    Data {
        /// What to do with the data.
        #[command(subcommand)]
        action: data::DataAction,
    },
    /// Check every hand-written backward pass against finite differences and autograd.
    Gradcheck(gradcheck::GradcheckArgs),
    /// Evaluate a saved run's weights on the test set again, without training.
    Eval(eval::EvalArgs),
    /// Median training-step time of a preset's model on random data.
    Bench(bench::BenchArgs),
    /// List the runs in a runs folder, newest first, with their status.
    Runs(runs::RunsArgs),
    /// Write curves.png, curves.svg, metrics.csv and report.md for runs.
    Export(export::ExportArgs),
    /// Train a grid, random draws or a sweep file run after run, with an optional pruner.
    Sweep(Box<sweep::SweepArgs>),
    /// A run's saved model on the test set: confusion matrix, per-class figures.
    Analyze(analyze::AnalyzeArgs),
    /// The learning-rate finder: loss against an exponential lr ramp, and a suggestion.
    LrFind(lr_find::LrFindArgs),
    /// Networks as data: list the nets, or show one's layers, shapes, parameters and FLOP.
    Net {
        /// What to do.
        #[command(subcommand)]
        action: net::NetAction,
    },
}

/// Runs what the command line asked for.
pub fn dispatch(mut cli: Cli) -> Result<ExitCode> {
    let threads = cli.threads.unwrap_or_else(gradboard::default_threads);
    if let Some(command) = &mut cli.command {
        forward_dashboard_options(&cli.dashboard, command)?;
    }
    let compute = || -> Result<Compute> { Ok(Compute::from_name(&cli.device)?) };
    if let Some(command) = &cli.command {
        let computes = matches!(
            command,
            Command::Train(_)
                | Command::Eval(_)
                | Command::Bench(_)
                | Command::Sweep(_)
                | Command::Analyze(_)
                | Command::LrFind(_)
        );
        // A listing piped into `head` ends quietly when the reader goes, as other tools do
        // (Rust ignores SIGPIPE, which makes println! panic); commands that run anything
        // keep ignoring it, so that they end their runs and processes themselves.
        if matches!(
            command,
            Command::Runs(_) | Command::Presets(_) | Command::Net { .. }
        ) {
            // SAFETY: signal(2) before any thread of this process writes.
            unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        }
        if !computes && cli.device != "cpu" {
            anyhow::bail!(
                "--device {}: this command computes nothing; --device applies to train, eval, bench, sweep, analyze, lr-find and the dashboard",
                cli.device
            );
        }
    }
    match cli.command {
        None => crate::dashboard::run(cli.dashboard, compute()?, threads),
        Some(Command::Train(args)) => train::run(args, compute()?, threads),
        Some(Command::Presets(args)) => presets::run(args),
        Some(Command::Data { action }) => data::run(action),
        Some(Command::Gradcheck(args)) => gradcheck::run(args),
        Some(Command::Eval(args)) => eval::run(args, compute()?),
        Some(Command::Bench(args)) => bench::run(args, compute()?),
        Some(Command::Runs(args)) => runs::run(args),
        Some(Command::Export(args)) => export::run(args),
        Some(Command::Sweep(args)) => sweep::run(*args, compute()?, threads),
        Some(Command::Analyze(args)) => analyze::run(args, compute()?),
        Some(Command::LrFind(args)) => lr_find::run(args, compute()?),
        Some(Command::Net { action }) => net::run(action),
    }
}

/// The dashboard's `--data`, `--runs-dir`, `--preset` and `--logdir` given before a
/// subcommand become the subcommand's own where it takes them, as `--threads` and `--device`
/// are taken on either side; given on both sides with different values, or before a
/// subcommand that has no such option, they are refused in one line rather than ignored (a
/// run would land in ./runs, or the data be looked for elsewhere).
fn forward_dashboard_options(
    dashboard: &crate::dashboard::DashboardArgs,
    command: &mut Command,
) -> Result<()> {
    use std::path::{Path, PathBuf};
    let name = command_name(command);
    let default_runs = Path::new(crate::dashboard::RUNS_DIR);
    let mut refused = Vec::new();
    // An option's value into the subcommand's slot for it, if it has one.
    fn fill<T: PartialEq + Clone + std::fmt::Debug>(
        option: &str,
        given: &T,
        slot: Option<&mut T>,
        unset: &T,
        refused: &mut Vec<String>,
    ) -> Result<()> {
        match slot {
            None => refused.push(option.to_string()),
            Some(slot) if *slot == *unset => *slot = given.clone(),
            Some(slot) if *slot == *given => {}
            Some(slot) => anyhow::bail!(
                "{option} given twice, {given:?} before the subcommand and {slot:?} after it"
            ),
        }
        Ok(())
    }
    if let Some(data) = &dashboard.data {
        let slot: Option<&mut Option<PathBuf>> = match command {
            Command::Train(a) => Some(&mut a.data),
            Command::Sweep(a) => Some(&mut a.data),
            Command::Eval(a) => Some(&mut a.data),
            Command::Analyze(a) => Some(&mut a.data),
            Command::LrFind(a) => Some(&mut a.data),
            _ => None,
        };
        fill("--data", &Some(data.clone()), slot, &None, &mut refused)?;
    }
    if dashboard.runs_dir != default_runs {
        let slot: Option<&mut PathBuf> = match command {
            Command::Train(a) => Some(&mut a.runs_dir),
            Command::Sweep(a) => Some(&mut a.runs_dir),
            Command::Runs(a) => Some(&mut a.runs_dir),
            _ => None,
        };
        let unset = default_runs.to_path_buf();
        fill(
            "--runs-dir",
            &dashboard.runs_dir,
            slot,
            &unset,
            &mut refused,
        )?;
    }
    if let Some(preset) = &dashboard.preset {
        let slot: Option<&mut Option<String>> = match command {
            Command::Train(a) => Some(&mut a.preset),
            Command::Sweep(a) => Some(&mut a.preset),
            Command::LrFind(a) => Some(&mut a.preset),
            _ => None,
        };
        fill("--preset", &Some(preset.clone()), slot, &None, &mut refused)?;
    }
    if let Some(logdir) = &dashboard.logdir {
        let slot: Option<&mut Option<PathBuf>> = match command {
            Command::Runs(a) => Some(&mut a.logdir),
            Command::Export(a) => Some(&mut a.logdir),
            _ => None,
        };
        fill("--logdir", &Some(logdir.clone()), slot, &None, &mut refused)?;
    }
    if refused.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "{}: `gradboard {name}` has no such option (the dashboard's, given before the subcommand)",
        refused.join(", ")
    )
}

/// A subcommand's name in the command line's spelling: LrFind is lr-find.
fn command_name(command: &Command) -> String {
    let variant = format!("{command:?}");
    let variant = variant.split(['(', ' ', '{']).next().unwrap_or_default();
    let mut name = String::new();
    for (i, ch) in variant.chars().enumerate() {
        if ch.is_uppercase() && i > 0 {
            name.push('-');
        }
        name.push(ch.to_ascii_lowercase());
    }
    name
}

/// A preset by name or file, with its own settings and those with `key=value` overrides
/// applied and checked: (name, preset's settings, the run's settings).
pub fn load_config(preset: &str, overrides: &[String]) -> Result<(String, RunConfig, RunConfig)> {
    let preset = PresetDirs::discover().find(preset)?;
    let mut config = preset.config.clone();
    for o in overrides {
        config.apply_override(o)?;
    }
    config.validate()?;
    Ok((preset.name, preset.config, config))
}
