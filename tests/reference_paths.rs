//! Every model's training step through the CPU fast paths (custom ops, fused updates) against
//! the same step through their references in plain tensor ops, the path a GPU would take:
//! same seed, same batches, the losses and every parameter agree.

use candle_core::{DType, Device, Tensor};
use gradboard::config::{PresetDirs, RunConfig};
use gradboard::model::Hyper;
use gradboard::model::{Compute, Trainer, INPUTS};
use gradboard::train::build_trainer;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;

fn preset(name: &str, sets: &[&str]) -> RunConfig {
    let mut c = PresetDirs {
        dirs: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("presets")],
    }
    .find(name)
    .unwrap()
    .config;
    for s in sets {
        c.apply_override(s).unwrap();
    }
    c
}

fn params(t: &dyn Trainer) -> Vec<(String, Vec<f32>)> {
    t.network_ref()
        .params()
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.tensor
                    .to_dtype(DType::F32)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap(),
            )
        })
        .collect()
}

/// `steps` steps of `config` on both paths; the losses agree to `loss_tol` (relative) and
/// every parameter to `param_tol` (absolute, plus relative).
fn compare(config: &RunConfig, batch: usize, steps: usize, loss_tol: f64, param_tol: f32) {
    let mut data_rng = SmallRng::seed_from_u64(9);
    let batches: Vec<(Tensor, Vec<u8>)> = (0..steps)
        .map(|_| {
            let x: Vec<f32> = (0..batch * INPUTS)
                .map(|_| data_rng.random_range(-100.0f32..100.0))
                .collect();
            let labels: Vec<u8> = (0..batch).map(|_| data_rng.random_range(0..10)).collect();
            (
                Tensor::from_vec(x, (batch, INPUTS), &Device::Cpu).unwrap(),
                labels,
            )
        })
        .collect();
    let hyper = Hyper::of(config);
    let mut runs = Vec::new();
    for compute in [Compute::cpu(), Compute::cpu_reference()] {
        let mut rng = SmallRng::seed_from_u64(config.seed);
        let mut trainer = build_trainer(
            config,
            gradboard::data::DataShape::CIFAR10,
            &mut rng,
            &compute,
        )
        .unwrap();
        let mut losses = Vec::new();
        for (i, (x, labels)) in batches.iter().enumerate() {
            trainer.network().reseed(100 + i as u64);
            let report = trainer.step(x, labels, &hyper).unwrap();
            assert!(report.applied);
            losses.push(report.loss);
        }
        // The trained network in evaluation mode (running statistics, no dropout).
        let logits = trainer
            .network()
            .forward(&batches[0].0, false)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        runs.push((losses, params(trainer.as_ref()), logits));
    }
    let ((fast_loss, fast, fast_logits), (ref_loss, reference, ref_logits)) = (&runs[0], &runs[1]);
    let worst = fast_logits
        .iter()
        .zip(ref_logits)
        .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
        .fold(0f32, f32::max);
    assert!(
        worst <= param_tol * 10.0,
        "{:?}: evaluation logits differ by {worst}",
        config.model
    );
    for (a, b) in fast_loss.iter().zip(ref_loss) {
        assert!(
            (a - b).abs() <= loss_tol * b.abs().max(1e-3),
            "{:?}/{:?}: losses {fast_loss:?} vs {ref_loss:?}",
            config.model,
            config.norm
        );
    }
    assert_eq!(fast.len(), reference.len());
    for ((name, a), (name_b, b)) in fast.iter().zip(reference) {
        assert_eq!(name, name_b);
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
            .fold(0f32, f32::max);
        assert!(worst <= param_tol, "{name}: differs by {worst}");
    }
}

#[test]
fn the_manual_mlp_matches_its_reference() {
    compare(&preset("numpy-mlp", &["hidden=64,32"]), 50, 3, 1e-5, 1e-5);
}

#[test]
fn the_autograd_mlps_match_their_references() {
    compare(&preset("mlp-default", &["hidden=64"]), 50, 3, 1e-5, 1e-5);
    // Adam moves each weight by about lr in the direction of its gradient's sign: a gradient
    // within rounding of zero may go either way, so parameters agree to a few lr.
    for norm in ["batchnorm", "custom-autograd", "custom-manual"] {
        let config = preset(
            "mlp-best",
            &["hidden=64,48,32", &format!("norm={norm}"), "lr=1e-4"],
        );
        compare(&config, 64, 3, 1e-4, 5e-4);
    }
    compare(
        &preset(
            "mlp-best",
            &[
                "hidden=64,32",
                "optimizer=momentum",
                "momentum=0.9",
                "lr=1e-3",
            ],
        ),
        64,
        3,
        1e-4,
        1e-4,
    );
}

#[test]
fn the_convnet_matches_its_reference() {
    // One SGD step passes every gradient through linearly: a tight check of each of them.
    // (Over more steps activations at zero may take either side of a ReLU, or a pool window
    // another maximum, in the two paths, and the runs drift apart like any two chaotic ones.)
    compare(
        &preset("convnet", &["optimizer=sgd", "lr=1e-2"]),
        4,
        1,
        1e-5,
        1e-4,
    );
    compare(
        &preset("convnet", &["norm=none", "optimizer=sgd", "lr=1e-2"]),
        4,
        1,
        1e-5,
        1e-4,
    );
    // Adam turns gradients that are zero up to rounding into steps of about lr either way.
    compare(&preset("convnet", &["lr=1e-4"]), 4, 3, 5e-3, 1e-3);
}

#[test]
fn bf16_products_match_their_reference() {
    // The reference rounds the operands by a cast to bf16 and back and multiplies in f32: the
    // same products; its backward rounds each gradient after its product where the CPU rounds
    // the output gradient before it. The two paths' f32 batch norms differ in the last bits,
    // and a difference that small moves a value across a bf16 rounding boundary of the next
    // product now and then: losses and logits agree to bf16's 2^-8, not f32's, and gradients
    // to bf16's relative rounding (a step at lr 1e-3 keeps the parameters within 1e-3).
    compare(
        &preset("convnet", &["optimizer=sgd", "lr=1e-3", "precision=bf16"]),
        4,
        1,
        2e-3,
        1e-3,
    );
    compare(
        &preset("mlp-default", &["hidden=64", "precision=bf16"]),
        50,
        3,
        2e-3,
        1e-3,
    );
}
