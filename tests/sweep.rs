//! Sweeps: grid expansion, seeded random draws, sweep files, the validation split a sweep
//! holds out, and sweeps trained through the runner on a small data set: cancelling, a kill
//! reconciled from the folder, groups of seeds, TPE with successive halving read back by
//! `read_sweep` (what `sweep show` prints).

use gradboard::config::sweep::{
    find_sweep, grid_combinations, Objective, ObjectiveAt, PrunerSpec, Range, SamplerKind,
    SweepPlan, SweepSpec, SWEEP_VAL_SPLIT,
};
use gradboard::config::PresetDirs;
use gradboard::data::synthetic::{files, write_archive};
use gradboard::data::Dataset;
use gradboard::events::{Event, EventKind, RunStatus};
use gradboard::model::Compute;
use gradboard::runner::sweep::{
    newest_sweep, read_sweep, start_sweep, QueueState, RungRecord, SweepCommand, SweepHandle,
    SweepStatus,
};
use gradboard::runner::Runner;
use gradboard::runs::{list_runs, StoredRun};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

fn presets() -> PresetDirs {
    PresetDirs {
        dirs: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("presets")],
    }
}

/// Every planned run of a spec with fixed configurations.
fn planned(spec: SweepSpec) -> Vec<gradboard::config::sweep::PlannedRun> {
    let plan = SweepPlan::new(spec, &presets()).unwrap();
    (0..plan.trials())
        .map(|i| {
            let (g, _) = plan.locate(i);
            plan.run(i, plan.fixed(g).unwrap()).unwrap()
        })
        .collect()
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
    let runs = planned(spec);
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
    // Values are checked when given; a key is swept once; seed and val_split never.
    for bad in [
        "lr=0.1,-1",
        "optimizer=adam,adagrad",
        "nokey=1",
        "lr",
        "seed=1,2",
        "val_split=0,5000",
    ] {
        assert!(
            SweepSpec::new("t", "mlp-default").add_grid(bad).is_err(),
            "{bad}"
        );
    }
    let mut twice = SweepSpec::new("t", "mlp-default");
    twice.add_grid("lr=1e-3").unwrap();
    let e = twice.add_choice("lr=1e-3,2e-3").unwrap_err().to_string();
    assert!(e.contains("swept twice"), "{e}");
}

