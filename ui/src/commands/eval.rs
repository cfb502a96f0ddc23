//! `gradboard eval RUN_DIR`: the saved weights of a run, evaluated again on the test set.

use anyhow::Result;
use candle_core::Device;
use gradboard::data::Cifar10;
use gradboard::events::Event;
use gradboard::model::build_model;
use gradboard::runs::{StoredRun, WEIGHTS_FILE};
use gradboard::session::evaluate;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::path::Path;
use std::process::ExitCode;

/// Evaluates a run folder's weights on the test set.
pub fn run(run_dir: &Path, data: Option<&Path>) -> Result<ExitCode> {
    let stored = StoredRun::load(run_dir)?;
    let weights = run_dir.join(WEIGHTS_FILE);
    if !weights.is_file() {
        anyhow::bail!(
            "{}: no saved weights (the run was killed before it ended?)",
            weights.display()
        );
    }
    let mut model = build_model(
        &stored.config,
        &mut SmallRng::seed_from_u64(0),
        &Device::Cpu,
    )?;
    model.load(&weights)?;
    let path = crate::data_setup::ensure_data(data)?;
    let data = Cifar10::load(&path)?;
    let stats = gradboard::on_compute_pool(|| evaluate(model.as_mut(), &data, &data.test))?;
    let n = data.test.len() as f64;
    let acc = stats.correct as f64 / n;
    println!(
        "test acc {acc:.4}  test loss {:.4}  ({} images)",
        stats.loss_sum / n,
        data.test.len()
    );
    let recorded = stored.events.iter().rev().find_map(|e| match e {
        Event::Eval { step, test_acc, .. } => Some((*step, *test_acc)),
        _ => None,
    });
    if let Some((step, recorded)) = recorded {
        let verdict = if recorded == acc { "same" } else { "differs" };
        println!("run's last evaluation (step {step}): test acc {recorded:.4} ({verdict})");
    }
    Ok(ExitCode::SUCCESS)
}
