//! The ConvNet's weights files: no convolution bias before a batch norm, and files saved when
//! it had one still load, the bias moved into the running mean where it acted. Its identity
//! (dirac) start.

mod common;

use candle_core::{Device, Tensor};
use common::max_abs_diff;
use gradboard::config::PresetDirs;
use gradboard::model::{load_weights, Compute};
use gradboard::train::build_network;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn preset(name: &str) -> gradboard::config::RunConfig {
    PresetDirs {
        dirs: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("presets")],
    }
    .find(name)
    .unwrap()
    .config
}

fn weight(net: &dyn gradboard::model::Network, name: &str) -> Tensor {
    net.params()
        .iter()
        .find(|p| p.name == name)
        .unwrap()
        .tensor
        .clone()
}

#[test]
fn a_dirac_start_passes_each_channel_through_every_convolution_after_the_first() {
    let mut config = preset("convnet");
    config.conv_init = gradboard::config::ConvInit::Dirac;
    let drawn = build_network(
        &preset("convnet"),
        gradboard::data::DataShape::CIFAR10,
        &mut SmallRng::seed_from_u64(3),
        &Compute::cpu(),
    )
    .unwrap();
    let net = build_network(
        &config,
        gradboard::data::DataShape::CIFAR10,
        &mut SmallRng::seed_from_u64(3),
        &Compute::cpu(),
    )
    .unwrap();
    // The first convolution (3 -> 64) is drawn as without it.
    let first = max_abs_diff(
        &weight(net.as_ref(), "conv1.weight"),
        &weight(drawn.as_ref(), "conv1.weight"),
    );
    assert_eq!(first, 0.0);
    // conv2 (64 -> 128): its first 64 filters copy their channel, the other 64 are drawn.
    let w = weight(net.as_ref(), "conv2.weight");
    let x = Tensor::randn(0f32, 1.0, (2, 64, 8, 8), &Device::Cpu).unwrap();
    let y = x.conv2d(&w, 1, 1, 1, 1).unwrap();
    assert!(max_abs_diff(&y.narrow(1, 0, 64).unwrap(), &x) < 1e-6);
    let drawn_rest = weight(drawn.as_ref(), "conv2.weight")
        .narrow(0, 64, 64)
        .unwrap();
    assert_eq!(
        max_abs_diff(&w.narrow(0, 64, 64).unwrap(), &drawn_rest),
        0.0
    );
    // conv5_b (512 -> 512) is the identity.
    let w = weight(net.as_ref(), "conv5_b.weight");
    let centre: Vec<f32> = w
        .narrow(2, 1, 1)
        .unwrap()
        .narrow(3, 1, 1)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    for (i, v) in centre.iter().enumerate() {
        let (o, c) = (i / 512, i % 512);
        assert_eq!(*v, if o == c { 1.0 } else { 0.0 }, "filter {o} channel {c}");
    }
    let sum = w
        .abs()
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert_eq!(sum, 512.0);
}

#[test]
fn a_dirac_start_is_refused_for_the_mlp() {
    let mut config = preset("mlp-best");
    config.conv_init = gradboard::config::ConvInit::Dirac;
    let err = config.validate().unwrap_err().to_string();
    assert!(
        err.contains("conv_init") && err.contains("convnet"),
        "{err}"
    );
}

#[test]
fn weights_saved_with_conv_biases_load_with_the_bias_in_the_running_mean() {
    let config = preset("convnet");
    let net = build_network(
        &config,
        gradboard::data::DataShape::CIFAR10,
        &mut SmallRng::seed_from_u64(1),
        &Compute::cpu(),
    )
    .unwrap();
    let names: Vec<String> = net.params().iter().map(|p| p.name.clone()).collect();
    assert!(names.contains(&"conv1.weight".to_string()));
    assert!(!names.iter().any(|n| n == "conv1.bias"));
    let mut old: HashMap<String, Tensor> = net.params().snapshot().unwrap().into_iter().collect();
    old.insert(
        "conv1.bias".into(),
        Tensor::ones(64, candle_core::DType::F32, &Device::Cpu).unwrap(),
    );
    old.insert(
        "conv1.bn.running_mean".into(),
        Tensor::full(3f32, 64, &Device::Cpu).unwrap(),
    );
    load_weights(net.as_ref(), old, Path::new("old.safetensors")).unwrap();
    let mean = net
        .params()
        .iter()
        .find(|p| p.name == "conv1.bn.running_mean")
        .unwrap()
        .tensor
        .to_vec1::<f32>()
        .unwrap();
    assert!(mean.iter().all(|&m| m == 2.0), "{mean:?}");
}