#[test]
fn random_draws_are_seeded_and_log_uniform_inside_the_range() {
    let mut spec = SweepSpec::new("t", "mlp-default");
    spec.sampler = SamplerKind::Random;
    spec.trials = 400;
    spec.add_range(Range::parse("lr=1e-4..1e-1:log").unwrap())
        .unwrap();
    spec.add_range(Range::parse("dropout=0..0.5").unwrap())
        .unwrap();
    spec.add_range(Range::parse("batch_size=16..64").unwrap())
        .unwrap();
    spec.add_choice("optimizer=sgd,adam").unwrap();
    spec.seed = 7;
    let draws = |spec: &SweepSpec| -> Vec<Vec<(String, String)>> {
        planned(spec.clone()).into_iter().map(|r| r.swept).collect()
    };
    let first = draws(&spec);
    assert_eq!(first, draws(&spec), "same seed, same draws");
    let mut other = spec.clone();
    other.seed = 8;
    assert_ne!(first, draws(&other));
    let lrs: Vec<f64> = first.iter().map(|d| d[0].1.parse().unwrap()).collect();
    assert!(lrs.iter().all(|&v| (1e-4..=1e-1).contains(&v)));
    // Log-uniform: each decade holds about a third of the draws.
    for (lo, hi) in [(1e-4, 1e-3), (1e-3, 1e-2), (1e-2, 1e-1)] {
        let n = lrs.iter().filter(|&&v| v >= lo && v < hi).count();
        assert!((100..170).contains(&n), "{n} of 400 in [{lo}, {hi})");
    }
    let drops: Vec<f64> = first.iter().map(|d| d[1].1.parse().unwrap()).collect();
    assert!(drops.iter().all(|&v| (0.0..=0.5).contains(&v)));
    let below = drops.iter().filter(|&&v| v < 0.25).count();
    assert!(
        (160..240).contains(&below),
        "uniform: {below} of 400 below the middle"
    );
    assert!(
        first.iter().all(|d| d[2].1.parse::<u64>().is_ok()),
        "integers stay whole"
    );
    let adam = first.iter().filter(|d| d[3].1 == "adam").count();
    assert!((160..240).contains(&adam), "choices drawn evenly: {adam}");
    let runs = planned(spec);
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
    assert!(matches!(spec.prune, Some(PrunerSpec::Median(m)) if m.warmup_evals == 3));
    assert_eq!(spec.sampler, SamplerKind::Random);
    let runs = planned(spec.clone());
    assert_eq!(runs.len(), 1 + 2 * 2 * 2);
    assert_eq!(runs[0].label, "explicit");
    assert_eq!(runs[0].expected, Some(0.5));
    assert!(runs.iter().all(|r| r.config.steps == 300));
    // The spec kept in a sweep's folder reads back the same.
    let back = SweepSpec::from_toml(&spec.to_toml(), "f", "kept").unwrap();
    assert_eq!(planned(back), runs);
    // The search keys: a TPE sweep with ranges, choices, seeds and successive halving.
    let tpe = r#"
preset = "mlp-default"
sampler = "tpe"
trials = 24
seeds = 3
prune = "asha"
prune_reduction = 3
[set]
steps = 600
[range]
lr = "1e-4..1e-1:log"
momentum = "0.5..0.99"
[choice]
batch_size = [64, 128, 256]
"#;
    let spec = SweepSpec::from_toml(tpe, "t", "t.toml").unwrap();
    assert_eq!(
        (spec.sampler, spec.trials, spec.seeds),
        (SamplerKind::Tpe, 24, 3)
    );
    assert_eq!(spec.run_count().unwrap(), 72);
    assert_eq!(
        spec.prune,
        Some(PrunerSpec::Asha {
            eta: 3,
            min_steps: None
        })
    );
    assert_eq!(spec.swept_keys(), ["lr", "momentum", "batch_size"]);
    assert_eq!(
        SweepSpec::from_toml(&spec.to_toml(), "t", "kept").unwrap(),
        {
            let mut s = spec.clone();
            s.description = String::new();
            s
        }
    );
    // Unknown entries are named; an empty grid, a count past the limit, an unknown pruner, a
    // sampler without what it needs are one line each, found before anything is planned.
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
        (
            "preset = \"mlp-default\"\nsampler = \"tpe\"\ntrials = 4",
            "at least one --range or --choice",
        ),
        (
            "preset = \"mlp-default\"\nsampler = \"tpe\"\n[range]\nlr = \"1e-4..1e-2\"",
            "number of trials",
        ),
        (
            "preset = \"mlp-default\"\nsampler = \"tpe\"\ntrials = 2\n[range]\nlr = \"1e-4..1e-2\"\n[grid]\nmomentum = [0.9]",
            "--choice",
        ),
        (
            "preset = \"mlp-default\"\nprune = \"asha\"\nprune_warmup = 2\n[grid]\nlr = [1e-3]",
            "option of --prune median",
        ),
        (
            "preset = \"mlp-default\"\nseeds = 0\n[grid]\nlr = [1e-3]",
            "seeds 0",
        ),
    ] {
        let spec = SweepSpec::from_toml(text, "f", "f.toml");
        let e = match spec {
            Err(e) => e.to_string(),
            Ok(spec) => SweepPlan::new(spec, &presets()).unwrap_err().to_string(),
        };
        assert!(e.contains(wanted) && !e.contains('\n'), "{text}: {e}");
    }
    // A grid of 10^8 combinations is counted, not planned.
    let mut huge = SweepSpec::new("t", "mlp-default");
    for key in ["lr", "momentum", "weight_decay", "dropout"] {
        let values: Vec<String> = (1..=100).map(|i| format!("{}", i as f64 * 1e-3)).collect();
        huge.add_grid_values(key, values).unwrap();
    }
    let e = SweepPlan::new(huge, &presets()).unwrap_err().to_string();
    assert!(e.contains("100000000 runs"), "{e}");

    let ablation = find_sweep(&presets(), "lab-ablation").unwrap();
    let plan = SweepPlan::new(ablation.clone(), &presets()).unwrap();
    assert_eq!(
        plan.objective(),
        Objective::TestAcc,
        "the report's protocol"
    );
    let runs = planned(ablation);
    let expected: Vec<f64> = runs.iter().map(|r| r.expected.unwrap()).collect();
    assert_eq!(expected, vec![0.505, 0.534, 0.549, 0.576, 0.581, 0.293]);
    assert!(runs.iter().all(|r| r.config.steps == 1500));
    assert!(runs.iter().all(|r| r.config.val_split == 0));
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

#[test]
fn a_sweep_holds_images_out_and_chooses_on_them_unless_it_says_otherwise() {
    let mut spec = SweepSpec::new("t", "mlp-default");
    spec.add_grid("lr=1e-3,2e-3").unwrap();
    let plan = SweepPlan::new(spec.clone(), &presets()).unwrap();
    assert_eq!(plan.objective(), Objective::ValAcc);
    let run = plan.run(0, plan.fixed(0).unwrap()).unwrap();
    assert_eq!(run.config.val_split, SWEEP_VAL_SPLIT);
    // A data set too small for 5000 takes a tenth of its images, and says so.
    let mut small = plan.clone();
    let notice = small.fit(200).unwrap();
    assert!(notice.contains("holds out 20"), "{notice}");
    assert_eq!(
        small
            .run(0, small.fixed(0).unwrap())
            .unwrap()
            .config
            .val_split,
        20
    );
    let mut own = spec.clone();
    own.set.push("val_split=0".into());
    let plan = SweepPlan::new(own, &presets()).unwrap();
    assert_eq!(plan.objective(), Objective::TestAcc);
    assert_eq!(
        plan.run(0, plan.fixed(0).unwrap())
            .unwrap()
            .config
            .val_split,
        0
    );
    // Seeds: configuration g's runs are g*K .. g*K+K-1, seeds counting on from the preset's.
    spec.seeds = 3;
    let runs = planned(spec);
    assert_eq!(runs.len(), 6);
    let seed = presets().find("mlp-default").unwrap().config.seed;
    assert_eq!(
        runs.iter()
            .map(|r| (r.group, r.config.seed))
            .collect::<Vec<_>>(),
        [0, 0, 0, 1, 1, 1]
            .iter()
            .zip([0, 1, 2, 0, 1, 2])
            .map(|(&g, s)| (g, seed + s))
            .collect::<Vec<_>>()
    );
    assert_eq!(runs[4].label, format!("lr=2e-3 seed={}", seed + 1));
}

