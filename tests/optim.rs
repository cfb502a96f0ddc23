//! Optimizers against values worked out from the published update rules (PyTorch's
//! documentation), step by step, on f(p) = sum(p^2) whose gradient is 2p.

use candle_core::{DType, Device, Tensor, Var};
use gradboard::config::OptimizerKind;
use gradboard::optim::{Optimizer, OptimizerConfig};

const P0: [f64; 3] = [1.0, -2.0, 0.5];

/// Runs `steps` updates of sum(p^2) and returns p after each.
fn run(
    kind: OptimizerKind,
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    steps: usize,
) -> Vec<Vec<f64>> {
    let p = Var::from_tensor(&Tensor::new(&P0, &Device::Cpu).unwrap()).unwrap();
    let frozen = Var::from_tensor(&Tensor::new(&[3.0f64], &Device::Cpu).unwrap()).unwrap();
    let mut opt = Optimizer::new(
        OptimizerConfig {
            kind,
            momentum,
            weight_decay,
        },
        vec![p.clone(), frozen.clone()],
    );
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
        opt.step(&grads, lr).unwrap();
        out.push(p.as_tensor().to_vec1::<f64>().unwrap());
    }
    assert_eq!(
        frozen.as_tensor().to_vec1::<f64>().unwrap(),
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

#[test]
fn sgd_is_p_minus_lr_g() {
    // p1 = p0 - 0.1 * 2 p0 = 0.8 p0; p2 = 0.64 p0.
    let s = run(OptimizerKind::Sgd, 0.1, 0.0, 0.0, 2);
    close(&s[0], &[0.8, -1.6, 0.4], 1e-12);
    close(&s[1], &[0.64, -1.28, 0.32], 1e-12);
    // weight decay 0.5 adds 0.5 p to the gradient: p1 = p0 - 0.1 * 2.5 p0 = 0.75 p0.
    let s = run(OptimizerKind::Sgd, 0.1, 0.0, 0.5, 1);
    close(&s[0], &[0.75, -1.5, 0.375], 1e-12);
}

#[test]
fn momentum_is_pytorch_heavy_ball() {
    // b1 = g0 = 2 p0; p1 = p0 - 0.1 b1 = 0.8 p0.
    // g1 = 2 p1 = 1.6 p0; b2 = 0.9 b1 + g1 = 1.8 p0 + 1.6 p0 = 3.4 p0; p2 = 0.8 p0 - 0.34 p0 = 0.46 p0.
    // g2 = 0.92 p0; b3 = 0.9 * 3.4 p0 + 0.92 p0 = 3.98 p0; p3 = 0.46 p0 - 0.398 p0 = 0.062 p0.
    let s = run(OptimizerKind::Momentum, 0.1, 0.9, 0.0, 3);
    for (step, factor) in [(0, 0.8), (1, 0.46), (2, 0.062)] {
        close(&s[step], &P0.map(|p| p * factor), 1e-12);
    }
}

#[test]
fn adam_first_steps_move_by_lr_times_the_sign() {
    // Step 1: m = 0.1 g, v = 0.001 g^2; m/(1-0.9) = g, v/(1-0.999) = g^2: p1 = p0 - lr g/(|g| + eps).
    let lr = 0.01;
    let s = run(OptimizerKind::Adam, lr, 0.0, 0.0, 3);
    close(&s[0], &[1.0 - lr, -2.0 + lr, 0.5 - lr], 1e-9);
    // Step 2, worked through for p0 = 1: g0 = 2, p1 = 1 - lr 2 / (2 + eps), g1 = 2 p1.
    let p1 = 1.0 - lr * 2.0 / (2.0 + 1e-8);
    let (g0, g1) = (2.0f64, 2.0 * p1);
    let m = 0.9 * (0.1 * g0) + 0.1 * g1;
    let v = 0.999 * (0.001 * g0 * g0) + 0.001 * g1 * g1;
    let expected = p1 - lr * (m / (1.0 - 0.81)) / ((v / (1.0 - 0.999f64.powi(2))).sqrt() + 1e-8);
    assert!(
        (s[1][0] - expected).abs() < 1e-12,
        "{} vs {expected}",
        s[1][0]
    );
}

#[test]
fn adamw_decays_the_weights_not_the_gradient() {
    // Step 1: p <- p (1 - lr wd), then the Adam step of size lr: 1 * (1 - 0.01*0.1) - 0.01.
    let s = run(OptimizerKind::Adamw, 0.01, 0.0, 0.1, 1);
    close(&s[0], &[0.999 - 0.01, -1.998 + 0.01, 0.4995 - 0.01], 1e-9);
    // Adam with the same weight decay folds it into the gradient: the first step is still lr sign(g).
    let s = run(OptimizerKind::Adam, 0.01, 0.0, 0.1, 1);
    close(&s[0], &[0.99, -1.99, 0.49], 1e-9);
}

#[test]
fn rmsprop_divides_by_the_running_rms() {
    // v1 = 0.01 g^2; p1 = p0 - lr g / (0.1 |g| + eps) = p0 - 10 lr sign(g).
    let lr = 0.001;
    let s = run(OptimizerKind::Rmsprop, lr, 0.0, 0.0, 2);
    close(&s[0], &[1.0 - 0.01, -2.0 + 0.01, 0.5 - 0.01], 1e-7);
    // Step 2 for p0 = 1: p1 = 1 - lr 2 / (0.2 + eps), g1 = 2 p1, v2 = 0.99 * 0.04 + 0.01 g1^2.
    let p1 = 1.0 - lr * 2.0 / (0.2 + 1e-8);
    let g1 = 2.0 * p1;
    let v2 = 0.99 * 0.04 + 0.01 * g1 * g1;
    let expected = p1 - lr * g1 / (v2.sqrt() + 1e-8);
    assert!((s[1][0] - expected).abs() < 1e-12);
    // With momentum 0.5: b2 = 0.5 b1 + g/(sqrt(v)+eps).
    let s = run(OptimizerKind::Rmsprop, lr, 0.5, 0.0, 2);
    let b1 = 2.0 / (0.04f64.sqrt() + 1e-8);
    let b2 = 0.5 * b1 + g1 / (v2.sqrt() + 1e-8);
    assert!((s[1][0] - (p1 - lr * b2)).abs() < 1e-12);
}

#[test]
fn f32_parameters_update_too() {
    let p = Var::from_tensor(&Tensor::new(&[1.0f32, -1.0], &Device::Cpu).unwrap()).unwrap();
    let mut opt = Optimizer::new(
        OptimizerConfig {
            kind: OptimizerKind::Adam,
            momentum: 0.0,
            weight_decay: 0.0,
        },
        vec![p.clone()],
    );
    let grads = p
        .as_tensor()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    opt.step(&grads, 0.1).unwrap();
    assert_eq!(p.as_tensor().dtype(), DType::F32);
    let v = p.as_tensor().to_vec1::<f32>().unwrap();
    assert!(
        (v[0] - 0.9).abs() < 1e-6 && (v[1] + 0.9).abs() < 1e-6,
        "{v:?}"
    );
}
