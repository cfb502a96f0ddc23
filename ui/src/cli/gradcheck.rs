//! `gradboard gradcheck`: the gradient checks, one line each.

use anyhow::Result;
use std::process::ExitCode;

/// Options of `gradboard gradcheck`.
#[derive(Debug, clap::Args)]
pub struct GradcheckArgs {
    /// Seed of the random shapes and values.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Runs every gradient check; non-zero exit when one fails.
pub fn run(args: GradcheckArgs) -> Result<ExitCode> {
    let checks = gradboard::gradcheck::run_all(args.seed)?;
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut failed = 0;
    for c in &checks {
        let verdict = if c.passed() { "ok" } else { "FAIL" };
        println!(
            "{:width$}  {:9.3e}  (max {:.0e})  {verdict}",
            c.name, c.error, c.threshold
        );
        failed += usize::from(!c.passed());
    }
    if failed > 0 {
        eprintln!("error: {failed} of {} gradient checks failed", checks.len());
        return Ok(ExitCode::from(1));
    }
    println!("all {} gradient checks passed", checks.len());
    Ok(ExitCode::SUCCESS)
}