/// A runner on 200 training and 50 test images, one thread.
fn tiny_runner(dir: &Path) -> (Runner, PathBuf) {
    let path = dir.join("tiny.tar.gz");
    write_archive(&path, &files(40, 50)).unwrap();
    let data = Arc::new(Dataset::load(&path).unwrap());
    let runs_dir = dir.join("runs");
    (
        Runner::new(data, &path, &runs_dir, Compute::cpu(), 1),
        runs_dir,
    )
}

/// A small sweep's spec: `steps` of batches of 20, an evaluation every 10.
/// Starts `plan` one run at a time, every event it sends kept in the returned list.
fn start_recording(runner: &Runner, plan: SweepPlan) -> (SweepHandle, Arc<Mutex<Vec<Event>>>) {
    let events: Arc<Mutex<Vec<Event>>> = Arc::default();
    let sink = events.clone();
    let sweep = start_sweep(
        runner,
        plan,
        1,
        Box::new(move |e| sink.lock().unwrap().push(e.clone())),
    )
    .unwrap();
    (sweep, events)
}

fn small_spec(steps: usize) -> SweepSpec {
    let mut spec = SweepSpec::new("t", "mlp-default");
    spec.set = vec![
        format!("steps={steps}"),
        "eval_every=10".into(),
        "batch_size=20".into(),
    ];
    spec
}

/// A sweep of three runs through the runner, the last cancelled while the first trains: two
/// runs start and end, each naming its sweep; the cancelled one never starts; the sweep's
/// folder has its spec and results.
#[test]
fn a_cancelled_queued_run_never_starts() {
    let dir = tempfile::tempdir().unwrap();
    let (runner, runs_dir) = tiny_runner(dir.path());
    let mut spec = small_spec(30);
    spec.add_grid("lr=1e-3,2e-3,3e-3").unwrap();
    let plan = SweepPlan::new(spec, &presets()).unwrap();
    let (sweep, events) = start_recording(&runner, plan);
    sweep.send(SweepCommand::Cancel(2));
    let sweep_dir = sweep.dir.clone();
    let (state, failed) = sweep.wait();
    failed.expect("no sweep thread fails");
    assert!(state.finished);
    assert_eq!(state.status, SweepStatus::Cancelled);
    assert_eq!(state.queue[2].state, QueueState::Cancelled);
    // 200 training images: the sweep held a tenth out and chose on them.
    assert_eq!(state.objective, Some(Objective::ValAcc));
    assert!(state
        .notice
        .as_deref()
        .unwrap_or("")
        .contains("holds out 20"));
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
        assert!(e.best.is_some() && e.best_test_acc.is_some());
    }
    let listed = list_runs(&runs_dir).unwrap();
    assert_eq!(listed.len(), 2, "the cancelled run has no folder");
    for record in &listed {
        let run = StoredRun::load(&runs_dir.join(&record.run_id)).unwrap();
        let sweep_ref = run.start().unwrap().sweep.clone().unwrap();
        assert_eq!(sweep_ref.id, state.id);
        assert!(sweep_ref.index < 2);
        assert_eq!(sweep_ref.group, Some(sweep_ref.index));
        assert_eq!(run.start().unwrap().train_size, 180);
    }
    let starts = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Start(_)))
        .count();
    assert_eq!(starts, 2);
    for file in [
        "sweep.toml",
        "plan.json",
        "parallel.svg",
        "parallel.png",
        "history.svg",
        "history.png",
    ] {
        assert!(sweep_dir.join(file).is_file(), "{file}");
    }
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sweep_dir.join("results.json")).unwrap())
            .unwrap();
    assert_eq!(results["results"].as_array().unwrap().len(), 2);
    assert_eq!(results["objective"], "val_acc");
    let md = std::fs::read_to_string(sweep_dir.join("results.md")).unwrap();
    assert!(
        md.contains("lr=2e-3") && md.contains("best val acc"),
        "{md}"
    );
    assert!(md.contains("never used to choose"), "{md}");
    assert!(md.contains("](history.svg)"), "{md}");
    // The history: each trial's figure, and the best so far never falls.
    let best = state.best_so_far();
    assert_eq!(best.len(), 2);
    assert!(best[1].1 >= best[0].1 && best[1].1 == state.best_run().unwrap().value.unwrap());
}

