//! Optimizers against values worked out from the published update rules (PyTorch's
//! documentation), step by step, on f(p) = sum(p^2) whose gradient is 2p: every rule through
//! both paths, the fused f32 CPU update and the reference in tensor ops (here in f64), and the
//! two against each other on large random parameters.

use candle_core::{DType, Device, Tensor};
use gradboard::config::{OptimizerKind, RunConfig};
use gradboard::kernels::Kernels;
use gradboard::model::Hyper;
use gradboard::model::{Compute, Params, StepReport};
use gradboard::optim::Optimizer;
use gradboard::train::build_trainer;
use rand::SeedableRng;

const P0: [f64; 3] = [1.0, -2.0, 0.5];

#[derive(Clone, Copy, Debug)]
enum Path {
    Fused,
    Reference,
}

impl Path {
    fn tol(self, tol: f64) -> f64 {
        match self {
            Path::Fused => tol.max(2e-6),
            Path::Reference => tol,
        }
    }
}

/// Runs `steps` updates of sum(p^2) and returns p after each.
fn run(
    path: Path,
    kind: OptimizerKind,
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    steps: usize,
) -> Vec<Vec<f64>> {
    let dtype = match path {
        Path::Fused => DType::F32,
        Path::Reference => DType::F64,
    };
    let mut params = Params::new();
    let init = Tensor::new(&P0, &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap();
    let p = params.var("p", &init).unwrap();
    let frozen = params
        .var(
            "frozen",
            &Tensor::new(&[3.0f64], &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap(),
        )
        .unwrap();
    let kernels = if matches!(path, Path::Fused) {
        Kernels::Cpu
    } else {
        Kernels::Reference
    };
    let mut opt = Optimizer::new(kind, &params, kernels).unwrap();
    let hyper = Hyper::new(lr, momentum, weight_decay);
    let mut out = Vec::new();
    for _ in 0..steps {
        let grads = p
            .as_tensor()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        opt.step(&grads, &hyper).unwrap();
        out.push(
            p.as_tensor()
                .to_dtype(DType::F64)
                .unwrap()
                .to_vec1::<f64>()
                .unwrap(),
        );
    }
    assert_eq!(
        frozen
            .as_tensor()
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec1::<f64>()
            .unwrap(),
        vec![3.0],
        "no gradient, no update"
    );
    out
}

fn close(a: &[f64], b: &[f64], tol: f64) {
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{a:?} != {b:?}");
    }
}

const PATHS: [Path; 2] = [Path::Fused, Path::Reference];

#[test]
fn sgd_is_p_minus_lr_g() {
    for path in PATHS {
        // p1 = p0 - 0.1 * 2 p0 = 0.8 p0; p2 = 0.64 p0.
        let s = run(path, OptimizerKind::Sgd, 0.1, 0.0, 0.0, 2);
        close(&s[0], &[0.8, -1.6, 0.4], path.tol(1e-12));
        close(&s[1], &[0.64, -1.28, 0.32], path.tol(1e-12));
        // weight decay 0.5 adds 0.5 p to the gradient: p1 = p0 - 0.1 * 2.5 p0 = 0.75 p0.
        let s = run(path, OptimizerKind::Sgd, 0.1, 0.0, 0.5, 1);
        close(&s[0], &[0.75, -1.5, 0.375], path.tol(1e-12));
    }
}

#[test]
fn momentum_is_pytorch_heavy_ball() {
    for path in PATHS {
        // b1 = g0 = 2 p0; p1 = p0 - 0.1 b1 = 0.8 p0.
        // g1 = 1.6 p0; b2 = 0.9 b1 + g1 = 3.4 p0; p2 = 0.8 p0 - 0.34 p0 = 0.46 p0.
        // g2 = 0.92 p0; b3 = 0.9 * 3.4 p0 + 0.92 p0 = 3.98 p0; p3 = 0.46 p0 - 0.398 p0 = 0.062 p0.
        let s = run(path, OptimizerKind::Momentum, 0.1, 0.9, 0.0, 3);
        for (step, factor) in [(0, 0.8), (1, 0.46), (2, 0.062)] {
            close(&s[step], &P0.map(|p| p * factor), path.tol(1e-12));
        }
    }
}

#[test]
fn nesterov_is_pytorch_nesterov() {
    for path in PATHS {
        // b1 = g0 = 2 p0; p1 = p0 - 0.1 (g0 + 0.9 b1) = p0 - 0.1 * 3.8 p0 = 0.62 p0.
        // g1 = 1.24 p0; b2 = 0.9 * 2 p0 + 1.24 p0 = 3.04 p0;
        // p2 = 0.62 p0 - 0.1 (1.24 + 0.9 * 3.04) p0 = 0.62 p0 - 0.3976 p0 = 0.2224 p0.
        let s = run(path, OptimizerKind::Nesterov, 0.1, 0.9, 0.0, 2);
        for (step, factor) in [(0, 0.62), (1, 0.2224)] {
            close(&s[step], &P0.map(|p| p * factor), path.tol(1e-12));
        }
    }
}

#[test]
fn adam_first_steps_move_by_lr_times_the_sign() {
    for path in PATHS {
        // Step 1: m = 0.1 g, v = 0.001 g^2; m/(1-0.9) = g, v/(1-0.999) = g^2: p1 = p0 - lr g/(|g| + eps).
        let lr = 0.01;
        let s = run(path, OptimizerKind::Adam, lr, 0.0, 0.0, 3);
        close(&s[0], &[1.0 - lr, -2.0 + lr, 0.5 - lr], path.tol(1e-9));
        // Step 2, worked through for p0 = 1: g0 = 2, p1 = 1 - lr 2 / (2 + eps), g1 = 2 p1.
        let p1 = 1.0 - lr * 2.0 / (2.0 + 1e-8);
        let (g0, g1) = (2.0f64, 2.0 * p1);
        let m = 0.9 * (0.1 * g0) + 0.1 * g1;
        let v = 0.999 * (0.001 * g0 * g0) + 0.001 * g1 * g1;
        let expected =
            p1 - lr * (m / (1.0 - 0.81)) / ((v / (1.0 - 0.999f64.powi(2))).sqrt() + 1e-8);
        close(&s[1][..1], &[expected], path.tol(1e-12));
    }
}

#[test]
fn adamw_decays_the_weights_not_the_gradient() {
    for path in PATHS {
        // Step 1: p <- p (1 - lr wd), then the Adam step of size lr: 1 * (1 - 0.01*0.1) - 0.01.
        let s = run(path, OptimizerKind::Adamw, 0.01, 0.0, 0.1, 1);
        close(
            &s[0],
            &[0.999 - 0.01, -1.998 + 0.01, 0.4995 - 0.01],
            path.tol(1e-9),
        );
        // Adam folds the same decay into the gradient: the first step is still lr sign(g).
        let s = run(path, OptimizerKind::Adam, 0.01, 0.0, 0.1, 1);
        close(&s[0], &[0.99, -1.99, 0.49], path.tol(1e-9));
    }
}

#[test]
fn rmsprop_divides_by_the_running_rms() {
    for path in PATHS {
        // v1 = 0.01 g^2; p1 = p0 - lr g / (0.1 |g| + eps) = p0 - 10 lr sign(g).
        let lr = 0.001;
        let s = run(path, OptimizerKind::Rmsprop, lr, 0.0, 0.0, 2);
        close(
            &s[0],
            &[1.0 - 0.01, -2.0 + 0.01, 0.5 - 0.01],
            path.tol(1e-7),
        );
        // Step 2 for p0 = 1: p1 = 1 - lr 2 / (0.2 + eps), g1 = 2 p1, v2 = 0.99 * 0.04 + 0.01 g1^2.
        let p1 = 1.0 - lr * 2.0 / (0.2 + 1e-8);
        let g1 = 2.0 * p1;
        let v2 = 0.99 * 0.04 + 0.01 * g1 * g1;
        close(
            &s[1][..1],
            &[p1 - lr * g1 / (v2.sqrt() + 1e-8)],
            path.tol(1e-12),
        );
        // With momentum 0.5: b2 = 0.5 b1 + g/(sqrt(v)+eps).
        let s = run(path, OptimizerKind::Rmsprop, lr, 0.5, 0.0, 2);
        let b1 = 2.0 / (0.04f64.sqrt() + 1e-8);
        let b2 = 0.5 * b1 + g1 / (v2.sqrt() + 1e-8);
        close(&s[1][..1], &[p1 - lr * b2], path.tol(1e-12));
    }
}

/// Three steps of every rule on a 100k-value parameter (the parallel chunks of the fused
/// path) and an odd small one: the fused f32 update agrees with the reference.
#[test]
fn the_fused_update_matches_the_reference_on_large_odd_shapes() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(5);
    let values = |n: usize, rng: &mut rand::rngs::SmallRng| -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    };
    let (big, small) = (values(100_003, &mut rng), values(7, &mut rng));
    let grads: Vec<(Vec<f32>, Vec<f32>)> = (0..3)
        .map(|_| (values(100_003, &mut rng), values(7, &mut rng)))
        .collect();
    for kind in [
        OptimizerKind::Sgd,
        OptimizerKind::Momentum,
        OptimizerKind::Nesterov,
        OptimizerKind::Adam,
        OptimizerKind::Adamw,
        OptimizerKind::Rmsprop,
    ] {
        let mut results = Vec::new();
        for kernels in [Kernels::Cpu, Kernels::Reference] {
            let mut params = Params::new();
            let a = params
                .var("a", &Tensor::new(big.as_slice(), &Device::Cpu).unwrap())
                .unwrap();
            let b = params
                .var("b", &Tensor::new(small.as_slice(), &Device::Cpu).unwrap())
                .unwrap();
            let mut opt = Optimizer::new(kind, &params, kernels).unwrap();
            let hyper = Hyper::new(0.01, 0.9, 0.01);
            for (ga, gb) in &grads {
                // Gradient of sum(p * g) is g.
                let loss = ((a.as_tensor() * Tensor::new(ga.as_slice(), &Device::Cpu).unwrap())
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    + (b.as_tensor() * Tensor::new(gb.as_slice(), &Device::Cpu).unwrap())
                        .unwrap()
                        .sum_all()
                        .unwrap())
                .unwrap();
                opt.step(&loss.backward().unwrap(), &hyper).unwrap();
            }
            let (_, state) = opt.state().unwrap();
            results.push((
                a.as_tensor().to_vec1::<f32>().unwrap(),
                b.as_tensor().to_vec1::<f32>().unwrap(),
                state.len(),
            ));
        }
        let (f, r) = (&results[0], &results[1]);
        assert_eq!(f.2, r.2, "{kind:?}: same state buffers");
        for (x, y) in f.0.iter().zip(&r.0).chain(f.1.iter().zip(&r.1)) {
            assert!(
                (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                "{kind:?}: {x} vs {y}"
            );
        }
    }
}

