//! The analysis of a run's model on a small data set it writes itself, and the learning-rate
//! finder on it.

use gradboard::analysis::analyze_run;

const K: usize = 10;
use gradboard::config::PresetDirs;
use gradboard::data::synthetic::{files, write_archive};
use gradboard::data::Dataset;
use gradboard::model::Compute;
use gradboard::runner::{RunRequest, Runner};
use gradboard::runs::{run_weights, Prefer};
use gradboard::train::checkpoint::Weights;
use gradboard::train::lr_find::{find_lr, Ramp};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn preset(name: &str, sets: &[&str]) -> gradboard::config::RunConfig {
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

/// A data set of 40 training and `test` test images written in `dir`, and a runner on it.
fn tiny_runner(dir: &Path, test: usize) -> (Arc<Dataset>, Runner) {
    let path = dir.join("tiny.tar.gz");
    write_archive(&path, &files(40, test)).unwrap();
    let data = Arc::new(Dataset::load(&path).unwrap());
    let runner = Runner::new(data.clone(), &path, &dir.join("runs"), Compute::cpu(), 1);
    (data, runner)
}

#[test]
fn the_confusion_matrix_counts_every_test_image_and_its_diagonal_is_the_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let (data, runner) = tiny_runner(dir.path(), 57);
    for sets in [&["tta=none"][..], &["tta=flip"]] {
        let mut all = vec!["steps=12", "eval_every=12", "batch_size=20", "lr=3e-3"];
        all.extend_from_slice(sets);
        let handle = runner
            .start(
                RunRequest::new("mlp-default", preset("mlp-default", &all), None),
                Box::new(|_| {}),
            )
            .unwrap();
        let run_dir = handle.dir.clone();
        let summary = handle.wait();
        let (step, a) = analyze_run(&run_dir, &data, &Compute::cpu(), &|| false)
            .unwrap()
            .unwrap();
        assert_eq!(step, 12, "the saved model's step");
        let total: usize = a.confusion.iter().flatten().sum();
        assert_eq!(total, data.test.len());
        assert_eq!(a.count(), 57);
        let diagonal: usize = (0..K).map(|c| a.confusion[c][c]).sum();
        assert_eq!(
            diagonal as f64 / 57.0,
            summary.final_test_acc.unwrap(),
            "{sets:?}: the diagonal is the run's own last test accuracy"
        );
        for (c, f) in a.classes.iter().enumerate() {
            let row: usize = a.confusion[c].iter().sum();
            assert_eq!(f.count, row);
            assert_eq!(f.recall, f.accuracy);
            assert!((0.0..=1.0).contains(&f.precision));
        }
        // Each cell lists its images, most confident first, with the right labels.
        for r in 0..K {
            for p in 0..K {
                let cell = a.cell(r, p);
                assert_eq!(cell.len(), a.confusion[r][p]);
                assert!(cell.windows(2).all(|w| w[0].confidence >= w[1].confidence));
                for pred in cell {
                    assert_eq!(data.test.labels()[pred.index as usize] as usize, r);
                    assert_eq!(pred.predicted as usize, p);
                }
            }
        }
        let json = a.to_json();
        assert_eq!(json["confusion"].as_array().unwrap().len(), 10);
        assert_eq!(json["classes"][3]["name"], "cat");
    }
}

#[test]
fn the_lr_finder_ramps_and_stops_when_the_loss_blows_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.tar.gz");
    write_archive(&path, &files(40, 20)).unwrap();
    let data = Dataset::load(&path).unwrap();
    let config = preset("mlp-default", &["batch_size=20"]);
    let mut seen = Vec::new();
    let finding = find_lr(
        &config,
        &data,
        &Compute::cpu(),
        Ramp::default(),
        None,
        &|| false,
        |i, lr, _| seen.push((i, lr)),
    )
    .unwrap();
    assert!(finding.points.len() > 30, "{} steps", finding.points.len());
    assert_eq!(seen.len(), finding.points.len());
    assert!(
        finding.points.windows(2).all(|w| w[1].0 > w[0].0),
        "lr rises"
    );
    assert!(finding.diverged, "a ramp to lr = 10 blows SGD up");
    assert!(finding.points.len() < 100);
    let s = finding.suggestion.expect("a suggestion");
    assert!(s > 1e-5 && s < 1.0, "suggested {s}");
}

#[test]
fn the_lr_finder_starts_from_a_copy_of_a_runs_model_and_leaves_the_run_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (data, runner) = tiny_runner(dir.path(), 20);
    let config = preset(
        "mlp-default",
        &["steps=12", "eval_every=6", "batch_size=20", "lr=3e-3"],
    );
    let handle = runner
        .start(
            RunRequest::new("mlp-default", config.clone(), None),
            Box::new(|_| {}),
        )
        .unwrap();
    let run_dir = handle.dir.clone();
    handle.wait();
    let last = run_dir.join(gradboard::train::checkpoint::LAST);
    let before = std::fs::read(&last).unwrap();
    let start = run_weights(&run_dir, Prefer::Newest).unwrap();
    assert_eq!(start.step, 12);
    assert_eq!(start.origin, last);
    let ramp = Ramp {
        start: 1e-7,
        end: 1e-6,
        steps: 5,
    };
    let first_loss = |start: Option<&Weights>| {
        find_lr(
            &config,
            &data,
            &Compute::cpu(),
            ramp,
            start,
            &|| false,
            |_, _, _| {},
        )
        .unwrap()
        .points[0]
            .1
    };
    let fresh = first_loss(None);
    let copied = first_loss(Some(&start));
    assert_ne!(fresh, copied, "the run's weights, not a fresh model");
    assert_eq!(copied, first_loss(Some(&start)), "the same copy each time");
    assert_eq!(
        std::fs::read(&last).unwrap(),
        before,
        "the run's files untouched"
    );
    // Weights of another network are refused with the file's name.
    let other = preset("mlp-default", &["hidden=50", "batch_size=20"]);
    let e = find_lr(
        &other,
        &data,
        &Compute::cpu(),
        ramp,
        Some(&start),
        &|| false,
        |_, _, _| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("checkpoint-last"), "{e}");
}