/// A sweep killed outright: read back while no process holds its lock, a started run
/// without `done` is crashed and what never started is cancelled; while its process lives,
/// the same run is running.
#[test]
fn a_sweep_killed_outright_is_reconciled_with_its_runs_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let (runner, runs_dir) = tiny_runner(dir.path());
    let mut spec = small_spec(10);
    spec.add_grid("lr=1e-3,2e-3,3e-3").unwrap();
    let plan = SweepPlan::new(spec, &presets()).unwrap();
    let sweep = start_sweep(&runner, plan, 1, Box::new(|_| {})).unwrap();
    let sweep_dir = sweep.dir.clone();
    let (state, failed) = sweep.wait();
    failed.expect("no sweep thread fails");
    assert_eq!(state.status, SweepStatus::Finished);
    // The folders as a kill during the second run leaves them: its run without `done`, the
    // third never started.
    let run_id = state.queue[1].run_id().unwrap().to_string();
    let run_dir = runs_dir.join(&run_id);
    std::fs::remove_file(run_dir.join("summary.json")).unwrap();
    let events = std::fs::read_to_string(run_dir.join("events.jsonl")).unwrap();
    let kept: Vec<&str> = events.lines().filter(|l| !l.contains("\"done\"")).collect();
    std::fs::write(run_dir.join("events.jsonl"), kept.join("\n") + "\n").unwrap();
    std::fs::remove_file(sweep_dir.join("trials/000002.json")).unwrap();
    let read = read_sweep(&sweep_dir).unwrap();
    assert!(read.finished);
    assert_eq!(read.status, SweepStatus::Cancelled);
    assert_eq!(read.queue[1].state, QueueState::Crashed { run_id });
    assert_eq!(read.queue[2].state, QueueState::Cancelled);
    assert!(matches!(read.queue[0].state, QueueState::Ended { .. }));
    assert_eq!(newest_sweep(&runs_dir), Some(sweep_dir.clone()));
    // While processes hold the sweep and the run, they are running.
    let lock = std::fs::File::open(sweep_dir.join("sweep.lock")).unwrap();
    lock.try_lock().unwrap();
    let run_lock = std::fs::File::open(run_dir.join("run.lock")).unwrap();
    run_lock.try_lock().unwrap();
    let read = read_sweep(&sweep_dir).unwrap();
    assert!(!read.finished);
    assert_eq!(read.status, SweepStatus::Running);
    assert!(matches!(read.queue[1].state, QueueState::Running { .. }));
    assert_eq!(read.queue[2].state, QueueState::Pending);
}