#[test]
fn state_round_trips_for_checkpoints() {
    let mut params = Params::new();
    let p = params
        .var(
            "p",
            &Tensor::new(&[1.0f32, -1.0, 0.5], &Device::Cpu).unwrap(),
        )
        .unwrap();
    let hyper = Hyper::new(0.1, 0.0, 0.0);
    let step = |opt: &mut Optimizer| {
        let g = p
            .as_tensor()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        opt.step(&g, &hyper).unwrap();
    };
    let mut a = Optimizer::new(OptimizerKind::Adam, &params, Kernels::Cpu).unwrap();
    step(&mut a);
    let (steps, state) = a.state().unwrap();
    assert_eq!((steps, state.len()), (1, 2));
    let snapshot = p.as_tensor().copy().unwrap();
    step(&mut a);
    let after_a = p.as_tensor().to_vec1::<f32>().unwrap();
    gradboard::kernels::inplace::assign(p.as_tensor(), &snapshot).unwrap();
    let mut b = Optimizer::new(OptimizerKind::Adam, &params, Kernels::Cpu).unwrap();
    b.load_state(steps, &state).unwrap();
    step(&mut b);
    assert_eq!(p.as_tensor().to_vec1::<f32>().unwrap(), after_a);
}

/// Gradient clipping through the trainer: a limit above the gradient's norm changes nothing
/// (same bits as no limit); a limit below it makes plain SGD with lr 1 move the parameters by
/// exactly the limit, in the gradient's direction; the reported norm is the unclipped one.
#[test]
fn clipping_leaves_small_gradients_alone_and_scales_large_ones_to_the_limit() {
    let config = small_mlp(&["optimizer=sgd", "lr=1"]);
    for compute in [Compute::cpu(), Compute::cpu_reference()] {
        let step = |clip: Option<f64>| {
            let hyper = Hyper {
                clip_norm: clip,
                ..Hyper::of(&config)
            };
            let (before, after, report) = one_step(&config, &compute, &hyper, flat);
            (report.grad_norm.unwrap(), before, after)
        };
        let (norm, before, free) = step(None);
        assert!(norm > 0.1, "a real gradient: {norm}");
        let (_, _, loose) = step(Some(norm * 2.0));
        assert_eq!(loose, free, "a limit above the norm changes nothing");
        let limit = norm / 4.0;
        let (reported, _, clipped) = step(Some(limit));
        assert_eq!(reported, norm, "events report the norm before clipping");
        let moved = |after: &[f32]| -> f64 {
            after
                .iter()
                .zip(&before)
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>()
                .sqrt()
        };
        assert!(
            (moved(&clipped) - limit).abs() < 1e-3 * limit,
            "moved {} for a limit of {limit}",
            moved(&clipped)
        );
        for ((c, f), b) in clipped.iter().zip(&free).zip(&before) {
            let (dc, df) = ((c - b) as f64, (f - b) as f64);
            assert!(
                (dc - df / 4.0).abs() < 1e-4 * (1.0 + df.abs()),
                "{dc} vs {df}/4"
            );
        }
    }
}

