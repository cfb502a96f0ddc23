//! Section 3's batch norms: gradient checks, inference on running statistics, bad shapes.

use candle_core::{DType, Device, Tensor};
use gradboard::nn::batch_norm::{feature_moments, Backward, BatchNorm1d};
use rand::SeedableRng;

#[test]
fn both_batch_norms_pass_the_gradient_checks_on_several_draws() {
    for seed in 0..4 {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        for c in gradboard::gradcheck::check_batch_norm(&mut rng).unwrap() {
            assert!(
                c.passed(),
                "seed {seed}: {} {:e} > {:e}",
                c.name,
                c.error,
                c.threshold
            );
        }
    }
}

#[test]
fn running_statistics_follow_pytorch() {
    let x = Tensor::new(&[[1.0f64, 10.0], [3.0, 14.0], [5.0, 18.0]], &Device::Cpu).unwrap();
    for manual in [false, true] {
        let (mean, var) = if manual {
            let bn = BatchNorm1d::new(2, DType::F64, Backward::Manual).unwrap();
            bn.forward_t(&x, true).unwrap();
            (
                bn.running.mean.as_tensor().to_vec1::<f64>().unwrap(),
                bn.running.var.as_tensor().to_vec1::<f64>().unwrap(),
            )
        } else {
            let bn = BatchNorm1d::new(2, DType::F64, Backward::Autograd).unwrap();
            bn.forward_t(&x, true).unwrap();
            (
                bn.running.mean.as_tensor().to_vec1::<f64>().unwrap(),
                bn.running.var.as_tensor().to_vec1::<f64>().unwrap(),
            )
        };
        // mean 3 and 14; unbiased variances 4 and 16; momentum 0.1 from (0, 1).
        assert!(
            (mean[0] - 0.3).abs() < 1e-12 && (mean[1] - 1.4).abs() < 1e-12,
            "{mean:?}"
        );
        assert!(
            (var[0] - (0.9 + 0.4)).abs() < 1e-12 && (var[1] - (0.9 + 1.6)).abs() < 1e-12,
            "{var:?}"
        );
    }
}

#[test]
fn inference_uses_running_statistics_and_training_normalises() {
    let bn = BatchNorm1d::new(3, DType::F32, Backward::Manual).unwrap();
    let x = Tensor::randn(0f32, 1.0, (64, 3), &Device::Cpu)
        .unwrap()
        .affine(5.0, 7.0)
        .unwrap();
    let y = bn.forward_t(&x, true).unwrap();
    let (mean, var) = feature_moments(&y).unwrap();
    for (m, v) in mean
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .zip(var.to_vec1::<f32>().unwrap())
    {
        assert!(m.abs() < 1e-4 && (v - 1.0).abs() < 1e-2, "{m} {v}");
    }
    // Fresh running statistics are mean 0, variance 1 blended once: inference is not the batch's normalisation.
    let z = bn.forward_t(&x, false).unwrap();
    let (zm, _) = feature_moments(&z).unwrap();
    assert!(zm.to_vec1::<f32>().unwrap().iter().all(|m| m.abs() > 1.0));
}

#[test]
fn bad_shapes_are_errors_not_panics() {
    let manual = BatchNorm1d::new(4, DType::F32, Backward::Manual).unwrap();
    let autograd = BatchNorm1d::new(4, DType::F32, Backward::Autograd).unwrap();
    for shape in [vec![8, 5], vec![8], vec![2, 4, 2], vec![1, 4]] {
        let x = Tensor::zeros(shape.as_slice(), DType::F32, &Device::Cpu).unwrap();
        let e = manual.forward_t(&x, true).unwrap_err().to_string();
        assert!(e.contains("batch norm"), "{shape:?}: {e}");
        assert!(autograd.forward_t(&x, true).is_err(), "{shape:?}");
    }
}
