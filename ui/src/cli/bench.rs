//! `gradboard bench`: median time of one training step on random data, as the PyTorch script
//! in shared/bench measures it.

use anyhow::Result;
use candle_core::Tensor;
use gradboard::model::{Compute, Hyper, INPUTS};
use gradboard::train::build_trainer;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::process::ExitCode;
use std::time::Instant;

/// Options of `gradboard bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Preset name or TOML file.
    #[arg(long)]
    pub preset: String,
    /// Timed steps (after 3 warm-up steps), 1 to 100000.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub steps: u32,
    /// Override a configuration key (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

/// Prints the median training-step time of a preset on random data.
pub fn run(args: BenchArgs, compute: Compute) -> Result<ExitCode> {
    let (name, _, config) = super::load_config(&args.preset, &args.overrides)?;
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let mut trainer = build_trainer(&config, &mut rng, &compute)?;
    let batch = config.batch_size;
    let inputs: Vec<f32> = (0..batch * INPUTS)
        .map(|_| rng.random_range(-128.0..128.0))
        .collect();
    let x = Tensor::from_vec(inputs, (batch, INPUTS), compute.device())?;
    let labels: Vec<u8> = (0..batch).map(|i| (i % 10) as u8).collect();
    let hyper = Hyper::of(&config);
    let mut times = gradboard::on_compute_pool(|| -> gradboard::Result<Vec<f64>> {
        let steps = args.steps as usize;
        let mut times = Vec::with_capacity(steps);
        for step in 0..steps + 3 {
            let t = Instant::now();
            trainer.step(&x, &labels, &hyper)?;
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
