//! Nets as data: every shipped description reads and summarises on CIFAR-10's shape, and the
//! lab's networks written as descriptions count the parameters and FLOP the engine counts for
//! its built-in models.

use gradboard::config::{PresetDirs, RunConfig};
use gradboard::nn::net::{list_nets, load_net, net_dirs, summarise, Shape};
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
        gradboard::model::memory::estimate(&convnet).parameters
    );
    assert_eq!(s.params, 9_228_362, "the lab's 9.2 M with batch norm");
    let engine = gradboard::model::flops::forward(&convnet, 1).useful;
    assert_eq!(s.flops as f64, engine, "forward FLOP an image");
    let mlp = load_net("mlp-best", &dirs(), &[]).unwrap();
    let s = summarise(&mlp, Shape::Maps(3, 32, 32), 10).unwrap();
    let best = preset("mlp-best");
    let norms = 2 * (800 + 400 + 200 + 100);
    assert_eq!(
        s.params,
        gradboard::model::memory::estimate(&best).parameters + norms
    );
    assert_eq!(
        s.flops as f64,
        gradboard::model::flops::forward(&best, 1).useful
    );
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
