//! Winograd's rounding, measured against the direct convolution computed in f64: F(4x4, 3x3)
//! multiplies values by up to 8 and 1/24 in its transforms and rounds more than F(2x2, 3x3) or
//! im2col; these tests bound by how much, on the ConvNet's shapes and scales (He-scaled
//! kernels, rectified inputs), forward and both gradients.

use candle_core::{Device, Tensor, Var};
use gradboard::kernels::conv::{conv2d_chwn_using, ConvAlgorithm};
use gradboard::kernels::simd::Level;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// A convolution's three results in f64: output (k, h, w, b), input gradient (c, h, w, b) and
/// kernel gradient (k, c, 3, 3).
struct Direct {
    y: Vec<f64>,
    dx: Vec<f64>,
    dw: Vec<f64>,
}

/// The 3x3 same-padded convolution and its gradients, directly, in f64.
fn direct(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    (c, h, wd, b): (usize, usize, usize, usize),
    k: usize,
) -> Direct {
    let xi = |ch: usize, y: usize, xx: usize, n: usize| ((ch * h + y) * wd + xx) * b + n;
    let wi = |ko: usize, ch: usize, ky: usize, kx: usize| ((ko * c + ch) * 3 + ky) * 3 + kx;
    let mut out = Direct {
        y: vec![0.0; k * h * wd * b],
        dx: vec![0.0; c * h * wd * b],
        dw: vec![0.0; k * c * 9],
    };
    for ko in 0..k {
        for ch in 0..c {
            for ky in 0..3 {
                for kx in 0..3 {
                    let wv = w[wi(ko, ch, ky, kx)] as f64;
                    let mut dwv = 0.0;
                    for y in 0..h {
                        let Some(sy) = (y + ky).checked_sub(1).filter(|&s| s < h) else {
                            continue;
                        };
                        for xx in 0..wd {
                            let Some(sx) = (xx + kx).checked_sub(1).filter(|&s| s < wd) else {
                                continue;
                            };
                            for n in 0..b {
                                let (o, i) = (xi(ko, y, xx, n), xi(ch, sy, sx, n));
                                out.y[o] += wv * x[i] as f64;
                                out.dx[i] += wv * dy[o] as f64;
                                dwv += dy[o] as f64 * x[i] as f64;
                            }
                        }
                    }
                    out.dw[wi(ko, ch, ky, kx)] = dwv;
                }
            }
        }
    }
    out
}

/// The largest error relative to the largest magnitude of the exact values.
fn relative_error(ours: &[f32], exact: &[f64]) -> f64 {
    let scale = exact.iter().fold(0f64, |m, v| m.max(v.abs()));
    let err = ours
        .iter()
        .zip(exact)
        .fold(0f64, |m, (&a, &e)| m.max((a as f64 - e).abs()));
    err / scale
}

/// The ConvNet's scales: rectified inputs, He-scaled kernels, small output gradients (x, the
/// kernels, dy).
fn operands(
    (c, h, w, b): (usize, usize, usize, usize),
    k: usize,
    seed: u64,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let he = (2.0 / (9.0 * c as f32)).sqrt();
    let x: Vec<f32> = (0..c * h * w * b)
        .map(|_| rng.random_range(-1.0f32..2.0).max(0.0))
        .collect();
    let wt: Vec<f32> = (0..k * c * 9)
        .map(|_| rng.random_range(-1.7f32..1.7) * he)
        .collect();
    let dy: Vec<f32> = (0..k * h * w * b)
        .map(|_| rng.random_range(-1.0f32..1.0) * 1e-3)
        .collect();
    (x, wt, dy)
}

/// [forward, input gradient, kernel gradient] relative errors of `algorithm`.
fn errors(
    algorithm: ConvAlgorithm,
    dims: (usize, usize, usize, usize),
    k: usize,
    seed: u64,
) -> [f64; 3] {
    let (c, h, w, b) = dims;
    let (x, wt, dy) = operands(dims, k, seed);
    let exact = direct(&x, &wt, &dy, dims, k);
    let xv = Var::from_tensor(&Tensor::from_vec(x, dims, &Device::Cpu).unwrap()).unwrap();
    let wv = Var::from_tensor(&Tensor::from_vec(wt, (k, c, 3, 3), &Device::Cpu).unwrap()).unwrap();
    let dyt = Tensor::from_vec(dy, (k, h, w, b), &Device::Cpu).unwrap();
    let y = conv2d_chwn_using(
        xv.as_tensor(),
        wv.as_tensor(),
        false,
        true,
        algorithm,
        Level::detected(),
    )
    .unwrap();
    let grads = (&y * &dyt).unwrap().sum_all().unwrap().backward().unwrap();
    let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    [
        relative_error(&flat(&y), &exact.y),
        relative_error(&flat(grads.get(xv.as_tensor()).unwrap()), &exact.dx),
        relative_error(&flat(grads.get(wv.as_tensor()).unwrap()), &exact.dw),
    ]
}

