//! `gradboard lr-find --preset P` or `--from RUN_DIR`: the learning-rate finder on a copy of a
//! model (a fresh one of the preset's, or a run's newest weights): the loss at each learning
//! rate of an exponential ramp, and the suggested rate.

use anyhow::Result;
use gradboard::config::format_float;
use gradboard::model::Compute;
use gradboard::runs::{run_weights, Prefer};
use gradboard::train::lr_find::{find_lr, round_lr, Ramp};
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `gradboard lr-find`.
#[derive(Debug, clap::Args)]
pub struct LrFindArgs {
    /// Preset name or TOML file (a fresh model of its settings).
    #[arg(long, required_unless_present = "from", conflicts_with = "from")]
    pub preset: Option<String>,
    /// Start from a copy of this run's newest weights (its last checkpoint), with its settings.
    #[arg(long, value_name = "RUN_DIR")]
    pub from: Option<PathBuf>,
    /// Override a configuration key (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Steps of the ramp.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// First learning rate.
    #[arg(long, default_value_t = 1e-7)]
    pub start: f64,
    /// Last learning rate.
    #[arg(long, default_value_t = 10.0)]
    pub end: f64,
    /// The data set: the .tar.gz archive or the extracted folder.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// One JSON object: points (lr, loss, smoothed), suggestion.
    #[arg(long)]
    pub json: bool,
}

/// Runs the finder and prints the curve and the suggestion.
pub fn run(args: LrFindArgs, compute: Compute) -> Result<ExitCode> {
    let finite = args.start.is_finite() && args.end.is_finite();
    if !(finite && args.start > 0.0 && args.end > args.start && args.end <= 1e6) {
        anyhow::bail!(
            "lr-find: needs 0 < --start < --end <= 1e6, finite (got {} .. {})",
            args.start,
            args.end
        );
    }
    if !(5..=100_000).contains(&args.steps) {
        anyhow::bail!("lr-find: --steps from 5 to 100000 (got {})", args.steps);
    }
    let (config, start) = match (&args.from, &args.preset) {
        (Some(dir), _) => {
            let mut config = gradboard::runs::StoredRun::load(dir)?.state().config;
            for o in &args.overrides {
                config.apply_override(o)?;
            }
            config.validate()?;
            (config, Some(run_weights(dir, Prefer::Newest)?))
        }
        (None, Some(preset)) => (super::load_config(preset, &args.overrides)?.2, None),
        (None, None) => anyhow::bail!("lr-find: give --preset or --from"),
    };
    let path = crate::data_setup::ensure_data(args.data.as_deref())?;
    let data = crate::data_setup::load_data(&path, &config.data_options())?;
    let ramp = Ramp {
        start: args.start,
        end: args.end,
        steps: args.steps,
    };
    let finding = gradboard::on_compute_pool(|| {
        find_lr(
            &config,
            &data,
            &compute,
            ramp,
            start.as_ref(),
            &|| false,
            |_, _, _| {},
        )
    })?;
    let suggestion = finding.suggestion;
    if args.json {
        let points: Vec<serde_json::Value> = finding
            .points
            .iter()
            .zip(&finding.smoothed)
            .map(|(&(lr, loss), &s)| serde_json::json!({"lr": lr, "loss": loss, "smoothed": s}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"points": points, "suggestion": suggestion, "diverged": finding.diverged})
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(start) = &start {
        println!(
            "from a copy of {} (step {})",
            start.origin.display(),
            start.step
        );
    }
    println!("{:>9}  {:>8}  {:>8}", "lr", "loss", "smoothed");
    let lowest = finding
        .smoothed
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let first = finding.smoothed.first().copied().unwrap_or(1.0);
    let every = (finding.points.len() / 25).max(1);
    for (i, (&(lr, loss), &s)) in finding.points.iter().zip(&finding.smoothed).enumerate() {
        if i % every == 0 || i + 1 == finding.points.len() {
            let width = 40.0 * (s - lowest) / (first - lowest).max(1e-9);
            let bar = "#".repeat(width.clamp(0.0, 60.0) as usize + 1);
            println!("{lr:>9.2e}  {loss:>8.4}  {s:>8.4}  {bar}");
        }
    }
    if finding.diverged {
        println!("(the ramp stopped early: the loss blew up)");
    }
    match suggestion {
        Some(lr) => {
            let lr = format_float(round_lr(lr));
            println!("suggested lr {lr} (steepest descent of the smoothed loss): --set lr={lr}")
        }
        None => println!("no suggestion: the loss never fell along the ramp"),
    }
    Ok(ExitCode::SUCCESS)
}
