//! Nets as data: every shipped description reads and summarises on CIFAR-10's shape, and the
//! lab's networks written as descriptions count the parameters and FLOP the engine counts for
//! its built-in models.

use gradboard::config::net::{list_nets, load_net, net_dirs};
use gradboard::config::{PresetDirs, RunConfig};
use gradboard::model::summary::{summarise, Shape};
use std::path::PathBuf;

fn dirs() -> Vec<PathBuf> {
    net_dirs(&PresetDirs {
        dirs: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("presets")],
    })
}

fn preset(name: &str) -> RunConfig {
    let dirs = PresetDirs {
        dirs: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("presets")],
    };
    dirs.find(name).unwrap().config
}

#[test]
fn every_shipped_net_summarises_on_cifar() {
    let nets = list_nets(&dirs());
    assert!(nets.len() >= 4, "{nets:?}");
    for (name, _) in nets {
        let net = load_net(&name, &dirs(), &[]).unwrap();
        assert!(!net.description.is_empty(), "{name}");
        let s = summarise(&net, Shape::Maps(3, 32, 32), 10).unwrap();
        assert_eq!(s.output, Shape::Flat(10), "{name}");
    }
}

#[test]
fn the_lab_networks_as_descriptions_count_what_the_engine_counts() {
    let vgg = load_net("lab-vgg", &dirs(), &[]).unwrap();
    let s = summarise(&vgg, Shape::Maps(3, 32, 32), 10).unwrap();
    let convnet = preset("convnet");
    assert_eq!(
        s.params,
        gradboard::model::memory::estimate(&convnet, gradboard::data::DataShape::CIFAR10)
            .parameters
    );
    assert_eq!(s.params, 9_228_362, "the lab's 9.2 M with batch norm");
    let engine = gradboard::model::flops::forward(&convnet, 1).useful;
    assert_eq!(s.flops as f64, engine, "forward FLOP an image");
    let mlp = load_net("mlp-best", &dirs(), &[]).unwrap();
    let s = summarise(&mlp, Shape::Maps(3, 32, 32), 10).unwrap();
    let best = preset("mlp-best");
    // Hidden layers without a bias (their batch norm removes it), two values a unit in the norms.
    let units = 800 + 400 + 200 + 100;
    let weights = 3072 * 800 + 800 * 400 + 400 * 200 + 200 * 100 + 100 * 10;
    assert_eq!(s.params, weights + 10 + 2 * units);
    assert_eq!(
        s.flops as f64,
        gradboard::model::flops::forward(&best, 1).useful
    );
}

#[test]
fn the_lab_models_shorthand_expands_to_the_shipped_descriptions() {
    // model = "mlp" with hidden, and model = "convnet", are the nets in presets/nets/.
    for (preset_name, net_name) in [("mlp-best", "mlp-best"), ("convnet", "lab-vgg")] {
        let config = preset(preset_name);
        let expanded = gradboard::model::described(&config).unwrap();
        let shipped = load_net(net_name, &dirs(), &[]).unwrap();
        assert_eq!(expanded.layers, shipped.layers, "{preset_name}");
    }
    let config = preset("mlp-best");
    assert_eq!(
        gradboard::model::described(&config).unwrap().name,
        "mlp 800-400-200-100"
    );
    // The section-1 engine has no dropout; its hidden layers keep their bias.
    let numpy = preset("numpy-mlp");
    let net = gradboard::model::described(&numpy).unwrap();
    let s = summarise(&net, Shape::Maps(3, 32, 32), 10).unwrap();
    let widths = gradboard::model::mlp_widths(&numpy.hidden, gradboard::data::DataShape::CIFAR10);
    let expected: usize = widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
    assert_eq!(s.params, expected as u64);
}

