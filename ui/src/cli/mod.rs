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
pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    let threads = cli.threads.unwrap_or_else(gradboard::default_threads);
    let compute = || -> Result<Compute> { Ok(Compute::from_name(&cli.device)?) };
    if let Some(command) = &cli.command {
        refuse_dashboard_options(&cli.dashboard, command)?;
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

/// The dashboard's `--data`, `--runs-dir` and `--preset` given before a subcommand, which has
/// its own: refused in one line rather than ignored (a run would land in ./runs, or the data
/// be looked for elsewhere).
fn refuse_dashboard_options(
    dashboard: &crate::dashboard::DashboardArgs,
    command: &Command,
) -> Result<()> {
    let mut given = Vec::new();
    if dashboard.data.is_some() {
        given.push("--data");
    }
    if dashboard.runs_dir != std::path::Path::new(crate::dashboard::RUNS_DIR) {
        given.push("--runs-dir");
    }
    if dashboard.preset.is_some() {
        given.push("--preset");
    }
    if dashboard.logdir.is_some() {
        given.push("--logdir");
    }
    if given.is_empty() {
        return Ok(());
    }
    // The variant's name in the command line's spelling: LrFind is lr-find.
    let variant = format!("{command:?}");
    let variant = variant.split(['(', ' ', '{']).next().unwrap_or_default();
    let mut name = String::new();
    for (i, ch) in variant.chars().enumerate() {
        if ch.is_uppercase() && i > 0 {
            name.push('-');
        }
        name.push(ch.to_ascii_lowercase());
    }
    anyhow::bail!(
        "{} before the subcommand is the dashboard's option: give it after `{name}` (gradboard {name} {} ...)",
        given.join(", "),
        given[0]
    )
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
