//! The ConvNet's weights files: no convolution bias before a batch norm, and files saved when
//! it had one still load, the bias moved into the running mean where it acted.

use candle_core::{Device, Tensor};
use gradboard::config::PresetDirs;
use gradboard::train::{build_network, load_weights, Compute};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[test]
fn weights_saved_with_conv_biases_load_with_the_bias_in_the_running_mean() {
    let config = PresetDirs {
        dirs: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("presets")],
    }
    .find("convnet")
    .unwrap()
    .config;
    let net = build_network(&config, &mut SmallRng::seed_from_u64(1), &Compute::cpu()).unwrap();
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
