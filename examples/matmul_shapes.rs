//! Times candle's matmul on the shapes of the section 1 training step and evaluation.
use candle_core::{Device, Tensor};
use std::time::Instant;

fn time(label: &str, f: impl Fn() -> candle_core::Result<Tensor>, flops: f64) {
    for _ in 0..5 {
        f().unwrap();
    }
    let mut t: Vec<f64> = (0..50)
        .map(|_| {
            let s = Instant::now();
            f().unwrap();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    println!(
        "{label:40} median {:7.3} ms  {:6.1} GFLOPS",
        t[25] * 1e3,
        flops / t[25] / 1e9
    );
}

fn main() -> candle_core::Result<()> {
    gradboard::set_threads(
        std::env::args()
            .nth(1)
            .map(|s| s.parse().unwrap())
            .unwrap_or(2),
    );
    let d = Device::Cpu;
    let x = Tensor::randn(0f32, 1., (200, 3072), &d)?;
    let w = Tensor::randn(0f32, 1., (100, 3072), &d)?;
    let wt = w.t()?.contiguous()?;
    let dy = Tensor::randn(0f32, 1., (200, 100), &d)?;
    let dyt = dy.t()?.contiguous()?;
    let xe = Tensor::randn(0f32, 1., (1000, 3072), &d)?;
    let f = 2.0 * 200.0 * 3072.0 * 100.0;
    time("fwd x @ w.t() (w out,in)", || x.matmul(&w.t()?), f);
    time("fwd x @ wt (w in,out contiguous)", || x.matmul(&wt), f);
    time("bwd dy.t() @ x", || dy.t()?.matmul(&x), f);
    time("bwd dyt(contig) @ x", || dyt.matmul(&x), f);
    time("bwd x.t() @ dy  (in,out)", || x.t()?.matmul(&dy), f);
    time("eval 1000 @ w.t()", || xe.matmul(&w.t()?), f * 5.0);
    Ok(())
}
