//! Times the bf16 product (`kernels::bf16`: bf16-rounded operands, f32 sums, on AMX tiles
//! where the CPU has them) against gradboard's f32 product on the three products of each of
//! the lab ConvNet's convolutions by im2col at batch 32 (forward W x cols, dW = dY x cols^T,
//! dcols = W^T x dY) and on the MLP's shapes, rounding and packing included.
//! `cargo run --release -p gradboard --example amx_shapes -- [threads] [square]`; `square`
//! times n x n x n bf16 products instead (n = 512, 1024, 2048), where packing is a small share
//! and the figure is the tile loop's; `speedrun` times the three products of each of the
//! speedrun net's convolutions at batch 64 read in place from the maps (`amx::conv`) and from
//! packed patches, `convnet` the lab ConvNet's (after the first) at batch 32.
use gradboard::config::Precision;
use gradboard::kernels::bf16::{method, product};
use gradboard::kernels::gemm::View;
use std::time::Instant;

fn median(mut f: impl FnMut()) -> f64 {
    for _ in 0..2 {
        f();
    }
    let mut t: Vec<f64> = (0..11)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn values(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919 % 1009) as f32 - 504.0) / 504.0)
        .collect()
}

/// The speedrun net's convolutions: (c, c_out, side) at batch 64.
const SPEEDRUN: [(usize, usize, usize); 6] = [
    (24, 64, 31),
    (64, 64, 15),
    (64, 256, 15),
    (256, 256, 7),
    (256, 256, 7),
    (256, 256, 3),
];

/// The lab ConvNet's convolutions after the first: (c, c_out, side) at batch 32.
const CONVNET: [(usize, usize, usize); 6] = [
    (64, 128, 16),
    (128, 256, 8),
    (256, 256, 8),
    (256, 512, 4),
    (512, 512, 4),
    (512, 512, 2),
];

fn main() {
    gradboard::keep_freed_memory();
    let threads = std::env::args()
        .skip(1)
        .find_map(|s| s.parse().ok())
        .unwrap_or(2);
    gradboard::set_threads(threads);
    println!("bf16 products by {}", method());
    gradboard::on_compute_pool(|| {
        if std::env::args().any(|a| a == "square") {
            for n in [512usize, 1024, 2048] {
                let (a, b) = (values(n * n), values(n * n));
                let h = median(|| {
                    drop(product(
                        Precision::Bf16,
                        View::rows(&a, n, n),
                        View::rows(&b, n, n),
                    ))
                });
                println!(
                    "square {n}: bf16 {:.3} ms, {:.0} GFLOP/s",
                    h * 1e3,
                    2.0 * (n * n * n) as f64 / h / 1e9
                );
            }
            return;
        }
        for (mode, convs, batch) in [
            ("speedrun", &SPEEDRUN[..], 64),
            ("convnet", &CONVNET[..], 32),
        ] {
            if std::env::args().any(|a| a == mode) {
                in_place_convs(convs, batch);
                return;
            }
        }
        let batch = 32;
        let convs = [
            (3, 64, 32),
            (64, 128, 16),
            (128, 256, 8),
            (256, 256, 8),
            (256, 512, 4),
            (512, 512, 4),
            (512, 512, 2),
        ];
        let (mut f32_total, mut bf16_total) = (0.0, 0.0);
        for (c, k, side) in convs {
            let (kk, n) = (c * 9, side * side * batch);
            let (w, cols, dy) = (values(k * kk), values(kk * n), values(k * n));
            let products: [(&str, View, View); 4] = [
                ("W cols", View::rows(&w, k, kk), View::rows(&cols, kk, n)),
                (
                    "dY cols^T",
                    View::rows(&dy, k, n),
                    View::rows(&cols, kk, n).t(),
                ),
                (
                    "cols dY^T",
                    View::rows(&cols, kk, n),
                    View::rows(&dy, k, n).t(),
                ),
                ("W^T dY", View::rows(&w, k, kk).t(), View::rows(&dy, k, n)),
            ];
            for (name, a, b) in products {
                let flops = 2.0 * (a.height() * a.width() * b.width()) as f64;
                let f = median(|| drop(product(Precision::F32, a, b)));
                let h = median(|| drop(product(Precision::Bf16, a, b)));
                f32_total += f;
                bf16_total += h;
                println!(
                    "{c:3}->{k:3} at {side:2}x{side:<2} {name:10} {:4}x{:5}x{:5}: f32 {:7.3} ms ({:4.0} GFLOP/s), bf16 {:7.3} ms ({:5.0} GFLOP/s), {:.2}x",
                    a.height(),
                    a.width(),
                    b.width(),
                    f * 1e3,
                    flops / f / 1e9,
                    h * 1e3,
                    flops / h / 1e9,
                    h / f
                );
            }
        }
        println!(
            "all: f32 {:.1} ms, bf16 {:.1} ms, {:.2}x",
            f32_total * 1e3,
            bf16_total * 1e3,
            bf16_total / f32_total
        );
    });
}

/// Convolutions (c -> c_out at side x side, 3x3) at `b`: each product of `amx::conv` (read in
/// place from the maps) and of the packed patches, timed, and their rates.
fn in_place_convs(convs: &[(usize, usize, usize)], b: usize) {
    use gradboard::kernels::amx::conv::{forward, input_grad, weight_grad};
    use gradboard::kernels::amx::{product_of, Left, Operand, Turned};
    use gradboard::kernels::im2col::Patches;
    if gradboard::kernels::amx::engine().is_none() {
        println!("no AMX or AVX512_BF16 here");
        return;
    }
    let k = 3;
    let (mut in_place, mut packed) = (0.0, 0.0);
    for &(c, c_out, side) in convs {
        let n = side * side * b;
        let (x, w, dy) = (values(c * n), values(c_out * c * k * k), values(c_out * n));
        let (dims, out_dims) = ((c, side, side, b), (c_out, side, side, b));
        let flops = 2.0 * (c_out * c * k * k * n) as f64;
        let (patches, of_dy) = (
            Patches { x: &x, dims, k },
            Patches {
                x: &dy,
                dims: out_dims,
                k,
            },
        );
        let turned = Turned {
            weight: &w,
            dims: (c_out, c, k),
        };
        let times = [
            (
                "y",
                median(|| drop(forward(&w, &x, dims, c_out, k))),
                median(|| {
                    let w = Left::Matrix(View::rows(&w, c_out, c * k * k));
                    drop(product_of(w, Operand::Patches(patches)))
                }),
            ),
            (
                "dW",
                median(|| drop(weight_grad(&dy, &x, dims, c_out, k))),
                median(|| {
                    let dy = Left::Matrix(View::rows(&dy, c_out, n));
                    drop(product_of(dy, Operand::PatchesT(patches)))
                }),
            ),
            (
                "dx",
                median(|| drop(input_grad(&w, &dy, out_dims, c, k))),
                median(|| drop(product_of(Left::Turned(turned), Operand::Patches(of_dy)))),
            ),
        ];
        for (name, t, p) in times {
            (in_place, packed) = (in_place + t, packed + p);
            println!(
                "{c:3}->{c_out:3} at {side:2}x{side:<2} {name:2}: in place {:7.3} ms ({:5.0} GFLOP/s), packed {:7.3} ms ({:5.0} GFLOP/s)",
                t * 1e3,
                flops / t / 1e9,
                p * 1e3,
                flops / p / 1e9
            );
        }
    }
    println!(
        "all: in place {:.1} ms, packed {:.1} ms",
        in_place * 1e3,
        packed * 1e3
    );
}
