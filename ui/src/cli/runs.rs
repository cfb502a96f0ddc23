//! `gradboard runs`: every run in a runs folder, newest first, with its status (`running`
//! while its process lives, `crashed` after, else its `done` status) and what it reached.

use anyhow::Result;
use gradboard::runs::{accuracy_text as acc, list_runs};
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `gradboard runs`.
#[derive(Debug, clap::Args)]
pub struct RunsArgs {
    /// Folder of run folders.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// One JSON object a line (DESIGN.md's fields) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Lists the runs.
pub fn run(args: RunsArgs) -> Result<ExitCode> {
    let runs = list_runs(&args.runs_dir)?;
    if args.json {
        for r in &runs {
            println!("{}", serde_json::to_string(r)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        println!("no runs in {}", args.runs_dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let id_w = runs
        .iter()
        .map(|r| r.run_id.len())
        .max()
        .unwrap_or(6)
        .max(6);
    println!(
        "{:id_w$}  {:9}  {:>7}  {:>7}  {:>7}  {:>8}  changed",
        "run", "status", "step", "final", "best", "seconds"
    );
    for r in &runs {
        let changed: Vec<String> = r
            .changed
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect();
        println!(
            "{:id_w$}  {:9}  {:>7}  {:>7}  {:>7}  {:>8.1}  {}",
            r.run_id,
            r.status.as_str(),
            r.step,
            acc(r.final_test_acc),
            acc(r.best_test_acc),
            r.seconds,
            changed.join(" ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
