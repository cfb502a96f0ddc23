//! `gradboard train`: JSON events, folders, seeds, bad input, divergence, failures, signals and forks.

use super::*;

#[test]
fn train_json_prints_exactly_the_events_and_writes_the_run_folder() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let out = gradboard(home.path())
        .args(["train", "--preset", "numpy-mlp", "--json", "--data"])
        .arg(&data)
        .args([
            "--set",
            "steps=60",
            "--set",
            "eval_every=25",
            "--set",
            "batch_size=20",
        ])
        .args(["--set", "lr=1e-3", "--runs-dir", "myruns"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let events = events(&out.stdout);
    assert_eq!(events[0]["event"], "start");
    assert_eq!(events[0]["config"]["steps"], 60);
    assert_eq!(events[0]["config"]["lr"], 1e-3);
    let run_id = events[0]["run_id"].as_str().unwrap().to_string();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "train").count(), 60);
    let eval_steps: Vec<u64> = events
        .iter()
        .filter(|e| e["event"] == "eval")
        .map(|e| e["step"].as_u64().unwrap())
        .collect();
    assert_eq!(
        eval_steps,
        vec![25, 50, 60],
        "every eval_every steps and at the last"
    );
    let done = events.last().unwrap();
    assert_eq!(done["event"], "done");
    assert_eq!(done["status"], "completed");
    assert_eq!(done["step"], 60);
    for e in &events {
        assert_eq!(e["run_id"], run_id.as_str());
    }
    let train = &events[1];
    for field in ["step", "epoch", "loss", "acc", "lr", "samples_per_sec"] {
        assert!(train.get(field).is_some(), "train event lacks {field}");
    }
    // Synthetic classes are separable: the run must learn them.
    assert!(done["final_test_acc"].as_f64().unwrap() > 0.5, "{done}");
    assert!(
        stderr(&out).contains("completed"),
        "one-line summary on stderr"
    );

    let dir = home.path().join("myruns").join(&run_id);
    for f in [
        "config.toml",
        "events.jsonl",
        "summary.json",
        "model.safetensors",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let stored = gradboard::runs::StoredRun::load(&dir).unwrap();
    assert_eq!(
        stored.events.len(),
        events.len(),
        "the store holds every event"
    );
    assert_eq!(stored.config.steps, 60);
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let run = || {
        let out = gradboard(home.path())
            .args(["train", "--preset", "numpy-mlp", "--json", "--data"])
            .arg(&data)
            .args([
                "--set",
                "steps=15",
                "--set",
                "eval_every=5",
                "--set",
                "batch_size=30",
            ])
            .output()
            .unwrap();
        events(&out.stdout)
            .into_iter()
            .filter(|e| e["event"] == "train" || e["event"] == "eval")
            .map(|e| (e["loss"].as_f64(), e["test_acc"].as_f64()))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn bad_input_gives_one_line_errors() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--preset".into(), "mlp-fastest".into()],
            "unknown preset \"mlp-fastest\"",
        ),
        (
            vec![
                "--preset".into(),
                "numpy-mlp".into(),
                "--set".into(),
                "colour=red".into(),
            ],
            "unknown key \"colour\"",
        ),
        (
            vec![
                "--preset".into(),
                "numpy-mlp".into(),
                "--set".into(),
                "lr=-3".into(),
            ],
            "lr: -3 is out of range",
        ),
        (
            vec![
                "--preset".into(),
                "numpy-mlp".into(),
                "--set".into(),
                "steps=many".into(),
            ],
            "steps: expected a whole number",
        ),
        (
            vec![
                "--preset".into(),
                "numpy-mlp".into(),
                "--set".into(),
                "norm=layernorm".into(),
            ],
            "allowed: none, batchnorm, custom-autograd, custom-manual",
        ),
        (
            vec![
                "--preset".into(),
                "numpy-mlp".into(),
                "--data".into(),
                "/nonexistent/cifar.tar.gz".into(),
            ],
            "/nonexistent/cifar.tar.gz: no such file",
        ),
    ];
    for (args, expected) in cases {
        let mut c = gradboard(home.path());
        c.arg("train").args(&args);
        if !args.contains(&"--data".to_string()) {
            c.arg("--data").arg(&data);
        }
        let out = c.output().unwrap();
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{args:?}: one line, got {err}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn ctrl_c_stops_the_run_and_keeps_what_it_did() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let (mut child, lines) = long_run(home.path(), &data);
    // SAFETY: sending SIGINT to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let done: Value = serde_json::from_str(rest.last().unwrap()).unwrap();
    assert_eq!(done["event"], "done");
    assert_eq!(done["status"], "stopped");
    let run_dir = std::fs::read_dir(home.path().join("runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let stored = gradboard::runs::StoredRun::load(&run_dir).unwrap();
    assert!(matches!(
        stored.events.last().map(|e| &e.kind),
        Some(gradboard::events::EventKind::Done { .. })
    ));
    assert!(stored.events.len() > 20);
}

#[test]
fn autograd_presets_train_and_save_named_weights() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    for (preset, norm) in [
        ("mlp-best", "batchnorm"),
        ("mlp-custom-bn-autograd", "custom-autograd"),
        ("mlp-custom-bn-manual", "custom-manual"),
    ] {
        let out = gradboard(home.path())
            .args(["train", "--preset", preset, "--json", "--data"])
            .arg(&data)
            .args([
                "--set",
                "hidden=64,32",
                "--set",
                "batch_size=50",
                "--set",
                "steps=40",
            ])
            .args(["--set", "eval_every=20", "--set", "lr=1e-3"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{preset}: {}", stderr(&out));
        let events = events(&out.stdout);
        assert_eq!(events[0]["config"]["norm"], norm);
        let done = events.last().unwrap();
        assert!(
            done["final_test_acc"].as_f64().unwrap() > 0.5,
            "{preset}: {done}"
        );
        let run = home
            .path()
            .join("runs")
            .join(events[0]["run_id"].as_str().unwrap());
        let weights = candle_core::safetensors::load(
            run.join("model.safetensors"),
            &candle_core::Device::Cpu,
        )
        .unwrap();
        assert!(
            !weights.contains_key("fc2.bias"),
            "{preset}: no bias before a batch norm"
        );
        for name in [
            "fc1.weight",
            "fc2.weight",
            "norm1.weight",
            "norm1.running_mean",
            "norm2.running_var",
            "out.weight",
        ] {
            assert!(
                weights.contains_key(name),
                "{preset}: {name} missing from {:?}",
                weights.keys()
            );
        }
        assert_eq!(weights["fc1.weight"].dims(), &[3072, 64]);
    }
}

#[test]
fn a_diverging_run_ends_with_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let out = gradboard(home.path())
        .args(["train", "--preset", "mlp-default", "--json", "--data"])
        .arg(&data)
        .args([
            "--set",
            "lr=10",
            "--set",
            "init_std=default",
            "--set",
            "steps=200",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("error: run diverged: loss is") && err.contains("smaller learning rate"),
        "{err}"
    );
    let done = events(&out.stdout).pop().unwrap();
    assert_eq!(done["status"], "diverged");
    assert!(done["step"].as_u64().unwrap() < 200);
}

#[test]
fn convnet_trains_saves_table_names_and_eval_reproduces_the_accuracy() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("small.tar.gz");
    write_archive(&data, &files(8, 40)).unwrap();
    let out = gradboard(home.path())
        .args(["train", "--preset", "convnet", "--json", "--data"])
        .arg(&data)
        .args([
            "--set",
            "steps=4",
            "--set",
            "batch_size=8",
            "--set",
            "eval_every=2",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let events = events(&out.stdout);
    let done = events.last().unwrap();
    assert_eq!(done["status"], "completed");
    let run = home
        .path()
        .join("runs")
        .join(events[0]["run_id"].as_str().unwrap());
    let weights =
        candle_core::safetensors::load(run.join("model.safetensors"), &candle_core::Device::Cpu)
            .unwrap();
    for name in [
        "conv1.weight",
        "conv2.bn.bias",
        "conv3_a.bn.running_mean",
        "conv5_b.bn.running_var",
        "linear.weight",
    ] {
        assert!(
            weights.contains_key(name),
            "{name} missing from {:?}",
            weights.keys()
        );
    }
    assert_eq!(weights["conv4_b.weight"].dims(), &[512, 512, 3, 3]);
    assert!(
        !weights.contains_key("conv2.bias"),
        "no bias before a batch norm"
    );
    let out = gradboard(home.path())
        .arg("eval")
        .arg(&run)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    let acc = done["final_test_acc"].as_f64().unwrap();
    assert!(
        text.contains(&format!("test acc {acc:.4}")) && text.contains("(same)"),
        "{text}"
    );
    // A run folder without weights is a clear error.
    std::fs::remove_file(run.join("model.safetensors")).unwrap();
    let out = gradboard(home.path())
        .arg("eval")
        .arg(&run)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success() && stderr(&out).contains("no saved weights"));
}

#[test]
fn two_processes_started_together_write_two_complete_folders() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let spawn = || {
        gradboard(home.path())
            .args(["train", "--preset", "numpy-mlp", "--json", "--data"])
            .arg(&data)
            .args([
                "--set",
                "steps=30",
                "--set",
                "batch_size=20",
                "--set",
                "eval_every=10",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success());
    let dirs = run_dirs(&home.path().join("runs"));
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    for dir in dirs {
        let stored = gradboard::runs::StoredRun::load(&dir).unwrap();
        let starts = stored.events.iter().filter(|e| e.name() == "start").count();
        let dones = stored.events.iter().filter(|e| e.name() == "done").count();
        assert_eq!((starts, dones), (1, 1), "{}", dir.display());
        assert!(stored
            .events
            .iter()
            .all(|e| e.run_id == dir.file_name().unwrap().to_str().unwrap()));
        assert!(dir.join("model.safetensors").is_file());
    }
}

/// Without a terminal (a job's log, a pipe) a run says what it trains, a line at each
/// evaluation with throughput, and its summary; stdout holds the summary alone.
#[test]
fn headless_train_prints_a_header_a_line_an_evaluation_and_a_summary() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let out = gradboard(home.path())
        .args(["train", "--preset", "numpy-mlp", "--data"])
        .arg(&data)
        .args([
            "--set",
            "steps=60",
            "--set",
            "eval_every=20",
            "--set",
            "batch_size=20",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    assert!(
        lines[0].starts_with("run ")
            && lines[0].contains("preset numpy-mlp with batch_size=20 eval_every=20 steps=60")
            && lines[0].contains("60 steps of 20"),
        "{err}"
    );
    for (line, step) in lines[1..].iter().zip([20, 40, 60]) {
        assert!(
            line.starts_with(&format!("step {step:>7}"))
                && line.contains("test loss")
                && line.contains("images/s"),
            "{err}"
        );
    }
    let summary = String::from_utf8_lossy(&out.stdout);
    assert_eq!(summary.lines().count(), 1, "{summary}");
    assert!(summary.contains("completed: step 60"), "{summary}");
}

#[test]
fn a_panic_inside_a_step_is_one_line_and_a_failed_done() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let out = gradboard(home.path())
        .env("GRADBOARD_FAULT", "panic@3")
        .args(["train", "--preset", "mlp-default", "--json", "--data"])
        .arg(&data)
        .args(["--set", "steps=20", "--set", "batch_size=20"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // The run's header line, then the error in one line: no backtrace, no panic message.
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "a header and one line:\n{err}");
    assert!(
        lines[0].starts_with("run ") && lines[0].contains("preset mlp-default"),
        "{err}"
    );
    assert!(
        lines[1].starts_with("error: run failed: panic: injected fault: panic at step 3"),
        "{err}"
    );
    let events = events(&out.stdout);
    let done = events.last().unwrap();
    assert_eq!(done["event"], "done");
    assert_eq!(done["status"], "failed");
    assert!(done["reason"].as_str().unwrap().contains("panic at step 3"));
    assert_eq!(done["step"], 2);
    let listed = runs_json(home.path());
    assert_eq!(listed[0]["status"], "failed");
    let log = std::fs::read_to_string(home.path().join("state/gradboard/gradboard.log")).unwrap();
    assert!(log.contains("panic at step 3"), "the log has it:\n{log}");
}

#[test]
fn sigterm_stops_a_run_cleanly_and_sigkill_leaves_it_crashed() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let (mut child, lines) = long_run(home.path(), &data);
    assert_eq!(runs_json(home.path())[0]["status"], "running");
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let done: Value = serde_json::from_str(rest.last().unwrap()).unwrap();
    assert_eq!(
        (done["event"].as_str(), done["status"].as_str()),
        (Some("done"), Some("stopped"))
    );
    let dir = run_dirs(&home.path().join("runs")).pop().unwrap();
    let out = gradboard(home.path())
        .arg("eval")
        .arg(&dir)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the stopped run's weights load: {}",
        stderr(&out)
    );

    let (mut child, _lines) = long_run(home.path(), &data);
    child.kill().unwrap();
    child.wait().unwrap();
    let listed = runs_json(home.path());
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["status"], "crashed");
    assert!(listed[0]["step"].as_u64().unwrap() >= 100, "{}", listed[0]);
    assert!(listed[0]["best_test_acc"].is_number());
    for field in [
        "run_id",
        "preset",
        "status",
        "step",
        "final_test_acc",
        "best_test_acc",
        "seconds",
        "started",
        "changed",
    ] {
        assert!(listed[0].get(field).is_some(), "runs --json lacks {field}");
    }
    assert_eq!(listed[0]["changed"]["batch_size"], 10);
    assert_eq!(listed[1]["status"], "stopped");
    // The crashed run resumes in its folder from its last checkpoint.
    let crashed = home
        .path()
        .join("runs")
        .join(listed[0]["run_id"].as_str().unwrap());
    let out = gradboard(home.path())
        .args(["train", "--json", "--data"])
        .arg(&data)
        .arg("--resume")
        .arg(&crashed)
        .env("GRADBOARD_FAULT", "error@200")
        .output()
        .unwrap();
    let resumed = events(&out.stdout);
    assert_eq!(resumed[0]["event"], "resume");
    let from = resumed[0]["step"].as_u64().unwrap();
    assert!(from >= 100 && from.is_multiple_of(50), "{from}");
    assert_eq!(resumed[1]["step"].as_u64().unwrap(), from + 1);
}

#[test]
fn a_fork_from_the_command_line_counts_on_from_its_parent() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let out = gradboard(home.path())
        .args(["train", "--preset", "mlp-default", "--json", "--data"])
        .arg(&data)
        .args([
            "--set",
            "steps=30",
            "--set",
            "batch_size=20",
            "--set",
            "eval_every=10",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let parent_id = events(&out.stdout)[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let parent = home.path().join("runs").join(&parent_id);
    let out = gradboard(home.path())
        .args(["train", "--json", "--data"])
        .arg(&data)
        .arg("--from")
        .arg(&parent)
        .args(["--set", "lr=1e-3", "--set", "steps=10"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let child = events(&out.stdout);
    assert_eq!(child[0]["parent"]["run_id"], parent_id.as_str());
    assert_eq!(child[0]["parent"]["step"], 30);
    assert_eq!(child[0]["preset"], "mlp-default");
    assert_eq!(child[1]["step"], 31);
    assert_eq!(child.last().unwrap()["step"], 40);
    assert_eq!(child.last().unwrap()["status"], "completed");
}
