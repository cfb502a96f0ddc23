//! `gradboard bench`: median time of one training step on random data, as the PyTorch script
//! in shared/bench measures it.

use anyhow::Result;
use candle_core::Tensor;
use gradboard::config::Precision;
use gradboard::kernels::amx::Engine;
use gradboard::kernels::peak::fma_peak;
use gradboard::kernels::simd::Level;
use gradboard::model::{flops, Network};
use gradboard::model::{Compute, Hyper, INPUTS};
use gradboard::train::build_trainer;
use gradboard::train::diag::{Diag, PROBE_IMAGES};
use gradboard::train::layer_time::time_layers;

/// Images of an evaluation pass (the test set's size).
const EVAL_IMAGES: usize = 10_000;

/// The median of three forward passes over `EVAL_IMAGES` random images in the network's
/// evaluation chunks, in seconds.
fn eval_pass(net: &mut dyn Network, compute: &Compute) -> Result<f64> {
    let chunk = net.eval_chunk().max(1);
    let mut rng = SmallRng::seed_from_u64(7);
    let rows: Vec<f32> = (0..chunk * INPUTS)
        .map(|_| rng.random_range(-128.0..128.0))
        .collect();
    let x = Tensor::from_vec(rows, (chunk, INPUTS), compute.device())?;
    let mut times = gradboard::on_compute_pool(|| -> gradboard::Result<Vec<f64>> {
        let mut times = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            for _ in 0..EVAL_IMAGES.div_ceil(chunk) {
                std::hint::black_box(net.forward(&x, false)?.detach());
            }
            times.push(t.elapsed().as_secs_f64());
        }
        Ok(times)
    })?;
    times.sort_by(f64::total_cmp);
    Ok(times[1])
}
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
    /// Also time an evaluation: a forward pass over 10,000 images, as a run's test pass.
    #[arg(long)]
    pub eval: bool,
    /// Also time each layer's products alone (forward and backward) against its FLOP and the
    /// peak: the layer furthest from the roof is the next lever.
    #[arg(long)]
    pub layers: bool,
}