#[test]
fn a_net_variable_is_set_by_name_and_an_unknown_one_is_refused() {
    let set = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    let narrow = load_net("resnet-small", &dirs(), &set("w1", "16")).unwrap();
    let wide = load_net("resnet-small", &dirs(), &[]).unwrap();
    let p = |n| summarise(n, Shape::Maps(3, 32, 32), 10).unwrap().params;
    assert!(p(&narrow) < p(&wide));
    let e = load_net("resnet-small", &dirs(), &set("width", "16"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("net.width: no such variable (the net's: w1, w2, w3)"),
        "{e}"
    );
    let e = load_net("no-such-net", &dirs(), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("no such net") && e.contains("lab-vgg"), "{e}");
}

/// The lab's network and its description given the same weights (copied in registration
/// order, shape by shape): the same logits, in training (batch statistics) and evaluation.
fn same_logits(lab_preset: &str, net: &str, images: usize, tolerance: f32, modes: &[bool]) {
    use candle_core::{Device, Tensor};
    use gradboard::model::Compute;
    use rand::SeedableRng;
    let lab = preset(lab_preset);
    let mut described = lab.clone();
    described.set("net", net).unwrap();
    described.norm = gradboard::config::Norm::None;
    described.validate().unwrap();
    let compute = Compute::cpu();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
    let mut a = gradboard::train::build_network(
        &lab,
        gradboard::data::DataShape::CIFAR10,
        &mut rng,
        &compute,
    )
    .unwrap();
    let mut b = gradboard::train::build_network(
        &described,
        gradboard::data::DataShape::CIFAR10,
        &mut rng,
        &compute,
    )
    .unwrap();
    let (from, to) = (
        a.params().snapshot().unwrap(),
        b.params().snapshot().unwrap(),
    );
    assert_eq!(from.len(), to.len(), "{net}: as many tensors");
    let mut copied = std::collections::HashMap::new();
    for ((name_a, t), (name_b, u)) in from.iter().zip(&to) {
        assert_eq!(t.dims(), u.dims(), "{name_a} against {name_b}");
        copied.insert(name_b.clone(), t.clone());
    }
    b.params()
        .restore(&copied, std::path::Path::new("test"))
        .unwrap();
    let x = (Tensor::rand(-1f32, 1f32, (images, 3072), &Device::Cpu).unwrap() * 60.0).unwrap();
    for &train in modes {
        let ya = a.forward(&x, train).unwrap();
        let yb = b.forward(&x, train).unwrap();
        let diff: f32 = (ya - yb)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar()
            .unwrap();
        assert!(
            diff < tolerance,
            "{net} (train {train}): logits differ by {diff}"
        );
    }
}

#[test]
fn the_lab_mlp_and_its_description_give_the_same_logits() {
    same_logits("mlp-default", "mlp-default", 16, 1e-4, &[true, false]);
    // Batch norm and dropout (evaluation: the masks are each model's own draws).
    same_logits("mlp-best", "mlp-best", 16, 1e-4, &[false]);
}

#[test]
fn the_lab_vgg_and_its_description_give_the_same_logits() {
    same_logits("convnet", "lab-vgg", 4, 2e-3, &[true, false]);
}

#[test]
fn a_runs_net_round_trips_through_toml_and_json() {
    let mut c = preset("resnet-small");
    assert_eq!(c.model, gradboard::config::ModelKind::Net);
    c.set("net.w2", "48").unwrap();
    let back = RunConfig::from_toml(&c.to_toml(Some("x")), "t").unwrap();
    assert_eq!(back, c, "TOML");
    let json = serde_json::to_string(&c).unwrap();
    let back: RunConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c, "JSON");
    assert_eq!(c.get("net.w2").unwrap(), "48");
    assert_eq!(c.get("net").unwrap(), "resnet-small");
    // Back to the preset's own network, and a net beside another model refused.
    let mut d = c.clone();
    d.set("net", "none").unwrap();
    assert!(d.net.is_none());
    let mut e = c.clone();
    e.model = gradboard::config::ModelKind::Convnet;
    assert!(e
        .validate()
        .unwrap_err()
        .to_string()
        .contains("a net is the model"));
}

/// The lab's models and the nets their shorthand names train step for step to the same
/// losses, bit for bit: the same draws from the seed (weights, dropout masks), the same
/// kernels. `steps` steps at batch `batch` on seeded random images.
fn same_training(lab_preset: &str, net: &str, batch: usize, steps: usize) {
    use candle_core::{Device, Tensor};
    use gradboard::model::{Compute, Hyper};
    use rand::{Rng, SeedableRng};
    let mut lab = preset(lab_preset);
    lab.batch_size = batch;
    let mut described = lab.clone();
    described.set("net", net).unwrap();
    described.norm = gradboard::config::Norm::None;
    described.validate().unwrap();
    let shape = gradboard::data::DataShape::CIFAR10;
    let mut data_rng = rand::rngs::SmallRng::seed_from_u64(9);
    let batches: Vec<(Tensor, Vec<u8>)> = (0..steps)
        .map(|_| {
            let x: Vec<f32> = (0..batch * shape.image_bytes())
                .map(|_| data_rng.random_range(-100.0f32..100.0))
                .collect();
            let labels: Vec<u8> = (0..batch).map(|_| data_rng.random_range(0..10)).collect();
            let x = Tensor::from_vec(x, (batch, shape.image_bytes()), &Device::Cpu).unwrap();
            (x, labels)
        })
        .collect();
    let losses = |config: &RunConfig| -> Vec<f64> {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(config.seed);
        let mut trainer =
            gradboard::train::build_trainer(config, shape, &mut rng, &Compute::cpu()).unwrap();
        let hyper = Hyper::of(config);
        batches
            .iter()
            .enumerate()
            .map(|(i, (x, labels))| {
                trainer.network().reseed(100 + i as u64);
                trainer.step(x, labels, &hyper).unwrap().loss
            })
            .collect()
    };
    assert_eq!(
        losses(&lab),
        losses(&described),
        "{lab_preset} against net {net}"
    );
}

#[test]
fn the_lab_mlp_and_its_description_train_to_the_same_losses() {
    same_training("mlp-best", "mlp-best", 64, 6);
}

#[test]
fn the_lab_vgg_and_its_description_train_to_the_same_losses() {
    same_training("convnet", "lab-vgg", 8, 3);
}