/// `norm_bias_lr`: one SGD step with it at 10 moves each batch norm shift (beta) ten times as
/// far as with 1, its weight decay taken down as much (so it decays as before), and leaves
/// every other parameter where the plain step puts it; on both compute paths. Without a batch
/// norm the key is refused.
#[test]
fn norm_bias_lr_scales_the_steps_of_batch_norm_shifts_only() {
    let mut config = small_mlp(&[
        "norm=batchnorm",
        "optimizer=sgd",
        "lr=0.1",
        "weight_decay=0.01",
    ]);
    for compute in [Compute::cpu(), Compute::cpu_reference()] {
        let step = |scale: f64| {
            let hyper = Hyper {
                norm_bias_lr: scale,
                ..Hyper::of(&config)
            };
            let (before, after, _) = one_step(&config, &compute, &hyper, by_role);
            (before, after)
        };
        let ((before, shifts_before), (plain, shifts_plain)) = step(1.0);
        let (_, (scaled, shifts_scaled)) = step(10.0);
        assert_eq!(
            scaled, plain,
            "weights and batch norm scales move as before"
        );
        assert!(
            !before.is_empty() && shifts_before.len() == 16,
            "one shift a unit"
        );
        let mut largest = 0f32;
        for ((b, p), s) in shifts_before.iter().zip(&shifts_plain).zip(&shifts_scaled) {
            largest = largest.max((p - b).abs());
            assert!(
                ((s - b) - 10.0 * (p - b)).abs() <= 1e-5 + 1e-4 * (p - b).abs(),
                "shift moved {} where the plain step moved {}",
                s - b,
                p - b
            );
        }
        assert!(largest > 1e-4, "the shifts got a real gradient: {largest}");
    }
    config.apply_override("norm=none").unwrap();
    config.apply_override("norm_bias_lr=10").unwrap();
    let err = config.validate().unwrap_err().to_string();
    assert!(
        err.contains("norm_bias_lr") && err.contains("batch norm"),
        "{err}"
    );
}

