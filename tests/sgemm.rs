//! The fast f32 product (the gemm crate's kernels for this CPU: AVX-512, AVX2 or portable)
//! against an f64 product, on section 1's shapes, odd shapes and transposed views, and the
//! fused SGD step of the manual MLP against the separate backward and update.

use candle_core::{DType, Device, Tensor};
use gradboard::kernels::sgemm::{add_product, matmul};
use gradboard::kernels::Kernels;
use gradboard::manual::{one_hot, ManualMlp};
use rand::rngs::SmallRng;
use rand::SeedableRng;

fn random(rows: usize, cols: usize, seed: u64) -> Tensor {
    use rand::Rng;
    let mut rng = SmallRng::seed_from_u64(seed);
    let values: Vec<f32> = (0..rows * cols)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    Tensor::from_vec(values, (rows, cols), &Device::Cpu).unwrap()
}

/// The product in f64 (another kernel), back in f32.
fn reference(a: &Tensor, b: &Tensor) -> Tensor {
    a.to_dtype(DType::F64)
        .unwrap()
        .matmul(&b.to_dtype(DType::F64).unwrap())
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
}

fn max_rel_diff(a: &Tensor, b: &Tensor) -> f32 {
    let a: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
    let b: Vec<f32> = b.flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1f32, |m, v| m.max(v.abs()));
    a.iter()
        .zip(&b)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs() / scale))
}

#[test]
fn products_match_candle_on_training_and_odd_shapes() {
    for &(m, k, n) in &[
        (200, 3072, 100),
        (1000, 3072, 100),
        (200, 100, 10),
        (7, 5, 3),
        (37, 513, 29),
        (1, 1, 1),
    ] {
        let a = random(m, k, 1);
        let b = random(k, n, 2);
        let diff = max_rel_diff(&matmul(Kernels::Cpu, &a, &b).unwrap(), &reference(&a, &b));
        assert!(diff < 1e-5, "{m}x{k}x{n}: relative difference {diff}");
    }
}

#[test]
fn transposed_views_are_read_correctly() {
    let x = random(200, 3072, 3);
    let dy = random(200, 100, 4);
    let w = random(3072, 100, 5);
    let pairs = [
        (x.t().unwrap(), dy.clone()),
        (dy.clone(), w.t().unwrap()),
        (w.t().unwrap(), x.t().unwrap()),
    ];
    for (a, b) in pairs {
        let diff = max_rel_diff(&matmul(Kernels::Cpu, &a, &b).unwrap(), &reference(&a, &b));
        assert!(diff < 1e-5, "{:?} x {:?}: {diff}", a.dims(), b.dims());
    }
}

#[test]
fn add_product_updates_in_place_like_axpy_of_the_product() {
    let w = random(3072, 100, 6);
    let expected = (&w
        - (random(200, 3072, 7)
            .t()
            .unwrap()
            .matmul(&random(200, 100, 8))
            .unwrap()
            * 0.01)
            .unwrap())
    .unwrap();
    let shared = w.clone();
    add_product(
        Kernels::Cpu,
        &w,
        -0.01,
        &random(200, 3072, 7).t().unwrap(),
        &random(200, 100, 8),
    )
    .unwrap();
    assert!(
        max_rel_diff(&shared, &expected) < 1e-5,
        "clones see the update"
    );
}

#[test]
fn the_cpu_path_refuses_f64_and_the_reference_takes_it() {
    let a = random(5, 7, 9).to_dtype(DType::F64).unwrap();
    let b = random(7, 3, 10).to_dtype(DType::F64).unwrap();
    let err = matmul(Kernels::Cpu, &a, &b).unwrap_err().to_string();
    assert!(err.contains("f32") && err.contains("reference"), "{err}");
    let got = matmul(Kernels::Reference, &a, &b).unwrap();
    assert_eq!(got.dtype(), DType::F64);
    let diff = (got - a.matmul(&b).unwrap())
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap();
    assert_eq!(diff.to_scalar::<f64>().unwrap(), 0.0);
}

#[test]
fn fused_sgd_step_equals_backward_then_update() {
    let build = || {
        let mut rng = SmallRng::seed_from_u64(11);
        ManualMlp::new(
            &[48, 20, 10],
            (0.02, 0.1),
            &mut rng,
            (DType::F32, &Device::Cpu),
            Kernels::Cpu,
        )
        .unwrap()
    };
    let (mut fused, mut reference) = (build(), build());
    let labels: Vec<u8> = (0..16).map(|i| (i * 7 % 10) as u8).collect();
    for step in 0..3 {
        let x = random(16, 48, 20 + step);
        fused.train_step(&x, &labels, 0.05).unwrap();
        let targets = one_hot(&labels, 10, DType::F32, &Device::Cpu).unwrap();
        reference.forward(&x).unwrap();
        reference.backward(&targets).unwrap();
        reference.sgd_step(0.05).unwrap();
    }
    for (f, r) in fused.linears.iter().zip(&reference.linears) {
        assert!(max_rel_diff(&f.weight, &r.weight) < 1e-5);
        assert!(max_rel_diff(&f.bias, &r.bias) < 1e-5);
    }
    let moved = max_rel_diff(&fused.linears[0].weight, &build().linears[0].weight);
    assert!(moved > 1e-3, "the weights changed");
}
