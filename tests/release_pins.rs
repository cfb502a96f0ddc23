//! The lab's presets train bit-for-bit as release 140408b did: their first 30 losses on the
//! real data set, recorded from that release's binary (`train --preset P --set steps=30 --set
//! eval_every=30`, convnet-plus with `warmup_steps=10`), on every CPU level this machine runs
//! and with the nets, gates and checks that came after it. Needs `../shared`'s archive (CI has
//! it beside the project).

use gradboard::config::{PresetDirs, RunConfig};
use gradboard::data::Dataset;
use gradboard::events::EventKind;
use gradboard::model::Compute;
use gradboard::runner::{RunRequest, Runner};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

const MLP_BEST: [f64; 30] = [
    2.302586117211192,
    2.3025672305972935,
    2.3014938817006625,
    2.2995280123214146,
    2.297566062610585,
    2.2945461788891337,
    2.2931651877288686,
    2.288725988304062,
    2.285972093625775,
    2.282617677956466,
    2.2817655751866806,
    2.2755292530157196,
    2.2748946134934123,
    2.2697534997000646,
    2.27100418705176,
    2.2633141446713094,
    2.260752006591007,
    2.2548215398591647,
    2.2531026691758957,
    2.249366014644718,
    2.248330122332076,
    2.2394167553961806,
    2.2365543824132295,
    2.2352341814638863,
    2.234955818338044,
    2.2305836779674655,
    2.228786752667399,
    2.222052650306464,
    2.2226978838073568,
    2.214508323593201,
];

const CONVNET: [f64; 30] = [
    2.3795284211457,
    2.383268488926529,
    2.065489830433139,
    2.1390085896725988,
    2.1709447822185837,
    1.863571215923068,
    2.0176175142144723,
    1.6756568369052252,
    1.6888459659568122,
    1.7973938879521143,
    1.7172950902888864,
    2.245741322564217,
    1.9222828204390827,
    2.122956018476327,
    1.724608762876922,
    1.8365871028353264,
    2.0050275311317716,
    1.5933587203917225,
    2.0361877973613827,
    2.0076328913358807,
    1.9574996064354384,
    1.7204258354302344,
    1.9778612916323688,
    1.5936600639659213,
    1.7828247523407357,
    1.8202567418676436,
    1.6320259400729873,
    2.0890160628040473,
    2.1063822236728216,
    1.7204387886059218,
];

const CONVNET_PLUS: [f64; 30] = [
    2.6153459000604515,
    2.399355320100129,
    2.2748969919289124,
    2.3007555681499063,
    2.595039508458575,
    2.13729728418891,
    2.3666719152093507,
    2.057951313463667,
    1.7870053238995887,
    2.2022852280885266,
    1.981119731025034,
    2.4914058154977505,
    2.3698315227315145,
    2.1937126431422036,
    1.9620789848855946,
    2.0598071655222907,
    2.044842364168659,
    1.8795014636009517,
    2.194510627841081,
    2.127104831138145,
    2.0372589577946263,
    1.9168858795226977,
    1.9704741568545932,
    1.7154662104160998,
    2.102151316059227,
    1.9352458747873216,
    1.872879675438933,
    2.1379270536212798,
    2.198262389804969,
    1.8296601642649712,
];

fn config(name: &str, sets: &[&str]) -> RunConfig {
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

#[test]
fn the_lab_presets_train_bit_for_bit_as_release_140408b() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/cifar-10-binary.tar.gz");
    if !path.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing (CI runs with ../shared beside the project)",
            path.display()
        );
        eprintln!("skipped: {} is not here", path.display());
        return;
    }
    let data = Arc::new(Dataset::load(&path).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let runner = Runner::new(data, &path, dir.path(), Compute::cpu(), 2);
    // Test-time augmentation changes no training loss; without it the evaluation is short.
    for (name, sets, pinned) in [
        ("mlp-best", vec![], MLP_BEST),
        ("convnet", vec![], CONVNET),
        (
            "convnet-plus",
            vec!["warmup_steps=10", "tta=none"],
            CONVNET_PLUS,
        ),
    ] {
        let mut sets = sets;
        sets.extend(["steps=30", "eval_every=30"]);
        let losses: Arc<Mutex<Vec<f64>>> = Arc::default();
        let seen = losses.clone();
        let handle = runner
            .start(
                RunRequest::new(name, config(name, &sets), None),
                Box::new(move |e| {
                    if let EventKind::Train { loss, .. } = e.kind {
                        seen.lock().unwrap().push(loss);
                    }
                }),
            )
            .unwrap();
        handle.wait();
        let losses = losses.lock().unwrap().clone();
        assert_eq!(losses, pinned.to_vec(), "{name}: the first 30 losses");
    }
}
