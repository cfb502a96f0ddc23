//! Times the AMX bf16 product (`kernels::amx`: bf16-rounded inputs, f32 sums) against
//! gradboard's f32 sgemm on the MLP's and an eval's shapes, on wall time: with both sides
//! rounded and packed at every call, and with the right-hand side (a layer's weights) packed
//! ahead: what a `precision = "bf16"` linear layer could gain on this CPU.
//! `cargo run --release -p gradboard --example amx_shapes -- [threads]`.
use candle_core::{Device, Tensor};
use gradboard::kernels::amx::{available, matmul_bf16, matmul_bf16_packed, PackedB};
use gradboard::kernels::sgemm::matmul;
use gradboard::kernels::Kernels;
use std::time::Instant;

fn median(mut f: impl FnMut()) -> f64 {
    for _ in 0..3 {
        f();
    }
    let mut t: Vec<f64> = (0..25)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() -> candle_core::Result<()> {
    let threads = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(2);
    gradboard::set_threads(threads);
    if !available() {
        println!("no AMX-BF16 here: nothing to time");
        return Ok(());
    }
    let d = Device::Cpu;
    gradboard::on_compute_pool(|| -> candle_core::Result<()> {
        for (m, k, n) in [
            (512, 3072, 800),
            (512, 800, 400),
            (1000, 3072, 100),
            (4096, 1152, 128),
        ] {
            let a = Tensor::randn(0f32, 1., (m, k), &d)?;
            let b = Tensor::randn(0f32, 1., (k, n), &d)?;
            let (av, bv) = (
                a.flatten_all()?.to_vec1::<f32>()?,
                b.flatten_all()?.to_vec1::<f32>()?,
            );
            let flops = 2.0 * (m * k * n) as f64;
            let f32_s = median(|| drop(matmul(Kernels::Cpu, &a, &b).unwrap()));
            let bf16_s = median(|| drop(matmul_bf16(&av, &bv, m, k, n)));
            let packed = PackedB::new(&bv, k, n);
            let packed_s = median(|| drop(matmul_bf16_packed(&av, m, &packed)));
            println!(
                "{m:5} x {k:5} x {n:4}: f32 sgemm {:7.3} ms ({:5.0} GFLOP/s); AMX bf16 {:7.3} ms ({:5.0} GFLOP/s, {:.2}x), with b packed ahead {:7.3} ms ({:5.0} GFLOP/s, {:.2}x the f32 time)",
                f32_s * 1e3,
                flops / f32_s / 1e9,
                bf16_s * 1e3,
                flops / bf16_s / 1e9,
                bf16_s / f32_s,
                packed_s * 1e3,
                flops / packed_s / 1e9,
                packed_s / f32_s
            );
        }
        Ok(())
    })
}
