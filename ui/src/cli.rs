//! The command line (DESIGN.md's headless contract).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// gradboard: train networks on CIFAR-10 and watch them learn.
#[derive(Debug, Parser)]
#[command(name = "gradboard", version, about)]
pub struct Cli {
    /// CPU threads for training (default: all cores).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// What to do; with none, the dashboard opens.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of the dashboard.
    #[command(flatten)]
    pub dashboard: DashboardArgs,
}

/// Options of the dashboard (no subcommand).
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// The data set: the .tar.gz archive or the extracted folder.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Folder of run folders.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// Preset to load at start.
    #[arg(long)]
    pub preset: Option<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train one run to the end without the dashboard.
    Train(TrainArgs),
    /// List presets with their descriptions.
    Presets,
    /// Data set tools.
    Data {
        /// What to do with the data.
        #[command(subcommand)]
        action: DataAction,
    },
    /// Check every hand-written backward pass against finite differences and autograd.
    Gradcheck {
        /// Seed of the random shapes and values.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Evaluate a saved run's weights on the test set again, without training.
    Eval {
        /// The run folder (runs/<run-id>).
        run_dir: PathBuf,
        /// The data set: the .tar.gz archive or the extracted folder.
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Median training-step time of a preset's model on random data.
    Bench {
        /// Preset name or TOML file.
        #[arg(long)]
        preset: String,
        /// Timed steps (after 3 warm-up steps).
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// Override a configuration key (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
}

/// Options of `gradboard train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Preset name or TOML file.
    #[arg(long)]
    pub preset: String,
    /// Override a configuration key (repeatable), e.g. --set lr=0.001 --set hidden=512,256.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// The data set: the .tar.gz archive or the extracted folder.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Folder of run folders.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// Write the JSONL events on stdout (and nothing else).
    #[arg(long)]
    pub json: bool,
}

/// `gradboard data` actions.
#[derive(Debug, Subcommand)]
pub enum DataAction {
    /// Check the data set and print what it holds.
    Verify {
        /// The data set: the .tar.gz archive or the extracted folder.
        #[arg(long)]
        data: Option<PathBuf>,
    },
}
