//! `gradboard eval RUN_DIR`: the saved weights of a run, evaluated again on the test set.

use anyhow::Result;
use gradboard::events::EventKind;
use gradboard::model::Compute;
use gradboard::runs::{StoredRun, WEIGHTS_FILE};
use gradboard::train::{evaluate, load_network};
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `gradboard eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The run folder (runs/<run-id>).
    pub run_dir: PathBuf,
    /// The data set: the .tar.gz archive or the extracted folder.
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// Evaluates a run folder's weights on the test set.
pub fn run(args: EvalArgs, compute: Compute) -> Result<ExitCode> {
    let run_dir = &args.run_dir;
    let stored = StoredRun::load(run_dir)?;
    let weights = run_dir.join(WEIGHTS_FILE);
    if !weights.is_file() {
        anyhow::bail!(
            "{}: no saved weights (the run was killed before it ended? `gradboard train --resume {}` continues it)",
            weights.display(),
            run_dir.display()
        );
    }
    // The settings the run ended with (its live changes applied), as `analyze` uses them.
    let config = stored.state().config;
    let path = crate::data_setup::ensure_data(args.data.as_deref())?;
    let data = crate::data_setup::load_data(&path, &config.data_options())?;
    let mut net = load_network(&config, data.shape, &weights, &compute)?;
    let stats = gradboard::on_compute_pool(|| {
        evaluate(
            net.as_mut(),
            &data,
            &data.test,
            &compute,
            config.tta,
            &|| false,
        )
    })?
    .expect("an evaluation that is never stopped ends");
    let acc = stats.accuracy();
    println!(
        "test acc {acc:.4}  test loss {:.4}  ({} images)",
        stats.mean_loss(),
        stats.count
    );
    let recorded = stored
        .history()
        .into_iter()
        .rev()
        .find_map(|e| match e.kind {
            EventKind::Eval { step, test_acc, .. } => Some((step, test_acc)),
            _ => None,
        });
    if let Some((step, recorded)) = recorded {
        let verdict = if recorded == acc { "same" } else { "differs" };
        println!("run's last evaluation (step {step}): test acc {recorded:.4} ({verdict})");
    }
    Ok(ExitCode::SUCCESS)
}