/// On the ConvNet's 8x8 and 16x16 layers (128 and 64 input channels), F(4x4, 3x3)'s error
/// against the exact convolution stays within 1e-5 of the largest value in each of the three
/// results, and within 25 times im2col's own rounding: small beside what a gradient step
/// changes, and what a 5000-step run shows costs no accuracy.
#[test]
fn winograd_f4_rounds_within_bounds_of_the_exact_convolution() {
    for (dims, k) in [((128, 8, 8, 8), 32), ((64, 16, 16, 4), 16)] {
        let im2col = errors(ConvAlgorithm::Im2col, dims, k, 1);
        let f2 = errors(ConvAlgorithm::Winograd, dims, k, 1);
        let f4 = errors(ConvAlgorithm::Winograd4, dims, k, 1);
        let show = |e: [f64; 3]| format!("{:.1e} {:.1e} {:.1e}", e[0], e[1], e[2]);
        eprintln!(
            "{dims:?} -> {k}: relative error y dx dW: im2col {}, F(2x2) {}, F(4x4) {}",
            show(im2col),
            show(f2),
            show(f4)
        );
        for (i, what) in ["output", "input gradient", "kernel gradient"]
            .iter()
            .enumerate()
        {
            assert!(
                f4[i] < 1e-5,
                "{dims:?}: F(4x4, 3x3) {what} error {:.2e}",
                f4[i]
            );
            assert!(
                f4[i] < 25.0 * im2col[i].max(1e-8),
                "{dims:?}: F(4x4, 3x3) {what} error {:.2e} against im2col's {:.2e}",
                f4[i],
                im2col[i]
            );
            assert!(
                f2[i] < 1e-5,
                "{dims:?}: F(2x2, 3x3) {what} error {:.2e}",
                f2[i]
            );
        }
    }
}

/// Odd maps (the airbench nets' 31, 15, 7 and 3) go to Winograd with tiles overhanging the
/// edge: output and both gradients as exact as on even maps, for both tiles.
#[test]
fn odd_maps_on_overhanging_tiles_match_the_exact_convolution() {
    use gradboard::kernels::conv::{choose, Method};
    use gradboard::kernels::winograd::Tile;
    for ((c, h, w, b), k, tile) in [
        ((24, 15, 15, 3), 16, Tile::F4),
        ((32, 7, 7, 4), 8, Tile::F4),
        ((16, 3, 3, 5), 8, Tile::F2),
        ((16, 5, 6, 2), 4, Tile::F2),
    ] {
        assert_eq!(choose(3, (c, h, w, b)), Method::Winograd(tile), "{h}x{w}");
        for algorithm in [ConvAlgorithm::Auto, ConvAlgorithm::Winograd] {
            let e = errors(algorithm, (c, h, w, b), k, 3);
            for (i, what) in ["output", "input gradient", "kernel gradient"]
                .iter()
                .enumerate()
            {
                assert!(
                    e[i] < 1e-5,
                    "{h}x{w} {algorithm:?}: {what} error {:.2e}",
                    e[i]
                );
            }
        }
    }
    assert_eq!(choose(3, (24, 31, 31, 2)), Method::Winograd(Tile::F4));
    assert_eq!(
        choose(3, (3, 31, 31, 2)),
        Method::Im2col,
        "too few channels for Winograd"
    );
}

/// `precision = "bf16"`: the convolution and both its gradients are the direct convolution of
/// the bf16-rounded operands (x, the kernels and the output gradient) summed in f32, on the
/// ConvNet's scales, on an odd map and on three input channels; against the f32 operands the
/// error stays within bf16's rounding (8 bits of mantissa).
#[test]
fn bf16_convolutions_are_the_direct_convolution_of_rounded_operands() {
    use gradboard::kernels::bf16::round;
    use gradboard::kernels::conv::conv2d_chwn_bf16;
    for ((c, h, w, b), k) in [
        ((64, 8, 8, 4), 32),
        ((24, 7, 7, 3), 16),
        ((3, 16, 16, 2), 8),
    ] {
        let dims = (c, h, w, b);
        let (x, wt, dy) = operands(dims, k, 5);
        let rounded = |v: &[f32]| v.iter().map(|&x| round(x)).collect::<Vec<f32>>();
        let exact_rounded = direct(&rounded(&x), &rounded(&wt), &rounded(&dy), dims, k);
        let exact = direct(&x, &wt, &dy, dims, k);
        let xv = Var::from_tensor(&Tensor::from_vec(x, dims, &Device::Cpu).unwrap()).unwrap();
        let wv =
            Var::from_tensor(&Tensor::from_vec(wt, (k, c, 3, 3), &Device::Cpu).unwrap()).unwrap();
        let dyt = Tensor::from_vec(dy, (k, h, w, b), &Device::Cpu).unwrap();
        let y = conv2d_chwn_bf16(xv.as_tensor(), wv.as_tensor(), false, true).unwrap();
        let grads = (&y * &dyt).unwrap().sum_all().unwrap().backward().unwrap();
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let ours = [
            flat(&y),
            flat(grads.get(xv.as_tensor()).unwrap()),
            flat(grads.get(wv.as_tensor()).unwrap()),
        ];
        for (i, (what, (r, e))) in ["output", "input gradient", "kernel gradient"]
            .iter()
            .zip([
                (&exact_rounded.y, &exact.y),
                (&exact_rounded.dx, &exact.dx),
                (&exact_rounded.dw, &exact.dw),
            ])
            .enumerate()
        {
            let (to_rounded, to_f32) = (relative_error(&ours[i], r), relative_error(&ours[i], e));
            eprintln!("{dims:?} -> {k} bf16 {what}: {to_rounded:.1e} from the rounded operands' convolution, {to_f32:.1e} from f32's");
            assert!(to_rounded < 1e-5, "{dims:?}: bf16 {what} {to_rounded:.2e}");
            assert!(
                to_f32 < 1e-2,
                "{dims:?}: bf16 {what} {to_f32:.2e} against f32"
            );
        }
    }
}
