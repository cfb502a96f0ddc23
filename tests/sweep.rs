//! Sweeps: grid expansion, seeded random draws, sweep files, the median pruner's decisions on
//! recorded curves, and a sweep trained through the runner on a small data set.

use gradboard::config::sweep::{find_sweep, grid_combinations, PrunerSpec, Range, SweepSpec};
use gradboard::config::PresetDirs;
use gradboard::data::synthetic::{files, write_archive};
use gradboard::data::Cifar10;
use gradboard::events::{Event, EventKind, RunStatus};
use gradboard::model::Compute;
use gradboard::runner::pruner::{MedianPruner, Verdict};
use gradboard::runner::sweep::{newest_sweep, read_sweep, start_sweep, QueueState, SweepCommand};
use gradboard::runner::Runner;
use gradboard::runs::{list_runs, StoredRun};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

fn presets() -> PresetDirs {
    PresetDirs {
        dirs: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("presets")],
    }
}

#[test]
fn a_grid_is_every_combination_and_list_keys_take_semicolons() {
    let mut spec = SweepSpec::new("t", "mlp-default");
    spec.add_grid("lr=1e-3,2e-3,4e-3").unwrap();
    spec.add_grid("optimizer=sgd,adam").unwrap();
    spec.add_grid("hidden=800,400;200,100").unwrap();
    assert_eq!(
        spec.grid[2],
        (
            "hidden".to_string(),
            vec!["800,400".to_string(), "200,100".to_string()]
        )
    );
    let runs = spec.expand(&presets()).unwrap();
    assert_eq!(runs.len(), 3 * 2 * 2);
    assert_eq!(runs[0].label, "lr=1e-3 optimizer=sgd hidden=800,400");
    assert_eq!(runs[11].label, "lr=4e-3 optimizer=adam hidden=200,100");
    let mut seen = std::collections::HashSet::new();
    for r in &runs {
        assert!(seen.insert((
            r.config.lr.to_bits(),
            r.config.optimizer,
            r.config.hidden.clone()
        )));
    }
    assert_eq!(runs[11].config.hidden, vec![200, 100]);
    assert_eq!(
        runs.iter().map(|r| r.index).collect::<Vec<_>>(),
        (0..12).collect::<Vec<_>>()
    );
    assert_eq!(grid_combinations(&[]), vec![Vec::new()]);
    // Values are checked when given.
    for bad in ["lr=0.1,-1", "optimizer=adam,nesterov", "nokey=1", "lr"] {
        assert!(
            SweepSpec::new("t", "mlp-default").add_grid(bad).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn random_draws_are_seeded_and_log_uniform_inside_the_range() {
    let mut spec = SweepSpec::new("t", "mlp-default");
    spec.random = 400;
    spec.ranges.push(Range::parse("lr=1e-4..1e-1:log").unwrap());
    spec.ranges.push(Range::parse("dropout=0..0.5").unwrap());
    spec.ranges.push(Range::parse("batch_size=16..64").unwrap());
    spec.seed = 7;
    let draws = spec.draws();
    assert_eq!(draws, spec.draws(), "same seed, same draws");
    let mut other = spec.clone();
    other.seed = 8;
    assert_ne!(draws, other.draws());
    let lrs: Vec<f64> = draws.iter().map(|d| d[0].1.parse().unwrap()).collect();
    assert!(lrs.iter().all(|&v| (1e-4..=1e-1).contains(&v)));
    // Log-uniform: each decade holds about a third of the draws.
    for (lo, hi) in [(1e-4, 1e-3), (1e-3, 1e-2), (1e-2, 1e-1)] {
        let n = lrs.iter().filter(|&&v| v >= lo && v < hi).count();
        assert!((100..170).contains(&n), "{n} of 400 in [{lo}, {hi})");
    }
    let drops: Vec<f64> = draws.iter().map(|d| d[1].1.parse().unwrap()).collect();
    assert!(drops.iter().all(|&v| (0.0..=0.5).contains(&v)));
    let below = drops.iter().filter(|&&v| v < 0.25).count();
    assert!(
        (160..240).contains(&below),
        "uniform: {below} of 400 below the middle"
    );
    assert!(
        draws.iter().all(|d| d[2].1.parse::<u64>().is_ok()),
        "integers stay whole"
    );
    let runs = spec.expand(&presets()).unwrap();
    assert_eq!(runs.len(), 400);
    assert_eq!(runs[3].config.lr, lrs[3]);
    for bad in [
        "lr=1..0.1",
        "lr=0..1:log",
        "optimizer=1..2",
        "lr=a..b",
        "dropout=0..2",
    ] {
        assert!(Range::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn sweep_files_and_the_shipped_ablation_expand() {
    let text = r#"
description = "d"
preset = "mlp-default"
prune = "median"
prune_warmup = 3
seed = 5
[set]
steps = 300
[grid]
lr = [1e-3, 2e-3]
hidden = ["800,400", "100"]
[random]
count = 2
dropout = "0..0.5"
[[runs]]
name = "explicit"
set = { optimizer = "adam" }
expected = 0.5
"#;
    let spec = SweepSpec::from_toml(text, "f", "f.toml").unwrap();
    assert_eq!(spec.prune.unwrap().warmup_evals, 3);
    let runs = spec.expand(&presets()).unwrap();
    assert_eq!(runs.len(), 1 + 2 * 2 * 2);
    assert_eq!(runs[0].label, "explicit");
    assert_eq!(runs[0].expected, Some(0.5));
    assert!(runs.iter().all(|r| r.config.steps == 300));
    // The spec kept in a sweep's folder reads back the same.
    let back = SweepSpec::from_toml(&spec.to_toml(), "f", "kept").unwrap();
    assert_eq!(back.expand(&presets()).unwrap(), runs);
    // Unknown entries are named; an empty grid, a count past the limit, an unknown pruner
    // are one line each, found before anything is planned.
    for (text, wanted) in [
        ("preset = \"mlp-default\"\nfoo = 1", "unknown field `foo`"),
        (
            "preset = \"mlp-default\"\n[[runs]]\nnmae = \"x\"",
            "unknown field `nmae`",
        ),
        ("[grid]\nlr = [1]", "preset"),
        ("preset = \"mlp-default\"\n[grid]", "grid: an empty table"),
        (
            "preset = \"mlp-default\"\n[random]\ncount = 1000000000\nlr = \"1e-4..1e-2\"",
            "1000000000 runs",
        ),
        (
            "preset = \"mlp-default\"\nprune = \"mean\"",
            "prune: unknown value \"mean\"",
        ),
    ] {
        let spec = SweepSpec::from_toml(text, "f", "f.toml");
        let e = match spec {
            Err(e) => e.to_string(),
            Ok(spec) => spec.expand(&presets()).unwrap_err().to_string(),
        };
        assert!(e.contains(wanted) && !e.contains('\n'), "{text}: {e}");
    }
    // A grid of 10^8 combinations is counted, not planned.
    let mut huge = SweepSpec::new("t", "mlp-default");
    for key in ["lr", "momentum", "weight_decay", "dropout"] {
        let values: Vec<String> = (1..=100).map(|i| format!("{}", i as f64 * 1e-3)).collect();
        huge.add_grid_values(key, values).unwrap();
    }
    let e = huge.expand(&presets()).unwrap_err().to_string();
    assert!(e.contains("100000000 runs"), "{e}");

    let ablation = find_sweep(&presets(), "lab-ablation").unwrap();
    let runs = ablation.expand(&presets()).unwrap();
    let expected: Vec<f64> = runs.iter().map(|r| r.expected.unwrap()).collect();
    assert_eq!(expected, vec![0.505, 0.534, 0.549, 0.576, 0.581, 0.293]);
    assert!(runs.iter().all(|r| r.config.steps == 1500));
    assert_eq!(runs[1].config.hidden, vec![512, 512]);
    // The first row is mlp-default's section-1 settings, the fifth the final MLP.
    assert_eq!(
        runs[0].config,
        presets().find("mlp-default").unwrap().config
    );
    assert_eq!(runs[4].config, presets().find("mlp-best").unwrap().config);
    assert_eq!(
        runs[5].config.optimizer,
        gradboard::config::OptimizerKind::Sgd
    );
    let e = find_sweep(&presets(), "nope").unwrap_err().to_string();
    assert!(e.contains("lab-ablation"), "{e}");
}

fn curve(points: &[(usize, f64)]) -> Vec<(usize, f64)> {
    points.to_vec()
}

#[test]
fn the_median_pruner_judges_against_completed_runs_at_the_same_step() {
    let mut pruner = MedianPruner::new(PrunerSpec {
        warmup_evals: 1,
        min_runs: 2,
    });
    let first = curve(&[(100, 0.30), (200, 0.40), (300, 0.45)]);
    assert!(
        matches!(pruner.judge(&first[..2]), Verdict::Waiting(_)),
        "no earlier runs"
    );
    pruner.record_completed(first);
    pruner.record_completed(curve(&[(100, 0.20), (200, 0.30), (300, 0.35)]));
    pruner.record_completed(curve(&[(100, 0.25), (200, 0.36), (300, 0.38)]));
    // Warm-up: the first evaluation is never judged, however bad.
    assert!(matches!(
        pruner.judge(&curve(&[(100, 0.01)])),
        Verdict::Waiting(_)
    ));
    // At step 200 the median of 0.40, 0.30, 0.36 is 0.36.
    let v = pruner.judge(&curve(&[(100, 0.2), (200, 0.35)]));
    assert!(matches!(v, Verdict::Prune(_)), "{v:?}");
    assert!(
        v.text().contains("step 200") && v.text().contains("0.3600"),
        "{}",
        v.text()
    );
    assert!(matches!(
        pruner.judge(&curve(&[(100, 0.2), (200, 0.36)])),
        Verdict::Keep(_)
    ));
    // The best figure so far counts (Optuna's rule): an earlier high keeps a dip.
    // At step 300 the median of 0.45, 0.35, 0.38 is 0.38.
    assert!(matches!(
        pruner.judge(&curve(&[(100, 0.2), (200, 0.39), (300, 0.30)])),
        Verdict::Keep(_)
    ));
    assert!(matches!(
        pruner.judge(&curve(&[(100, 0.2), (200, 0.37), (300, 0.30)])),
        Verdict::Prune(_)
    ));
    // A step no earlier run reached is not judged.
    assert!(matches!(
        pruner.judge(&curve(&[(100, 0.2), (250, 0.0)])),
        Verdict::Waiting(_)
    ));
}

/// A sweep of three runs through the runner, the last cancelled while the first trains: two
/// runs start and end, each naming its sweep; the cancelled one never starts; the sweep's
/// folder has its spec and results.
#[test]
fn a_cancelled_queued_run_never_starts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.tar.gz");
    write_archive(&path, &files(40, 50)).unwrap();
    let data = Arc::new(Cifar10::load(&path).unwrap());
    let runs_dir = dir.path().join("runs");
    let runner = Runner::new(data, &path, &runs_dir, Compute::cpu(), 1);
    let mut spec = SweepSpec::new("t", "mlp-default");
    spec.set = vec![
        "steps=30".into(),
        "eval_every=10".into(),
        "batch_size=20".into(),
    ];
    spec.add_grid("lr=1e-3,2e-3,3e-3").unwrap();
    let planned = spec.expand(&presets()).unwrap();
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let sink = events.clone();
    let sweep = start_sweep(
        &runner,
        &spec,
        planned,
        1,
        Box::new(move |e| sink.lock().unwrap().push(e.clone())),
    )
    .unwrap();
    sweep.send(SweepCommand::Cancel(2));
    let sweep_dir = sweep.dir.clone();
    let state = sweep.wait();
    assert!(state.finished);
    assert_eq!(state.queue[2].state, QueueState::Cancelled);
    for e in &state.queue[..2] {
        assert!(
            matches!(
                e.state,
                QueueState::Ended {
                    status: RunStatus::Completed,
                    ..
                }
            ),
            "{:?}",
            e.state
        );
        assert_eq!(e.curve.len(), 3);
    }
    let listed = list_runs(&runs_dir).unwrap();
    assert_eq!(listed.len(), 2, "the cancelled run has no folder");
    for record in &listed {
        let run = StoredRun::load(&runs_dir.join(&record.run_id)).unwrap();
        let sweep_ref = run.start().unwrap().sweep.clone().unwrap();
        assert_eq!(sweep_ref.id, state.id);
        assert!(sweep_ref.index < 2);
    }
    let starts = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Start(_)))
        .count();
    assert_eq!(starts, 2);
    assert!(sweep_dir.join("sweep.toml").is_file());
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sweep_dir.join("results.json")).unwrap())
            .unwrap();
    assert_eq!(results["results"].as_array().unwrap().len(), 2);
    let md = std::fs::read_to_string(sweep_dir.join("results.md")).unwrap();
    assert!(md.contains("lr=2e-3"), "{md}");
}

/// A sweep killed outright leaves `running` in its results: read back while no process holds
/// its lock, the running run is what its folder says (crashed: no done) and the queue is
/// cancelled; while its process lives, the results are taken as they are.
#[test]
fn a_sweep_killed_outright_is_reconciled_with_its_runs_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.tar.gz");
    write_archive(&path, &files(40, 50)).unwrap();
    let data = Arc::new(Cifar10::load(&path).unwrap());
    let runs_dir = dir.path().join("runs");
    let runner = Runner::new(data, &path, &runs_dir, Compute::cpu(), 1);
    let mut spec = SweepSpec::new("t", "mlp-default");
    spec.set = vec![
        "steps=10".into(),
        "eval_every=10".into(),
        "batch_size=20".into(),
    ];
    spec.add_grid("lr=1e-3,2e-3,3e-3").unwrap();
    let planned = spec.expand(&presets()).unwrap();
    let sweep = start_sweep(&runner, &spec, planned, 1, Box::new(|_| {})).unwrap();
    let sweep_dir = sweep.dir.clone();
    let state = sweep.wait();
    // Rewrite the results as a kill during the second run leaves them, and that run's
    // folder as the kill leaves it (no done).
    let run_id = state.queue[1].run_id().unwrap().to_string();
    let run_dir = runs_dir.join(&run_id);
    std::fs::remove_file(run_dir.join("summary.json")).unwrap();
    let events = std::fs::read_to_string(run_dir.join("events.jsonl")).unwrap();
    let kept: Vec<&str> = events.lines().filter(|l| !l.contains("\"done\"")).collect();
    std::fs::write(run_dir.join("events.jsonl"), kept.join("\n") + "\n").unwrap();
    let mut results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sweep_dir.join("results.json")).unwrap())
            .unwrap();
    results["finished"] = false.into();
    results["queue"][1]["state"] = "running".into();
    results["queue"][2] = serde_json::json!({
        "index": 2, "label": "lr=3e-3", "swept": [["lr", "3e-3"]], "state": "pending",
        "step": 0, "steps": 10, "curve": [], "best_test_acc": null, "final_test_acc": null,
        "seconds": null, "expected": null, "pruner": null, "pruned_at": null
    });
    std::fs::write(sweep_dir.join("results.json"), results.to_string()).unwrap();
    let read = read_sweep(&sweep_dir).unwrap();
    assert!(read.finished);
    assert_eq!(read.queue[1].state, QueueState::Crashed { run_id });
    assert_eq!(read.queue[2].state, QueueState::Cancelled);
    assert!(matches!(read.queue[0].state, QueueState::Ended { .. }));
    assert_eq!(newest_sweep(&runs_dir), Some(sweep_dir.clone()));
    // While a process holds the sweep, its results are its own word.
    let lock = std::fs::File::open(sweep_dir.join("sweep.lock")).unwrap();
    lock.try_lock().unwrap();
    let read = read_sweep(&sweep_dir).unwrap();
    assert!(!read.finished);
    assert!(matches!(read.queue[1].state, QueueState::Running { .. }));
}