/// Every trainable value of `params`, in order.
fn flat(params: &Params) -> Vec<f32> {
    params
        .trainable()
        .flat_map(|p| p.tensor.flatten_all().unwrap().to_vec1::<f32>().unwrap())
        .collect()
}

/// The trainable values of `params`: those of everything but batch norm shifts, and those of
/// the shifts.
fn by_role(params: &Params) -> (Vec<f32>, Vec<f32>) {
    let values = |shift: bool| {
        params
            .trainable()
            .filter(|p| p.norm_shift == shift)
            .flat_map(|p| p.tensor.flatten_all().unwrap().to_vec1::<f32>().unwrap())
            .collect()
    };
    (values(false), values(true))
}

/// The autograd engine's MLP with one hidden layer of 16 and batches of 8, with `settings`.
fn small_mlp(settings: &[&str]) -> RunConfig {
    let mut config = RunConfig::default();
    for s in ["engine=autograd", "hidden=16", "batch_size=8"]
        .iter()
        .chain(settings)
    {
        config.apply_override(s).unwrap();
    }
    config
}

/// One training step of a fresh `config` network on a fixed batch of 8 on `compute`, with
/// `hyper`: what `read` takes from the parameters before and after it, and the step's report.
fn one_step<T>(
    config: &RunConfig,
    compute: &Compute,
    hyper: &Hyper,
    read: impl Fn(&Params) -> T,
) -> (T, T, StepReport) {
    let x = Tensor::from_vec(
        (0..8 * 3072)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
            .collect::<Vec<f32>>(),
        (8, 3072),
        &Device::Cpu,
    )
    .unwrap();
    let labels: Vec<u8> = (0..8).map(|i| i % 10).collect();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
    let mut trainer = build_trainer(
        config,
        gradboard::data::DataShape::CIFAR10,
        &mut rng,
        compute,
    )
    .unwrap();
    let before = read(trainer.network_ref().params());
    let report = trainer.step(&x, &labels, hyper).unwrap();
    (before, read(trainer.network_ref().params()), report)
}
