//! The padded, overlapping max-pool against a brute-force reference.

mod common;

use candle_core::{Device, Tensor, Var};
use gradboard::kernels::pool::{max_pool2d, PoolGeometry, LAB_POOL};
use gradboard::kernels::Kernels;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Pads with -inf, takes the first maximum of each window in row-major order, and routes each
/// output gradient to it.
fn reference(
    x: &[f64],
    dims: [usize; 4],
    g: PoolGeometry,
    dy: &[f64],
) -> (Vec<f64>, Vec<f64>, [usize; 2]) {
    let [b, c, h, w] = dims;
    let (hp, wp) = (h + 2 * g.padding, w + 2 * g.padding);
    let (ho, wo) = (
        (hp - g.kernel) / g.stride + 1,
        (wp - g.kernel) / g.stride + 1,
    );
    let mut out = Vec::new();
    let mut dx = vec![0.0; x.len()];
    for plane in 0..b * c {
        let mut padded = vec![f64::NEG_INFINITY; hp * wp];
        for y in 0..h {
            for xx in 0..w {
                padded[(y + g.padding) * wp + xx + g.padding] = x[plane * h * w + y * w + xx];
            }
        }
        for oy in 0..ho {
            for ox in 0..wo {
                let mut best = (f64::NEG_INFINITY, None);
                for ky in 0..g.kernel {
                    for kx in 0..g.kernel {
                        let (py, px) = (oy * g.stride + ky, ox * g.stride + kx);
                        let v = padded[py * wp + px];
                        if v > best.0 {
                            best = (v, Some((py - g.padding) * w + px - g.padding));
                        }
                    }
                }
                let (v, at) = best;
                out.push(v);
                dx[plane * h * w + at.expect("padding never wins")] += dy[out.len() - 1];
            }
        }
    }
    (out, dx, [ho, wo])
}

