//! `gradboard sweep`: every run's events, then the results.

use super::*;

#[test]
fn a_sweep_prints_every_runs_events_then_its_results() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let out = gradboard(home.path())
        .args(["sweep", "--preset", "mlp-default", "--json", "--data"])
        .arg(&data)
        .args([
            "--grid",
            "lr=1e-3,2e-3",
            "--grid",
            "hidden=32;16,8",
            "--set",
            "steps=20",
            "--set",
            "eval_every=10",
            "--set",
            "batch_size=20",
            "--prune",
            "median",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = events(&out.stdout);
    let done = lines.last().unwrap();
    assert_eq!(done["event"], "sweep_done");
    let results = done["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    let starts: Vec<&Value> = lines.iter().filter(|e| e["event"] == "start").collect();
    assert_eq!(starts.len(), 4);
    for (i, s) in starts.iter().enumerate() {
        assert_eq!(s["sweep"]["id"], done["sweep_id"]);
        assert_eq!(s["sweep"]["index"], i);
    }
    assert_eq!(starts[3]["config"]["hidden"], serde_json::json!([16, 8]));
    let ends = lines.iter().filter(|e| e["event"] == "done").count();
    assert_eq!(ends, 4, "every run ends with its done");
    // Ranked by validation accuracy (the sweep held images out), test accuracy beside it.
    assert_eq!(done["objective"], "val_acc");
    let best: Vec<f64> = results
        .iter()
        .map(|r| r["best"].as_f64().unwrap())
        .collect();
    assert!(
        best.windows(2).all(|w| w[0] >= w[1]),
        "sorted by best: {best:?}"
    );
    assert!(results.iter().all(|r| r["best_test_acc"].is_number()));
    let dir = home.path().join(done["dir"].as_str().unwrap());
    assert!(dir.starts_with(home.path().join("runs").join("sweeps")));
    assert!(dir.join("results.md").is_file() && dir.join("sweep.toml").is_file());
    // The table form, and a bad grid as one line.
    let out = gradboard(home.path())
        .args([
            "sweep",
            "--preset",
            "mlp-default",
            "--grid",
            "lr=0.1,oops",
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("lr"), "{err}");
}

/// TPE with successive halving and two seeds a configuration, then `sweep show` of its folder
/// as tables and as one JSON object with the contract's fields.
#[test]
fn a_tpe_sweep_with_seeds_is_shown_from_its_folder() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let out = gradboard(home.path())
        .args(["sweep", "--preset", "mlp-default", "--data"])
        .arg(&data)
        .args([
            "--sampler",
            "tpe",
            "--trials",
            "4",
            "--seeds",
            "2",
            "--range",
            "lr=1e-4..1e-1:log",
            "--choice",
            "batch_size=10,20",
            "--set",
            "steps=30",
            "--set",
            "eval_every=10",
            "--prune",
            "asha",
            "--prune-reduction",
            "2",
            "--parallel",
            "2",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("8 runs (tpe sampler, 2 seed(s) each)"),
        "{text}"
    );
    assert!(text.contains("chosen on val acc"), "{text}");
    assert!(
        text.contains("what mattered") && text.contains("budget:"),
        "{text}"
    );
    assert!(text.contains("groups (2 seeds each)"), "{text}");
    let sweeps = home.path().join("runs").join("sweeps");
    let dir = std::fs::read_dir(&sweeps)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let show = gradboard(home.path())
        .args(["sweep", "show"])
        .arg(&dir)
        .arg("--json")
        .output()
        .unwrap();
    assert!(show.status.success(), "{}", stderr(&show));
    let state: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(state["status"], "finished");
    assert_eq!(state["objective"], "val_acc");
    assert_eq!(state["trials"].as_array().unwrap().len(), 8);
    assert_eq!(state["groups"].as_array().unwrap().len(), 4);
    let importance = state["importance"].as_object().unwrap();
    assert_eq!(
        importance.keys().cloned().collect::<Vec<_>>(),
        ["batch_size", "lr"]
    );
    assert!(state["steps_spent"].as_u64().unwrap() <= state["steps_unpruned"].as_u64().unwrap());
    let shown = gradboard(home.path())
        .args(["sweep", "show"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&shown.stdout).to_string();
    assert!(text.contains("(finished): tpe sampler"), "{text}");
    // A folder that is not a sweep's is one line.
    let bad = gradboard(home.path())
        .args(["sweep", "show"])
        .arg(home.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = stderr(&bad);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// A sweep none of whose runs could start (the held-out images leave less than a batch) is
/// one line, and no sweep folder is made.
#[test]
fn a_sweep_whose_runs_cannot_start_is_refused_before_its_folder() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let out = gradboard(home.path())
        .args(["sweep", "--preset", "mlp-default", "--data"])
        .arg(&data)
        .args(["--grid", "lr=1e-3,2e-3", "--set", "batch_size=20"])
        .args(["--set", "val_split=190", "--set", "steps=5"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("val_split"), "{err}");
    assert!(!home.path().join("runs").join("sweeps").exists());
    // A folder that is not a sweep's says so.
    let out = gradboard(home.path())
        .args(["sweep", "show"])
        .arg(home.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("not a sweep folder"), "{err}");
}

/// `sweep --command`: a script's trials in the table with the objective's column, ranked by
/// the direction, `sweep show --json`'s best the best figure reported; a template naming a
/// key that is not swept is one line and makes no folder.
#[test]
fn a_command_sweep_ranks_the_scripts_trials_by_its_objective() {
    let home = tempfile::tempdir().unwrap();
    let script = home.path().join("fit.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"epoch=1 loss=$1\"\necho \"{\\\"step\\\": 2, \\\"loss\\\": $2}\" >> \"$GRADBOARD_METRICS\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = gradboard(home.path())
        .args([
            "sweep",
            "--command",
            "./fit.sh {a} {b}",
            "--objective",
            "loss",
        ])
        .args(["--direction", "min", "--grid", "a=3,1", "--grid", "b=2,5"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("chosen on loss"), "{text}");
    assert!(text.contains("best loss"), "the objective's column: {text}");
    assert!(!text.contains("best test"), "no test columns: {text}");
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(rows.len(), 4, "{text}");
    assert!(rows[0].contains("a=1 b=2"), "smallest loss first: {text}");
    assert!(
        text.contains("best: #2 a=1 b=2 (best loss 1.0000)"),
        "{text}"
    );
    let dir = std::fs::read_dir(home.path().join("runs/sweeps"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let out = gradboard(home.path())
        .args(["sweep", "show", "--json"])
        .arg(&dir)
        .output()
        .unwrap();
    let show: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(show["direction"], "min");
    assert_eq!(show["best"]["best"], 1.0);
    assert_eq!(show["trials"][1]["best"], 3.0, "a=3 b=5 reported 3 then 5");
    // A key the template names but the sweep does not give.
    let out = gradboard(home.path())
        .args([
            "sweep",
            "--command",
            "./fit.sh {a} {c}",
            "--objective",
            "loss",
        ])
        .args(["--grid", "a=1,2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("{c} is not swept"), "{err}");
    assert_eq!(
        std::fs::read_dir(home.path().join("runs/sweeps"))
            .unwrap()
            .count(),
        1,
        "no folder for a refused sweep"
    );
}
