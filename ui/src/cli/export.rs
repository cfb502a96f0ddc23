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
    #[arg(required = true, value_name = "RUN_DIR")]
    pub run_dirs: Vec<PathBuf>,
    /// Folder to write the files into (created if needed).
    #[arg(long)]
    pub out: PathBuf,
}

/// Writes the export and lists its files.
pub fn run(args: ExportArgs) -> Result<ExitCode> {
    let exported = gradboard::runner::sweep::export_runs(&args.run_dirs, &args.out)?;
    for f in &exported.files {
        println!("{}", f.display());
    }
    Ok(ExitCode::SUCCESS)
}
