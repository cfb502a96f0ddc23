//! Times gradboard's sgemm against candle's matmul on section 1's shapes, on the calling
//! thread's CPU time (robust when the machine is busy) and on wall time.
//! `cargo run --release -p gradboard --example sgemm_shapes -- [threads]` (Linux: the CPU
//! column reads CLOCK_PROCESS_CPUTIME_ID).
use candle_core::{Device, Tensor};
use gradboard::kernels::sgemm::matmul;
use gradboard::kernels::Kernels;
use std::time::Instant;

fn cpu_now() -> f64 {
    let mut ts = libc_timespec::default();
    // SAFETY: clock_gettime writes one timespec.
    unsafe { clock_gettime(2, &mut ts) }; // CLOCK_PROCESS_CPUTIME_ID
    ts.sec as f64 + ts.nsec as f64 * 1e-9
}

#[repr(C)]
#[derive(Default)]
struct libc_timespec {
    sec: i64,
    nsec: i64,
}

extern "C" {
    fn clock_gettime(clock: i32, ts: *mut libc_timespec) -> i32;
    fn mallopt(param: i32, value: i32) -> i32;
}

fn time(label: &str, f: impl Fn() -> candle_core::Result<Tensor>, flops: f64) {
    for _ in 0..5 {
        f().unwrap();
    }
    let runs = 60;
    let mut wall: Vec<f64> = Vec::new();
    let c0 = cpu_now();
    for _ in 0..runs {
        let s = Instant::now();
        f().unwrap();
        wall.push(s.elapsed().as_secs_f64());
    }
    let cpu = (cpu_now() - c0) / runs as f64;
    wall.sort_by(f64::total_cmp);
    println!(
        "{label:34} wall median {:7.3} ms ({:6.1} GFLOPS)  process cpu {:7.3} ms/run",
        wall[runs / 2] * 1e3,
        flops / wall[runs / 2] / 1e9,
        cpu * 1e3
    );
}

fn main() -> candle_core::Result<()> {
    let threads = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(2);
    gradboard::set_threads(threads);
    // As the gradboard binary does: large buffers stay on the heap (M_MMAP_THRESHOLD) and
    // freed memory is kept (M_TRIM_THRESHOLD).
    // SAFETY: plain libc call before other threads allocate.
    unsafe {
        mallopt(-3, 32 << 20);
        mallopt(-1, 1 << 30);
    }
    let d = Device::Cpu;
    let x = Tensor::randn(0f32, 1., (200, 3072), &d)?;
    let w = Tensor::randn(0f32, 1., (3072, 100), &d)?;
    let dy = Tensor::randn(0f32, 1., (200, 100), &d)?;
    let xe = Tensor::randn(0f32, 1., (1000, 3072), &d)?;
    let w8 = Tensor::randn(0f32, 1., (3072, 800), &d)?;
    let dy8 = Tensor::randn(0f32, 1., (200, 800), &d)?;
    let f = 2.0 * 200.0 * 3072.0 * 100.0;
    if std::env::args().nth(2).as_deref() == Some("profile") {
        return gradboard::on_compute_pool(|| -> candle_core::Result<()> {
            for _ in 0..2000 {
                matmul(Kernels::Cpu, &x, &w)?;
            }
            Ok(())
        });
    }
    gradboard::on_compute_pool(|| -> candle_core::Result<()> {
        time("candle x @ w", || x.matmul(&w), f);
        time("sgemm  x @ w", || matmul(Kernels::Cpu, &x, &w), f);
        time("candle x.t() @ dy", || x.t()?.matmul(&dy), f);
        time(
            "sgemm  x.t() @ dy",
            || matmul(Kernels::Cpu, &x.t()?, &dy),
            f,
        );
        time("candle eval 1000 @ w", || xe.matmul(&w), f * 5.0);
        time(
            "sgemm  eval 1000 @ w",
            || matmul(Kernels::Cpu, &xe, &w),
            f * 5.0,
        );
        time("candle x @ w800", || x.matmul(&w8), f * 8.0);
        time("sgemm  x @ w800", || matmul(Kernels::Cpu, &x, &w8), f * 8.0);
        time("candle x.t() @ dy800", || x.t()?.matmul(&dy8), f * 8.0);
        time(
            "sgemm  x.t() @ dy800",
            || matmul(Kernels::Cpu, &x.t()?, &dy8),
            f * 8.0,
        );
        Ok(())
    })
}
