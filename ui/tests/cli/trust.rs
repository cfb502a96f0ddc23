//! Figures and failures a user decides on (issue 29): a panicking run keeps what it measured
//! and its last good weights, a panicking sweep thread fails the sweep, sweep options that would
//! silently change the sweep are one line each, and the memory check sees the process's limits.

use super::*;

#[test]
fn a_panic_keeps_the_runs_figures_and_its_last_checkpoints_weights() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let out = gradboard(home.path())
        .env("GRADBOARD_FAULT", "panic@13")
        .args(["train", "--preset", "mlp-default", "--json", "--data"])
        .arg(&data)
        .args([
            "--set",
            "steps=30",
            "--set",
            "batch_size=20",
            "--set",
            "eval_every=5",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let events = events(&out.stdout);
    let accs: Vec<f64> = events
        .iter()
        .filter(|e| e["event"] == "eval")
        .map(|e| e["test_acc"].as_f64().unwrap())
        .collect();
    assert_eq!(accs.len(), 2, "evaluations at steps 5 and 10");
    let done = events.last().unwrap();
    assert_eq!(done["status"], "failed");
    assert_eq!(done["step"], 12);
    assert_eq!(done["final_test_acc"].as_f64(), Some(accs[1]));
    assert_eq!(done["best_test_acc"].as_f64(), Some(accs[0].max(accs[1])));
    assert!(done["seconds"].as_f64().unwrap() > 0.0, "{done}");
    let reason = done["reason"].as_str().unwrap();
    assert!(
        reason.contains("panic at step 13") && reason.contains("step 10's weights"),
        "{reason}"
    );
    let run = &run_dirs(&home.path().join("runs"))[0];
    assert!(
        run.join("model.safetensors").is_file(),
        "the last good weights are kept"
    );
    let listed = &runs_json(home.path())[0];
    assert_eq!(listed["final_test_acc"].as_f64(), Some(accs[1]));
    // The weights kept evaluate to the figure of the step they come from.
    let eval = gradboard(home.path())
        .args(["eval", "--data"])
        .arg(&data)
        .arg(run)
        .output()
        .unwrap();
    assert!(eval.status.success(), "{}", stderr(&eval));
}

#[test]
fn a_panic_on_a_sweep_thread_fails_the_sweep_and_the_rest_trains() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let out = gradboard(home.path())
        .env("GRADBOARD_FAULT", "sweep-panic@1")
        .args(["sweep", "--preset", "mlp-default", "--data"])
        .arg(&data)
        .args([
            "--grid",
            "lr=1e-3,2e-3,3e-3",
            "--set",
            "steps=10",
            "--set",
            "batch_size=20",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(matches!(out.status.code(), Some(c) if c != 0), "{err}");
    assert!(
        err.contains("run 1: panic: injected fault: sweep thread panic at run 1"),
        "{err}"
    );
    assert!(
        !err.contains("panicked"),
        "the hook logs, the error says it once: {err}"
    );
    let listed = runs_json(home.path());
    assert_eq!(listed.len(), 2, "runs 0 and 2 trained");
    assert!(listed.iter().all(|r| r["status"] == "completed"));
    let sweeps = home.path().join("runs/sweeps");
    let dir = std::fs::read_dir(&sweeps)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let show = gradboard(home.path())
        .args(["sweep", "show", "--json"])
        .arg(&dir)
        .output()
        .unwrap();
    let state: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(state["trials"][1]["status"], "refused", "{state}");
}

#[test]
fn sweep_options_that_would_change_the_sweep_silently_are_one_line() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let data = data.to_str().unwrap();
    let sweep = |extra: &[&str]| {
        let mut args = vec!["sweep", "--preset", "mlp-default", "--data", data];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--set", "steps=10", "--set", "batch_size=20"]);
        let out = gradboard(home.path()).args(&args).output().unwrap();
        let err = stderr(&out);
        assert_ne!(out.status.code(), Some(0), "{extra:?}");
        assert_eq!(err.trim_end().lines().count(), 1, "{extra:?}: {err}");
        assert!(!err.contains("panicked"), "{extra:?}: {err}");
        err
    };
    for (extra, wanted) in [
        (
            vec![
                "--sampler",
                "tpe",
                "--trials",
                "3",
                "--range",
                "lr=1e-3..1e-3",
            ],
            "holds one value",
        ),
        (
            vec![
                "--sampler",
                "tpe",
                "--trials",
                "3",
                "--range",
                "lr=1e-3..1e-3:log",
            ],
            "holds one value",
        ),
        (
            vec!["--random", "2", "--range", "lr=1e-4...1e-2"],
            "three dots",
        ),
        (
            vec!["--random", "2", "--range", "batch_size=0.2..30:log"],
            "lo > 0",
        ),
        (vec!["--grid", "lr=1e-3,1e-3"], "given twice"),
        (vec!["--grid", "lr=1e-3,0.001"], "given twice"),
        (
            vec![
                "--random",
                "2",
                "--range",
                "lr=1e-4..1e-2",
                "--choice",
                "optimizer=sgd,sgd",
            ],
            "given twice",
        ),
        (
            vec![
                "--sampler",
                "grid",
                "--grid",
                "lr=1e-3,2e-3",
                "--trials",
                "5",
            ],
            "grid sampler trains every combination",
        ),
        (
            vec![
                "--sampler",
                "tpe",
                "--random",
                "2",
                "--range",
                "lr=1e-4..1e-2",
            ],
            "--random N is the random sampler",
        ),
        (
            vec!["--grid", "lr=1e-3,2e-3", "--set", "lr=0.1"],
            "lr is swept and set for every run",
        ),
        (
            vec![
                "--grid",
                "lr=1e-3,2e-3",
                "--prune",
                "asha",
                "--prune-min-steps",
                "10",
            ],
            "not below the runs' 10 steps",
        ),
        (
            vec!["--grid", "lr=1e-3,2e-3", "--set", "clip_norm="],
            "no value",
        ),
        (
            vec!["--grid", "lr=1e-3,2e-3", "--set", "hidden="],
            "hidden=[] for none",
        ),
    ] {
        let err = sweep(&extra);
        assert!(err.contains(wanted), "{extra:?}: {err}");
    }
    assert!(
        !home.path().join("runs").exists(),
        "no folder for a refused sweep"
    );
}

#[test]
fn the_memory_check_sees_the_address_space_limit_and_runs_at_once() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    // Under `ulimit -v` (3 GB, as the adversarial try had it), with 24 GB free on the machine.
    let limited = |args: &str| {
        let script = format!(
            "ulimit -v 3000000 && exec {BIN} --threads 1 {args} --data {}",
            data.display()
        );
        let out = Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(home.path())
            .env("GRADBOARD_PRESETS", presets_dir())
            .env("XDG_STATE_HOME", home.path().join("state"))
            .output()
            .unwrap();
        (out.status.code(), stderr(&out))
    };
    let (code, err) = limited(
        "sweep --preset mlp-best --set hidden=8192,8192 --set batch_size=20 --set optimizer=adam --grid lr=1e-3,2e-3 --parallel 2 --set steps=2",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("2 runs at once need") && err.contains("--parallel"),
        "{err}"
    );
    let (code, err) = limited(
        "train --preset mlp-best --set hidden=16384,16384 --set batch_size=20 --set optimizer=adam --set steps=2",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("ulimit -v"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        !home.path().join("runs").exists(),
        "no run or sweep folder is made"
    );
}

#[test]
fn a_download_timeout_it_does_not_take_is_refused_not_replaced() {
    let home = tempfile::tempdir().unwrap();
    for value in ["abc", "-1", "0", "1.5", "99999"] {
        let out = gradboard(home.path())
            .env("GRADBOARD_DOWNLOAD_TIMEOUT", value)
            .arg("presets")
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{value}: {err}");
        assert!(
            err.starts_with(&format!("error: GRADBOARD_DOWNLOAD_TIMEOUT={value}:"))
                && err.trim_end().lines().count() == 1,
            "{value}: {err}"
        );
    }
}

/// A local sweep killed outright (SIGKILL mid-run) continues with `sweep resume`: the lost run
/// resumes from its checkpoint, the runs that never started train, and the export of the
/// resumed run has each step once.
#[test]
fn a_killed_sweep_resumes_every_unfinished_run() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let mut child = gradboard(home.path())
        .args(["sweep", "--preset", "mlp-default", "--json", "--data"])
        .arg(&data)
        .args([
            "--grid",
            "lr=1e-4,2e-4,3e-4",
            "--set",
            "steps=3000",
            "--set",
            "eval_every=50",
            "--set",
            "batch_size=20",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines {
        let e: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if e["event"] == "train" && e["step"].as_u64().unwrap() >= 60 {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let sweeps = home.path().join("runs/sweeps");
    let dir = std::fs::read_dir(&sweeps)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let out = gradboard(home.path())
        .args(["sweep", "resume", "--data"])
        .arg(&data)
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{}{text}", stderr(&out));
    assert!(text.contains("resuming 3 of 3 runs (#0 #1 #2)"), "{text}");
    let listed = runs_json(home.path());
    assert_eq!(
        listed.len(),
        3,
        "one folder a run: the lost one resumed in its own"
    );
    assert!(
        listed
            .iter()
            .all(|r| r["status"] == "completed" && r["step"] == 3000),
        "{listed:?}"
    );
    let again = gradboard(home.path())
        .args(["sweep", "resume"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to resume"));
    // The resumed run's export: every train step once, in order.
    let first = listed.iter().find(|r| r["sweep"]["index"] == 0).unwrap();
    let run_dir = home
        .path()
        .join("runs")
        .join(first["run_id"].as_str().unwrap());
    let events = std::fs::read_to_string(run_dir.join("events.jsonl")).unwrap();
    assert!(
        events.contains("\"event\":\"resume\""),
        "the lost run was resumed"
    );
    let out_dir = home.path().join("export");
    let export = gradboard(home.path())
        .args(["export"])
        .arg(&run_dir)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(export.status.success(), "{}", stderr(&export));
    let csv = std::fs::read_to_string(out_dir.join("metrics.csv")).unwrap();
    let steps: Vec<u64> = csv
        .lines()
        .filter(|l| l.split(',').nth(1) == Some("train"))
        .map(|l| l.split(',').nth(2).unwrap().parse().unwrap())
        .collect();
    let repeat = steps.windows(2).find(|w| w[0] >= w[1]);
    assert_eq!(repeat, None, "each step once");
    assert_eq!(steps.last(), Some(&3000));
}

#[test]
fn a_cluster_submission_that_fails_leaves_no_sweep_folder() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let out = gradboard(home.path())
        .args(["sweep", "--preset", "mlp-default", "--grid", "lr=1e-3,2e-3"])
        .args([
            "--set",
            "steps=10",
            "--set",
            "batch_size=20",
            "--on",
            "slurm",
        ])
        .args(["--sbatch=--no-such-sbatch-option", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("sbatch"), "{err}");
    let sweeps = home.path().join("runs/sweeps");
    let left = std::fs::read_dir(&sweeps).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "no folder for a sweep no job runs");
}

#[test]
fn commands_that_compute_nothing_refuse_a_device_and_a_file_is_no_runs_folder() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let out = gradboard(home.path())
        .args(["--device", "gpu", "runs"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--device gpu: this command computes nothing"));
    std::fs::write(home.path().join("runsfile"), "").unwrap();
    for args in [
        vec![
            "train",
            "--preset",
            "mlp-default",
            "--runs-dir",
            "runsfile",
            "--set",
            "steps=5",
            "--data",
            data.to_str().unwrap(),
        ],
        vec![
            "sweep",
            "--preset",
            "mlp-default",
            "--runs-dir",
            "runsfile",
            "--grid",
            "lr=1e-3,2e-3",
            "--set",
            "batch_size=20",
            "--data",
            data.to_str().unwrap(),
        ],
        vec!["export", "runsfile", "--out", "x"],
    ] {
        let out = gradboard(home.path()).args(&args).output().unwrap();
        let err = stderr(&out);
        assert!(
            err.contains("runsfile: is a file, not a") && err.trim_end().lines().count() == 1,
            "{args:?}: {err}"
        );
    }
}