#[test]
fn matches_brute_force_on_random_shapes_with_ties() {
    let mut rng = SmallRng::seed_from_u64(5);
    for case in 0..40 {
        let dims = [
            rng.random_range(1..3),
            rng.random_range(1..4),
            rng.random_range(1..12),
            rng.random_range(1..12),
        ];
        let n: usize = dims.iter().product();
        // Few distinct values: many ties; some cases all negative, so padding would win if allowed.
        let offset = if case % 3 == 0 { -10.0 } else { 0.0 };
        let x: Vec<f64> = (0..n)
            .map(|_| rng.random_range(0..4) as f64 + offset)
            .collect();
        let g = if case % 2 == 0 {
            LAB_POOL
        } else {
            PoolGeometry {
                kernel: 2,
                stride: 1,
                padding: 1,
            }
        };
        let t =
            Var::from_tensor(&Tensor::from_vec(x.clone(), dims.as_slice(), &Device::Cpu).unwrap())
                .unwrap();
        let y = max_pool2d(t.as_tensor(), g, Kernels::Cpu).unwrap();
        let dy: Vec<f64> = (0..y.elem_count())
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let (expected, expected_dx, [ho, wo]) = reference(&x, dims, g, &dy);
        assert_eq!(y.dims(), &[dims[0], dims[1], ho, wo], "case {case}");
        assert_eq!(
            y.flatten_all().unwrap().to_vec1::<f64>().unwrap(),
            expected,
            "forward, case {case}"
        );
        let dy_t = Tensor::from_vec(dy, y.shape(), &Device::Cpu).unwrap();
        let grads = (y * dy_t).unwrap().sum_all().unwrap().backward().unwrap();
        let dx = grads
            .get(t.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        for (a, b) in dx.iter().zip(&expected_dx) {
            assert!(
                (a - b).abs() < 1e-12,
                "backward, case {case}: {dx:?} vs {expected_dx:?}"
            );
        }
    }
}

#[test]
fn lab_geometry_halves_the_size_and_overlapping_gradients_add_up() {
    let x = Tensor::zeros((1, 1, 32, 32), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert_eq!(
        max_pool2d(&x, LAB_POOL, Kernels::Cpu).unwrap().dims(),
        &[1, 1, 16, 16]
    );
    // One large value at (1, 1) is the max of the four windows that contain it.
    let mut v = vec![0f64; 25];
    v[5 + 1] = 9.0;
    let t = Var::from_tensor(&Tensor::from_vec(v, (1, 1, 5, 5), &Device::Cpu).unwrap()).unwrap();
    let grads = max_pool2d(t.as_tensor(), LAB_POOL, Kernels::Cpu)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let dx = grads
        .get(t.as_tensor())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    assert_eq!(dx[6], 4.0);
}

#[test]
fn bad_shapes_and_geometry_are_errors() {
    let x = Tensor::zeros((3, 32, 32), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert!(max_pool2d(&x, LAB_POOL, Kernels::Cpu).is_err());
    let x = Tensor::zeros((1, 1, 4, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert!(max_pool2d(
        &x,
        PoolGeometry {
            kernel: 3,
            stride: 2,
            padding: 2
        },
        Kernels::Cpu
    )
    .is_err());
    assert!(max_pool2d(
        &x,
        PoolGeometry {
            kernel: 3,
            stride: 0,
            padding: 1
        },
        Kernels::Cpu
    )
    .is_err());
}

/// The plain-op reference pool (other devices) agrees with the custom op, forward and
/// backward, on odd shapes with distinct values.
#[test]
fn the_reference_pool_matches_the_custom_op() {
    use gradboard::kernels::pool::max_pool2d_reference;
    let mut rng = SmallRng::seed_from_u64(3);
    for (dims, g) in [
        ([2, 3, 7, 9], LAB_POOL),
        ([1, 2, 32, 32], LAB_POOL),
        (
            [2, 1, 5, 6],
            PoolGeometry {
                kernel: 2,
                stride: 1,
                padding: 1,
            },
        ),
    ] {
        let n: usize = dims.iter().product();
        let x: Vec<f32> = (0..n).map(|_| rng.random_range(-3.0f32..3.0)).collect();
        let t =
            Var::from_tensor(&Tensor::from_vec(x, dims.as_slice(), &Device::Cpu).unwrap()).unwrap();
        let run = |fast: bool| {
            let y = if fast {
                max_pool2d(t.as_tensor(), g, Kernels::Cpu).unwrap()
            } else {
                max_pool2d_reference(t.as_tensor(), g).unwrap()
            };
            let w = Tensor::arange(0f32, y.elem_count() as f32, &Device::Cpu)
                .unwrap()
                .reshape(y.shape())
                .unwrap();
            let grads = (&y * w).unwrap().sum_all().unwrap().backward().unwrap();
            (
                y.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                grads
                    .get(t.as_tensor())
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap(),
            )
        };
        assert_eq!(run(true), run(false), "{dims:?}");
    }
}

/// The batch-innermost convolutions (the CPU fast paths: im2col, Winograd F(2x2, 3x3) on even
/// maps and F(4x4, 3x3) on maps a multiple of 4, tap by tap on any map) against candle's conv2d on (batch, channels,
/// ...), forward and both gradients, odd shapes and kernels 1, 3, 5.
#[test]
fn channel_major_convolution_matches_candle_conv2d_forward_and_backward() {
    use gradboard::kernels::conv::{conv2d_chwn_using, ConvAlgorithm};
    use gradboard::kernels::simd::Level;
    use gradboard::kernels::winograd::{self, Tile};
    let mut rng = SmallRng::seed_from_u64(9);
    let cases = [
        (2, 3, 4, 5, 7, 3, ConvAlgorithm::Im2col),
        (1, 2, 3, 4, 4, 1, ConvAlgorithm::Im2col),
        (3, 2, 2, 6, 3, 5, ConvAlgorithm::Im2col),
        (2, 5, 3, 2, 2, 3, ConvAlgorithm::Im2col),
        (2, 5, 3, 2, 2, 3, ConvAlgorithm::Winograd),
        (3, 7, 4, 4, 6, 3, ConvAlgorithm::Winograd),
        (2, 17, 9, 8, 8, 3, ConvAlgorithm::Winograd),
        (1, 3, 2, 10, 4, 3, ConvAlgorithm::Winograd),
        (2, 16, 8, 6, 6, 3, ConvAlgorithm::Auto),
        (2, 5, 3, 4, 4, 3, ConvAlgorithm::Winograd4),
        (3, 7, 4, 8, 4, 3, ConvAlgorithm::Winograd4),
        (17, 9, 6, 8, 12, 3, ConvAlgorithm::Winograd4),
        (2, 16, 8, 8, 8, 3, ConvAlgorithm::Auto),
        (2, 5, 3, 2, 2, 3, ConvAlgorithm::Taps),
        (3, 7, 4, 1, 1, 3, ConvAlgorithm::Taps),
        (2, 4, 3, 3, 5, 3, ConvAlgorithm::Taps),
        (1, 3, 2, 4, 4, 5, ConvAlgorithm::Taps),
        (5, 17, 9, 2, 2, 3, ConvAlgorithm::Taps),
        (2, 16, 8, 2, 2, 3, ConvAlgorithm::Auto),
    ];
    for (b, c_in, c_out, h, w, k, algorithm) in cases {
        let mut draw =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-1.0..1.0)).collect() };
        let x = Var::from_tensor(
            &Tensor::from_vec(draw(b * c_in * h * w), (b, c_in, h, w), &Device::Cpu).unwrap(),
        )
        .unwrap();
        let wt = Var::from_tensor(
            &Tensor::from_vec(
                draw(c_out * c_in * k * k),
                (c_out, c_in, k, k),
                &Device::Cpu,
            )
            .unwrap(),
        )
        .unwrap();
        let dy = Tensor::from_vec(draw(b * c_out * h * w), (b, c_out, h, w), &Device::Cpu).unwrap();
        let x_chwn = x.as_tensor().permute((1, 2, 3, 0)).unwrap();
        let ours = conv2d_chwn_using(
            &x_chwn,
            wt.as_tensor(),
            false,
            true,
            algorithm,
            Level::detected(),
        )
        .unwrap()
        .permute((3, 0, 1, 2))
        .unwrap();
        let theirs = x
            .as_tensor()
            .conv2d(wt.as_tensor(), k / 2, 1, 1, 1)
            .unwrap();
        let max_diff = common::max_abs_diff;
        // F(4x4, 3x3)'s transforms scale values by up to 8 and 1/24: it rounds more (the f64
        // error test below measures by how much).
        let f4 = algorithm == ConvAlgorithm::Winograd4
            || (algorithm == ConvAlgorithm::Auto
                && winograd::choose(k, (c_in, h, w, b)) == Some(Tile::F4));
        let tolerance = if f4 { 10.0 } else { 1.0 };
        let d = max_diff(&ours, &theirs);
        assert!(
            d < 1e-5 * tolerance,
            "{algorithm:?}: forward differs by {d}"
        );
        let g1 = (ours * &dy).unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = (theirs * &dy)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for v in [&x, &wt] {
            let d = max_diff(
                g1.get(v.as_tensor()).unwrap(),
                g2.get(v.as_tensor()).unwrap(),
            );
            assert!(
                d < 1e-4 * tolerance,
                "{algorithm:?}: gradient differs by {d} for shape {:?}",
                v.dims()
            );
        }
    }
}

/// Every instruction-set level this CPU has gives the same bits as the baseline, for both
/// convolutions' forward and backward passes (odd batch sizes leave a partial lane block).
#[test]
fn every_simd_level_matches_the_baseline() {
    use gradboard::kernels::conv::{conv2d_chwn_using, ConvAlgorithm};
    use gradboard::kernels::simd::Level;
    let mut rng = SmallRng::seed_from_u64(4);
    let (c, h, w, b, k) = (17, 8, 4, 19, 5);
    let draw = |n: usize, rng: &mut SmallRng| -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
    };
    let x = Var::from_tensor(
        &Tensor::from_vec(draw(c * h * w * b, &mut rng), (c, h, w, b), &Device::Cpu).unwrap(),
    )
    .unwrap();
    let wt = Var::from_tensor(
        &Tensor::from_vec(draw(k * c * 9, &mut rng), (k, c, 3, 3), &Device::Cpu).unwrap(),
    )
    .unwrap();
    let dy = Tensor::from_vec(draw(k * h * w * b, &mut rng), (k, h, w, b), &Device::Cpu).unwrap();
    let run = |algorithm, level| {
        let y = conv2d_chwn_using(x.as_tensor(), wt.as_tensor(), false, true, algorithm, level)
            .unwrap();
        let g = (&y * &dy).unwrap().sum_all().unwrap().backward().unwrap();
        [
            y,
            g.get(x.as_tensor()).unwrap().clone(),
            g.get(wt.as_tensor()).unwrap().clone(),
        ]
        .map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
    };
    let levels = Level::available();
    eprintln!(
        "levels: {:?}",
        levels.iter().map(|l| l.name()).collect::<Vec<_>>()
    );
    for algorithm in [
        ConvAlgorithm::Im2col,
        ConvAlgorithm::Winograd,
        ConvAlgorithm::Winograd4,
    ] {
        let base = run(algorithm, Level::BASELINE);
        for &level in &levels {
            assert_eq!(
                run(algorithm, level),
                base,
                "{algorithm:?} at {}",
                level.name()
            );
        }
    }
}

/// The inference convolution with the batch norm and ReLU applied as it writes its output
/// gives max(0, conv(x) scale + shift), on im2col's first layer, on both Winograd tiles and
/// tap by tap (the 2x2 map).
#[test]
fn the_fused_inference_convolution_matches_conv_then_scale_shift_relu() {
    use gradboard::kernels::conv::{conv2d_chwn, conv2d_chwn_affine_relu};
    let mut rng = SmallRng::seed_from_u64(12);
    for (c, k, side, b) in [(3, 5, 6, 3), (16, 7, 8, 5), (17, 4, 6, 2), (16, 3, 2, 19)] {
        let mut draw =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-1.0..1.0)).collect() };
        let x =
            Tensor::from_vec(draw(c * side * side * b), (c, side, side, b), &Device::Cpu).unwrap();
        let w = Tensor::from_vec(draw(k * c * 9), (k, c, 3, 3), &Device::Cpu).unwrap();
        let (scale, shift) = (draw(k), draw(k));
        let fused = conv2d_chwn_affine_relu(&x, &w, &scale, &shift).unwrap();
        let plain = conv2d_chwn(&x, &w, false, false).unwrap();
        let col = |v: &[f32]| Tensor::from_vec(v.to_vec(), (k, 1, 1, 1), &Device::Cpu).unwrap();
        let expected = plain
            .broadcast_mul(&col(&scale))
            .unwrap()
            .broadcast_add(&col(&shift))
            .unwrap()
            .relu()
            .unwrap();
        let d = common::max_abs_diff(&fused, &expected);
        assert!(d < 1e-6, "{c}->{k} at {side}x{side}: differs by {d}");
    }
}
