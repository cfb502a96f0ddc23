//! `gradboard bench`: median time of one training step on random data, as the PyTorch script
//! in shared/bench measures it.

use anyhow::Result;
use candle_core::{Device, Tensor};
use gradboard::model::build_model;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::process::ExitCode;
use std::time::Instant;

/// Prints the median training-step time of a preset on random data.
pub fn run(preset: &str, steps: usize, overrides: &[String]) -> Result<ExitCode> {
    let (name, config) = super::load_config(preset, overrides)?;
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let mut model = build_model(&config, &mut rng, &Device::Cpu)?;
    let batch = config.batch_size;
    let inputs: Vec<f32> = (0..batch * gradboard::model::INPUTS)
        .map(|_| rng.random_range(-128.0..128.0))
        .collect();
    let x = Tensor::from_vec(inputs, (batch, gradboard::model::INPUTS), &Device::Cpu)?;
    let labels: Vec<u8> = (0..batch).map(|i| (i % 10) as u8).collect();
    let mut times = gradboard::on_compute_pool(|| -> gradboard::Result<Vec<f64>> {
        let mut times = Vec::with_capacity(steps);
        for step in 0..steps + 3 {
            let t = Instant::now();
            model.train_step(&x, &labels, config.lr)?;
            if step >= 3 {
                times.push(t.elapsed().as_secs_f64());
            }
        }
        Ok(times)
    })?;
    times.sort_by(f64::total_cmp);
    let threads = candle_core::utils::get_num_threads();
    println!(
        "{name}: gradboard threads {threads} batch {batch} median step {:.2} ms (min {:.2})",
        times[times.len() / 2] * 1e3,
        times[0] * 1e3
    );
    Ok(ExitCode::SUCCESS)
}