/// Prints the median training-step time of a preset on random data.
pub fn run(args: BenchArgs, compute: Compute) -> Result<ExitCode> {
    let (name, _, config) = super::load_config(&args.preset, &args.overrides)?;
    // Random batches of CIFAR-10's shape: the lab's networks on their own kernels.
    let shape = gradboard::data::DataShape::CIFAR10;
    gradboard::train::check(&config, shape, None, &compute)?;
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let mut trainer = build_trainer(&config, shape, &mut rng, &compute)?;
    let batch = config.batch_size;
    let inputs: Vec<f32> = (0..batch * INPUTS)
        .map(|_| rng.random_range(-128.0..128.0))
        .collect();
    let x = Tensor::from_vec(inputs, (batch, INPUTS), compute.device())?;
    let labels: Vec<u8> = (0..batch).map(|i| (i % 10) as u8).collect();
    let hyper = Hyper::of(&config);
    let probe_rows = PROBE_IMAGES.min(2 * batch);
    let probe: Vec<f32> = (0..probe_rows * INPUTS)
        .map(|_| rng.random_range(-128.0..128.0))
        .collect();
    let probe_x = Tensor::from_vec(probe, (probe_rows, INPUTS), compute.device())?;
    let (mut times, mut diag_times) =
        gradboard::on_compute_pool(|| -> gradboard::Result<(Vec<f64>, Vec<f64>)> {
            let steps = args.steps as usize;
            let mut times = Vec::with_capacity(steps);
            for step in 0..steps + 3 {
                let t = Instant::now();
                trainer.step(&x, &labels, &hyper)?;
                if step >= 3 {
                    times.push(t.elapsed().as_secs_f64());
                }
            }
            // A step that takes the per-layer statistics, as a run does every diag_every.
            let mut diag = Diag::new(Vec::new());
            let mut diag_times = Vec::new();
            for step in 0..if config.diag_every > 0 { 7 } else { 0 } {
                let t = Instant::now();
                let before = Diag::before(trainer.as_mut())?;
                trainer.step(&x, &labels, &hyper)?;
                diag.after(trainer.as_mut(), before, (step, hyper.lr, &config), &|| {
                    Ok(probe_x.clone())
                })?;
                if step >= 2 {
                    diag_times.push(t.elapsed().as_secs_f64());
                }
            }
            Ok((times, diag_times))
        })?;
    times.sort_by(f64::total_cmp);
    let threads = candle_core::utils::get_num_threads();
    let median = times[times.len() / 2];
    println!(
        "{name}: gradboard threads {threads} batch {batch} median step {:.2} ms (min {:.2})",
        median * 1e3,
        times[0] * 1e3
    );
    let peaks: Vec<(Level, f64)> = gradboard::on_compute_pool(|| {
        Level::available()
            .into_iter()
            .filter(|l| *l <= Level::detected())
            .map(|l| (l, fma_peak(l, threads)))
            .collect()
    });
    let (level, peak) = *peaks.last().expect("the baseline level at least");
    println!(
        "{name}: f32 multiply-add peak on {threads} threads: {}",
        peaks
            .iter()
            .map(|(l, g)| format!("{} {g:.0} GFLOP/s", l.name()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let bf16_peak = gradboard::on_compute_pool(|| gradboard::kernels::peak::bf16_peak(threads));
    match bf16_peak {
        Some(bf16) => println!(
            "{name}: bf16 dot-product peak (AVX512_BF16 VDPBF16PS, f32 sums) on {threads} threads: {bf16:.0} GFLOP/s, {:.2}x the f32 {} peak",
            bf16 / peak,
            level.name()
        ),
        None => println!(
            "{name}: bf16 dot-product peak: no AVX512_BF16 here (the CPU lacks it, or GRADBOARD_SIMD caps it off)"
        ),
    }
    let amx_peak = gradboard::on_compute_pool(|| gradboard::kernels::peak::amx_bf16_peak(threads));
    if let Some(amx) = amx_peak {
        println!(
            "{name}: AMX bf16 tile-product peak (TDPBF16PS, f32 sums) on {threads} threads: {amx:.0} GFLOP/s, {:.1}x the f32 {} peak",
            amx / peak,
            level.name()
        );
    }
    // The roof a step is measured against: the peak of the precision its products run in.
    let engine = gradboard::kernels::amx::engine();
    let (peak, roof) = match (config.precision, engine, amx_peak, bf16_peak) {
        (Precision::F32, ..) => (peak, format!("f32 {}", level.name())),
        (Precision::Bf16, Some(Engine::Amx), Some(amx), _) => (amx, "AMX bf16".to_string()),
        (Precision::Bf16, Some(Engine::DotBf16), _, Some(dot)) => {
            (dot, "AVX512_BF16 VDPBF16PS".to_string())
        }
        (Precision::Bf16, ..) => (
            peak,
            format!(
                "f32 {} (bf16 products: {})",
                level.name(),
                gradboard::kernels::bf16::method()
            ),
        ),
    };
    let work = flops::step(&config);
    let rate = |f: f64, seconds: f64| f / seconds / 1e9;
    println!(
        "{name}: step {:.2} GFLOP useful (direct), {:.2} executed: {:.1} and {:.1} GFLOP/s, {:.1} % and {:.1} % of the {roof} peak",
        work.useful / 1e9,
        work.executed / 1e9,
        rate(work.useful, median),
        rate(work.executed, median),
        100.0 * rate(work.useful, median) / peak,
        100.0 * rate(work.executed, median) / peak,
    );
    if args.eval {
        let seconds = eval_pass(trainer.network(), &compute)?;
        let work = flops::forward(&config, EVAL_IMAGES);
        println!(
            "{name}: eval pass of {EVAL_IMAGES} images median {:.1} ms: {:.1} GFLOP/s useful, {:.1} % of the {roof} peak",
            seconds * 1e3,
            rate(work.useful, seconds),
            100.0 * rate(work.useful, seconds) / peak,
        );
    }
    if args.layers {
        let timed = gradboard::on_compute_pool(|| time_layers(&config, args.steps as usize))?;
        println!(
            "{name}: {:<7} {:<20} {:<12} {:>8} {:>9} {:>9} {:>16} {:>9}",
            "layer", "shape", "method", "ms", "GFLOP", "executed", "GFLOP/s exec.", "of peak"
        );
        for t in timed {
            let l = &t.layer;
            let (a, b, side) = l.shape;
            let shape = if l.conv {
                format!("{a}->{b} at {side}x{side}")
            } else {
                format!("{a}->{b}")
            };
            let work = l.step(batch);
            println!(
                "{name}: {:<7} {:<20} {:<12} {:>8.2} {:>9.3} {:>9.3} {:>16.1} {:>7.0} %",
                l.name,
                shape,
                l.method,
                t.seconds * 1e3,
                work.useful / 1e9,
                work.executed / 1e9,
                rate(work.executed, t.seconds),
                100.0 * rate(work.executed, t.seconds) / peak
            );
        }
    }
    if !diag_times.is_empty() {
        diag_times.sort_by(f64::total_cmp);
        let extra = (diag_times[diag_times.len() / 2] - median).max(0.0);
        let every = config.diag_every as f64;
        println!(
            "{name}: per-layer statistics {:.2} ms a time, every {} steps: {:.2} % of the training time",
            extra * 1e3,
            config.diag_every,
            100.0 * extra / (every * median)
        );
    }
    Ok(ExitCode::SUCCESS)
}
