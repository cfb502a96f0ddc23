//! `gradboard export RUN_DIR... --out DIR`: curves.png, curves.svg, metrics.csv, report.md
//! (runs that differ only by seed drawn as a group's mean and band; runs of one sweep with
//! its importance table and parallel coordinates).

use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `gradboard export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Run folders to export together (one colour a run in the figures).
    #[arg(required_unless_present = "logdir", value_name = "RUN_DIR")]
    pub run_dirs: Vec<PathBuf>,
    /// Other programs' runs instead: every run under DIR (TensorBoard logs, metrics.jsonl),
    /// written as metrics.csv (every point) and curves.png (a panel a shared tag).
    #[arg(long, value_name = "DIR", conflicts_with = "run_dirs")]
    pub logdir: Option<PathBuf>,
    /// Folder to write the files into (created if needed).
    #[arg(long)]
    pub out: PathBuf,
}

/// Writes the export and lists its files.
pub fn run(args: ExportArgs) -> Result<ExitCode> {
    if let Some(dir) = &args.logdir {
        let runs = gradboard::logs::scan(dir)?;
        if runs.is_empty() {
            anyhow::bail!("{}: no runs (a run is a folder with events.out.tfevents.* files or a metrics.jsonl)", dir.display());
        }
        for f in gradboard::logs::export::export(&runs, &args.out)? {
            println!("{}", f.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let exported = gradboard::runner::sweep::export_runs(&args.run_dirs, &args.out)?;
    for f in &exported.files {
        println!("{}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}