/// Three seeds of two configurations: six runs, two groups whose n, mean and standard
/// deviation are those of their runs' figures.
#[test]
fn runs_that_differ_only_by_seed_form_one_group() {
    let dir = tempfile::tempdir().unwrap();
    let (runner, _) = tiny_runner(dir.path());
    let mut spec = small_spec(20);
    spec.add_grid("lr=1e-3,3e-3").unwrap();
    spec.seeds = 3;
    let plan = SweepPlan::new(spec, &presets()).unwrap();
    let sweep = start_sweep(&runner, plan, 2, Box::new(|_| {})).unwrap();
    let sweep_dir = sweep.dir.clone();
    let (state, failed) = sweep.wait();
    failed.expect("no sweep thread fails");
    assert_eq!(state.queue.len(), 6);
    assert_eq!(state.groups.len(), 2);
    for g in &state.groups {
        let members: Vec<_> = g.runs.iter().map(|&i| &state.queue[i]).collect();
        assert_eq!(members.len(), 3);
        assert!(members.iter().all(|e| e.group == g.group));
        let seeds: std::collections::BTreeSet<String> = members
            .iter()
            .map(|e| e.swept.iter().find(|(k, _)| k == "seed").unwrap().1.clone())
            .collect();
        assert_eq!(seeds.len(), 3, "three different seeds");
        let best: Vec<f64> = members.iter().map(|e| e.best.unwrap()).collect();
        let mean = best.iter().sum::<f64>() / 3.0;
        let std = (best.iter().map(|b| (b - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
        assert_eq!(g.n, 3);
        assert!((g.best_mean.unwrap() - mean).abs() < 1e-12);
        assert!((g.best_std.unwrap() - std).abs() < 1e-12);
        let finals: Vec<f64> = members.iter().map(|e| e.final_test_acc.unwrap()).collect();
        assert!((g.final_mean.unwrap() - finals.iter().sum::<f64>() / 3.0).abs() < 1e-12);
        assert_eq!(
            g.settings.len(),
            1,
            "the seed is not a setting of the group"
        );
    }
    let shown = read_sweep(&sweep_dir).unwrap().show_json();
    assert_eq!(shown["groups"].as_array().unwrap().len(), 2);
    assert_eq!(shown["groups"][0]["n"], 3);
    assert!(shown["trials"][1]["settings"]["seed"].is_number());
    assert!(shown["groups"][0]["settings"].get("seed").is_none());
}

/// TPE over lr and a choice with successive halving, two runs at a time: every run's
/// configuration is in the folder before its run, the first ten are random start-up draws
/// and the rest TPE's; each rung decision is recorded with its cutoff and figure, and a
/// pruned run's `prune` event says them; `sweep show`'s object has the contract's fields; the
/// same seed gives the same configurations.
#[test]
fn a_tpe_sweep_with_successive_halving_is_read_back_from_its_folder() {
    let run = |seed: u64| {
        let dir = tempfile::tempdir().unwrap();
        let (runner, runs_dir) = tiny_runner(dir.path());
        let mut spec = small_spec(40);
        spec.sampler = SamplerKind::Tpe;
        spec.trials = 14;
        spec.seed = seed;
        spec.add_range(Range::parse("lr=1e-5..1e-1:log").unwrap())
            .unwrap();
        spec.add_choice("optimizer=sgd,adam").unwrap();
        spec.prune = Some(PrunerSpec::Asha {
            eta: 2,
            min_steps: Some(10),
        });
        let plan = SweepPlan::new(spec, &presets()).unwrap();
        let (sweep, events) = start_recording(&runner, plan);
        let sweep_dir = sweep.dir.clone();
        let (state, failed) = sweep.wait();
        failed.expect("no sweep thread fails");
        let events = events.lock().unwrap().clone();
        (dir, runs_dir, sweep_dir, state, events)
    };
    let (_dir, runs_dir, sweep_dir, state, events) = run(3);
    assert_eq!(state.queue.len(), 14);
    let sources: Vec<&str> = state.queue.iter().map(|e| e.source.as_str()).collect();
    assert_eq!(&sources[..10], &["startup"; 10]);
    assert_eq!(&sources[10..], &["tpe"; 4]);
    // Each run's settings are its configuration's, written before it started.
    for e in &state.queue {
        let record: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(sweep_dir.join(format!("groups/{:06}.json", e.group)))
                .unwrap(),
        )
        .unwrap();
        let run = StoredRun::load(&runs_dir.join(e.run_id().unwrap())).unwrap();
        let lr = record["swept"][0][1].as_str().unwrap();
        assert_eq!(run.start().unwrap().config.lr, lr.parse::<f64>().unwrap());
        let group_written =
            std::fs::metadata(sweep_dir.join(format!("groups/{:06}.json", e.group)))
                .unwrap()
                .modified()
                .unwrap();
        let run_made = std::fs::metadata(runs_dir.join(e.run_id().unwrap()).join("config.toml"))
            .unwrap()
            .modified()
            .unwrap();
        assert!(
            group_written <= run_made,
            "run {} before its settings",
            e.index
        );
    }
    // Rungs at 10, 20, 40 (40 is the last step: never judged): every decision recorded.
    let rungs: Vec<RungRecord> = std::fs::read_to_string(sweep_dir.join("rungs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rungs.iter().all(|r| r.rung_step == 10 || r.rung_step == 20));
    let pruned: Vec<&RungRecord> = rungs.iter().filter(|r| !r.promoted).collect();
    assert!(!pruned.is_empty(), "halving prunes some of 14 runs");
    for r in &pruned {
        assert!(r.value < r.cutoff);
        let e = &state.queue[r.index];
        assert_eq!(e.pruned_at, Some(r.step));
        let prune = events
            .iter()
            .find_map(|ev| match &ev.kind {
                EventKind::Prune { reason, .. } if Some(ev.run_id.as_str()) == e.run_id() => {
                    Some(reason.clone())
                }
                _ => None,
            })
            .unwrap();
        assert!(
            prune.contains(&format!("rung {}", r.rung))
                && prune.contains(&format!("{:.4}", r.cutoff)),
            "{prune}"
        );
    }
    // The first run at a rung goes on (nothing to compare with).
    assert!(rungs[0].promoted);
    let shown = read_sweep(&sweep_dir).unwrap().show_json();
    for key in [
        "sweep_id",
        "status",
        "trials",
        "objective",
        "groups",
        "importance",
        "steps_spent",
        "steps_unpruned",
    ] {
        assert!(shown.get(key).is_some(), "{key}");
    }
    assert_eq!(shown["status"], "finished");
    assert_eq!(shown["objective"], "val_acc");
    let trial = &shown["trials"][0];
    for key in [
        "index",
        "group",
        "run_id",
        "status",
        "settings",
        "step",
        "best",
        "best_val_acc",
        "best_test_acc",
        "final_test_acc",
    ] {
        assert!(trial.get(key).is_some(), "trial {key}");
    }
    let shares: f64 = shown["importance"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((shares - 1.0).abs() < 1e-9);
    let (spent, unpruned) = (
        shown["steps_spent"].as_u64().unwrap(),
        shown["steps_unpruned"].as_u64().unwrap(),
    );
    assert!(
        spent < unpruned && unpruned == 14 * 40,
        "{spent} {unpruned}"
    );
    // The same seed, the same configurations.
    let again = run(3).3;
    let settings = |s: &gradboard::runner::sweep::SweepState| -> Vec<Vec<(String, String)>> {
        s.queue.iter().map(|e| e.swept.clone()).collect()
    };
    assert_eq!(settings(&state), settings(&again));
}

/// `sweep cancel` on the folder of a sweep this process runs: its running run stops (and keeps
/// its checkpoint), the queue is cancelled, and the sweep reads as cancelled.
#[test]
fn cancelling_a_sweep_from_its_folder_stops_its_process() {
    use gradboard::runner::sweep::cancel_sweep;
    let dir = tempfile::tempdir().unwrap();
    let (runner, _) = tiny_runner(dir.path());
    let mut spec = small_spec(100_000);
    spec.add_grid("lr=1e-3,2e-3,3e-3").unwrap();
    let plan = SweepPlan::new(spec, &presets()).unwrap();
    let sweep = start_sweep(&runner, plan, 1, Box::new(|_| {})).unwrap();
    let sweep_dir = sweep.dir.clone();
    while sweep.state().queue[0].step < 50 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let said = cancel_sweep(&sweep_dir).unwrap();
    assert!(said.contains("the process that runs it"), "{said}");
    let (state, failed) = sweep.wait();
    failed.expect("no sweep thread fails");
    assert_eq!(state.status, SweepStatus::Cancelled);
    assert!(matches!(
        state.queue[0].state,
        QueueState::Ended {
            status: RunStatus::Stopped,
            ..
        }
    ));
    assert_eq!(state.queue[1].state, QueueState::Cancelled);
    assert_eq!(state.queue[2].state, QueueState::Cancelled);
    let e = cancel_sweep(dir.path()).unwrap_err().to_string();
    assert!(e.contains("not a sweep folder"), "{e}");
}

/// TPE over lr (1e-4 to 0.1, log) with successive halving (eta 2, first rung at step 10):
/// `trials` configurations of `seeds` seeds, `steps` steps each.
fn tpe_halving(steps: usize, trials: usize, seeds: usize) -> SweepSpec {
    let mut spec = small_spec(steps);
    spec.sampler = SamplerKind::Tpe;
    spec.trials = trials;
    spec.seeds = seeds;
    spec.add_range(Range::parse("lr=1e-4..1e-1:log").unwrap())
        .unwrap();
    spec.prune = Some(PrunerSpec::Asha {
        eta: 2,
        min_steps: Some(10),
    });
    spec
}

/// Successive halving with seeds: every decision in `rungs.jsonl`, replayed in the order it
/// was taken, equals one recomputed from the runs' own `eval` events, each configuration's
/// figure the mean of its runs' own values counted once (not a mean of running means).
#[test]
fn halving_with_seeds_averages_each_runs_own_figure_once() {
    let dir = tempfile::tempdir().unwrap();
    let (runner, runs_dir) = tiny_runner(dir.path());
    let plan = SweepPlan::new(tpe_halving(40, 4, 3), &presets()).unwrap();
    let (sweep, _events) = start_recording(&runner, plan);
    let sweep_dir = sweep.dir.clone();
    let (state, failed) = sweep.wait();
    failed.expect("no sweep thread fails");
    // Each run's validation accuracy at each evaluated step, from its own events.
    let own = |index: usize, step: usize| -> f64 {
        let run_id = state.queue[index].run_id().unwrap();
        let run = StoredRun::load(&runs_dir.join(run_id)).unwrap();
        run.history()
            .iter()
            .find_map(|e| match &e.kind {
                EventKind::Eval {
                    step: s, val_acc, ..
                } if *s == step => *val_acc,
                _ => None,
            })
            .unwrap()
    };
    let rungs: Vec<RungRecord> = std::fs::read_to_string(sweep_dir.join("rungs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rungs.len() >= 8, "{} decisions", rungs.len());
    let mut several = false;
    for (n, r) in rungs.iter().enumerate() {
        let earlier = &rungs[..n];
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let mut mine: Vec<f64> = earlier
            .iter()
            .filter(|e| e.group == r.group && e.rung == r.rung)
            .map(|e| own(e.index, e.step))
            .collect();
        mine.push(own(r.index, r.step));
        let figure = mean(&mine);
        let mut groups: std::collections::BTreeMap<usize, Vec<f64>> = Default::default();
        for e in earlier
            .iter()
            .filter(|e| e.rung == r.rung && e.group != r.group)
        {
            groups
                .entry(e.group)
                .or_default()
                .push(own(e.index, e.step));
        }
        several |= groups.values().any(|v| v.len() > 1);
        let mut figures: Vec<f64> = groups.values().map(|v| mean(v)).collect();
        figures.push(figure);
        figures.sort_by(|a, b| b.total_cmp(a));
        let keep = (figures.len() / 2).max(1);
        let cutoff = figures[keep - 1];
        let what = format!("decision {n} (run {}, rung {}): {r:?}", r.index, r.rung);
        assert!((r.value - figure).abs() < 1e-12, "figure {figure}: {what}");
        assert!((r.cutoff - cutoff).abs() < 1e-12, "cutoff {cutoff}: {what}");
        assert_eq!(r.promoted, figure >= cutoff, "{what}");
        assert_eq!(r.competitors, figures.len(), "{what}");
        assert_eq!(r.run_value, Some(own(r.index, r.step)), "{what}");
    }
    assert!(
        several,
        "some cutoff compared a configuration of several seeds"
    );
}

/// A run lost with its process (no `done`, no lock) stops its clock at its last event: its
/// seconds and the sweep's budget read the same however long after the kill they are read.
#[test]
fn a_crashed_runs_seconds_end_at_its_last_event() {
    let dir = tempfile::tempdir().unwrap();
    let (runner, runs_dir) = tiny_runner(dir.path());
    let mut spec = small_spec(30);
    spec.add_grid("lr=1e-3,2e-3").unwrap();
    let plan = SweepPlan::new(spec, &presets()).unwrap();
    let (sweep, _events) = start_recording(&runner, plan);
    let sweep_dir = sweep.dir.clone();
    let (state, failed) = sweep.wait();
    failed.expect("no sweep thread fails");
    // The second run as a kill leaves it: its `done` never written.
    let run_dir = runs_dir.join(state.queue[1].run_id().unwrap());
    let events = std::fs::read_to_string(run_dir.join("events.jsonl")).unwrap();
    let kept: Vec<&str> = events
        .lines()
        .filter(|l| !l.contains("\"event\":\"done\""))
        .collect();
    std::fs::write(run_dir.join("events.jsonl"), kept.join("\n") + "\n").unwrap();
    let time = |line: &str| {
        serde_json::from_str::<serde_json::Value>(line).unwrap()["time"]
            .as_f64()
            .unwrap()
    };
    let trained = time(kept.last().unwrap()) - time(kept[0]);
    let first = read_sweep(&sweep_dir).unwrap();
    assert!(matches!(first.queue[1].state, QueueState::Crashed { .. }));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let later = read_sweep(&sweep_dir).unwrap();
    let seconds = later.queue[1].seconds.unwrap();
    assert!(
        (seconds - trained).abs() < 1e-6,
        "{seconds} against {trained}"
    );
    assert_eq!(first.queue[1].seconds, later.queue[1].seconds);
    assert_eq!(first.budget.seconds_spent, later.budget.seconds_spent);
}

/// A damaged or partial sweep folder is read as far as it says and no further: absurd counts
/// in plan.json are one error (no allocation sized by them), a rung of 10^11 in rungs.jsonl
/// ends, and without plan.json the folder's own results say the sampler, pruner and objective.
#[test]
fn a_damaged_sweep_folder_is_bounded_and_read_for_what_it_says() {
    let dir = tempfile::tempdir().unwrap();
    let (runner, _runs_dir) = tiny_runner(dir.path());
    let plan = SweepPlan::new(tpe_halving(30, 3, 1), &presets()).unwrap();
    let (sweep, _events) = start_recording(&runner, plan);
    let sweep_dir = sweep.dir.clone();
    sweep.wait().1.unwrap();
    let plan_path = sweep_dir.join("plan.json");
    let plan_text = std::fs::read_to_string(&plan_path).unwrap();
    for (from, to) in [
        ("\"trials\": 3", "\"trials\": 1000000000"),
        ("\"groups\": 3", "\"groups\": 1000000000000000000"),
        ("\"seeds\": 1", "\"seeds\": 0"),
    ] {
        assert!(plan_text.contains(from), "{plan_text}");
        std::fs::write(&plan_path, plan_text.replace(from, to)).unwrap();
        let err = read_sweep(&sweep_dir).unwrap_err().to_string();
        assert!(err.contains("damaged"), "{to}: {err}");
    }
    std::fs::write(&plan_path, &plan_text).unwrap();
    let rungs = sweep_dir.join("rungs.jsonl");
    let mut text = std::fs::read_to_string(&rungs).unwrap();
    text.push_str(r#"{"index":0,"group":0,"rung":99999999999,"rung_step":10,"step":10,"value":0.2,"cutoff":0.1,"competitors":1,"keep":1,"promoted":true}"#);
    text.push('\n');
    std::fs::write(&rungs, text).unwrap();
    let read = read_sweep(&sweep_dir).unwrap();
    assert_eq!(read.sampler, "tpe");
    std::fs::remove_file(&plan_path).unwrap();
    let partial = read_sweep(&sweep_dir).unwrap();
    assert_eq!(partial.sampler, "tpe");
    assert_eq!(partial.objective, Some(Objective::ValAcc));
    assert!(partial.pruner.starts_with("asha"), "{}", partial.pruner);
    assert!(partial.notice.unwrap().contains("plan.json is missing"));
    assert_eq!(
        partial.queue[0].best, read.queue[0].best,
        "best is the objective's"
    );
}

#[test]
fn a_sweep_file_error_names_its_line_and_a_set_value_its_key() {
    let err = SweepSpec::from_toml(
        "preset = \"mlp-default\"\ntrials = 2.5\n[grid]\nlr = [1e-3, 2e-3]\n",
        "t",
        "t.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("t.toml: line 2 (`trials = 2.5`)"), "{err}");
    let err = SweepSpec::from_toml(
        "preset = \"mlp-default\"\n[set]\nlr = -5\n[grid]\nsteps = [10, 20]\n",
        "t",
        "t.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("t.toml: set: lr: -5"), "{err}");
}

/// `objective_at`: the peak, the last or the mean of the last k evaluations, read as written
/// and refused otherwise in one line that names what it takes.
#[test]
fn objective_at_reduces_a_runs_evaluations_as_named() {
    let scores = [0.30, 0.45, 0.20, 0.25];
    assert_eq!(
        ObjectiveAt::parse("best").unwrap().reduce(&scores),
        Some(0.45)
    );
    assert_eq!(
        ObjectiveAt::parse("final").unwrap().reduce(&scores),
        Some(0.25)
    );
    let last2 = ObjectiveAt::parse("last-2").unwrap();
    assert!((last2.reduce(&scores).unwrap() - 0.225).abs() < 1e-12);
    assert_eq!(last2.name(), "last-2");
    // More than it has: the mean of all; NaN evaluations (a diverged run) are left out.
    assert!((ObjectiveAt::LastK(9).reduce(&[0.1, f64::NAN, 0.3]).unwrap() - 0.2).abs() < 1e-12);
    assert_eq!(ObjectiveAt::Final.reduce(&[]), None);
    for bad in ["last-0", "last", "peak", "last-x"] {
        let e = ObjectiveAt::parse(bad).unwrap_err().to_string();
        assert!(e.contains("best, final or last-K"), "{e}");
    }
    assert_eq!(ObjectiveAt::Final.header("val acc"), "final val acc");
    // A sweep file says it, and writing the spec keeps it.
    let spec = SweepSpec::from_toml(
        "preset = \"mlp-default\"\nobjective_at = \"last-3\"\n[grid]\nlr = [1e-3, 2e-3]\n",
        "t",
        "t.toml",
    )
    .unwrap();
    assert_eq!(spec.objective_at, ObjectiveAt::LastK(3));
    let again = SweepSpec::from_toml(&spec.to_toml(), "t", "t.toml").unwrap();
    assert_eq!(again.objective_at, ObjectiveAt::LastK(3));
}

/// With `objective_at = final` and seeds, "best" means one thing everywhere: every run's
/// figure is its last evaluation, groups rank by their mean of it, the best is the best
/// group's best run (what `F` forks), and `sweep show --json` and results.md say so; none of
/// its runs can be deleted from under it.
#[test]
fn best_means_the_best_groups_best_run_by_the_chosen_figure() {
    let dir = tempfile::tempdir().unwrap();
    let (runner, runs_dir) = tiny_runner(dir.path());
    let mut spec = small_spec(30);
    spec.add_grid("lr=1e-3,3e-3").unwrap();
    spec.seeds = 2;
    spec.objective_at = ObjectiveAt::Final;
    let plan = SweepPlan::new(spec, &presets()).unwrap();
    let sweep = start_sweep(&runner, plan, 2, Box::new(|_| {})).unwrap();
    let sweep_dir = sweep.dir.clone();
    let (state, failed) = sweep.wait();
    failed.expect("no sweep thread fails");
    let state = read_sweep(&sweep_dir).unwrap_or(state);
    assert_eq!(state.objective_at, ObjectiveAt::Final);
    let pid = format!("pid {}", std::process::id());
    for e in &state.queue {
        assert!(
            e.worker.as_deref().unwrap().starts_with(&pid),
            "{:?}",
            e.worker
        );
        assert_eq!(e.curve.len(), 3);
        assert_eq!(
            e.value,
            Some(e.curve.last().unwrap().1),
            "the last evaluation"
        );
        let peak = e.curve.iter().map(|p| p.1).fold(f64::MIN, f64::max);
        assert_eq!(e.best, Some(peak), "best stays the peak");
    }
    for g in &state.groups {
        let values: Vec<f64> = g
            .runs
            .iter()
            .map(|&i| state.queue[i].value.unwrap())
            .collect();
        assert!((g.value_mean.unwrap() - values.iter().sum::<f64>() / 2.0).abs() < 1e-12);
    }
    let best_group = state.best_group().unwrap();
    assert!(state
        .groups
        .iter()
        .all(|g| g.value_mean.unwrap() <= best_group.value_mean.unwrap()));
    let best = state.best_member().unwrap();
    assert_eq!(best.group, best_group.group);
    let other = best_group.runs.iter().find(|&&i| i != best.index).unwrap();
    assert!(state.queue[*other].value <= best.value);
    let shown = state.show_json();
    assert_eq!(shown["objective_at"], "final");
    assert_eq!(shown["best"]["index"], best.index);
    assert_eq!(shown["best"]["value"], serde_json::json!(best.value));
    assert!(shown["groups"][0]["value_mean"].is_number());
    let md = std::fs::read_to_string(sweep_dir.join("results.md")).unwrap();
    assert!(md.contains("| final val acc |"), "{md}");
    assert!(md.contains("final val acc mean"), "{md}");
    assert!(md.contains("its last evaluation"), "{md}");
    // A sweep's run is not deleted from under it.
    let e = gradboard::runs::trash_run(&runs_dir.join(best.run_id().unwrap()))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("of sweep") && e.contains("archive it instead"),
        "{e}"
    );
}
