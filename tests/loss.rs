//! The cross-entropy op (with label smoothing) against candle's ops and against finite
//! differences of its value.

mod common;

use candle_core::{Device, Tensor, Var};
use gradboard::kernels::loss::{cross_entropy, reference_cross_entropy};
use gradboard::kernels::Kernels;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn logits(b: usize, k: usize, seed: u64) -> Vec<f32> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..b * k).map(|_| rng.random_range(-3.0f32..3.0)).collect()
}

#[test]
fn the_fused_loss_matches_candle_with_and_without_smoothing() {
    let (b, k) = (13, 10);
    let labels: Vec<u8> = (0..b).map(|i| (i * 7 % k) as u8).collect();
    for smoothing in [0.0, 0.1, 0.3] {
        let z = Var::from_tensor(&Tensor::from_vec(logits(b, k, 1), (b, k), &Device::Cpu).unwrap())
            .unwrap();
        let fused = cross_entropy(Kernels::Cpu, z.as_tensor(), &labels, smoothing).unwrap();
        let reference =
            cross_entropy(Kernels::Reference, z.as_tensor(), &labels, smoothing).unwrap();
        assert!(
            (fused.value - reference.value).abs() < 1e-5,
            "{smoothing}: {} vs {}",
            fused.value,
            reference.value
        );
        assert_eq!(fused.correct, reference.correct);
        let g1 = fused.tensor.backward().unwrap();
        let g2 = reference.tensor.backward().unwrap();
        let d = common::max_abs_diff(
            g1.get(z.as_tensor()).unwrap(),
            g2.get(z.as_tensor()).unwrap(),
        );
        assert!(d < 1e-6, "{smoothing}: gradients differ by {d}");
    }
}

#[test]
fn the_smoothed_loss_gradient_matches_finite_differences() {
    let (b, k) = (4, 10);
    let labels = [3u8, 0, 9, 5];
    let smoothing = 0.2;
    let values: Vec<f64> = logits(b, k, 2).iter().map(|&v| v as f64).collect();
    let loss_at = |v: &[f64]| -> f64 {
        let t = Tensor::from_vec(v.to_vec(), (b, k), &Device::Cpu).unwrap();
        reference_cross_entropy(&t, &labels, smoothing)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    let z = Var::from_tensor(
        &Tensor::from_vec(
            values.iter().map(|&v| v as f32).collect::<Vec<f32>>(),
            (b, k),
            &Device::Cpu,
        )
        .unwrap(),
    )
    .unwrap();
    let loss = cross_entropy(Kernels::Cpu, z.as_tensor(), &labels, smoothing).unwrap();
    assert!((loss.value - loss_at(&values)).abs() < 1e-5);
    let analytic = loss
        .tensor
        .backward()
        .unwrap()
        .get(z.as_tensor())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let h = 1e-5;
    for i in 0..b * k {
        let (mut up, mut down) = (values.clone(), values.clone());
        up[i] += h;
        down[i] -= h;
        let numeric = (loss_at(&up) - loss_at(&down)) / (2.0 * h);
        assert!(
            (analytic[i] as f64 - numeric).abs() < 1e-5,
            "element {i}: {} vs {numeric}",
            analytic[i]
        );
    }
}
