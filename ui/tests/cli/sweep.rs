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
    let best: Vec<f64> = results
        .iter()
        .map(|r| r["best_test_acc"].as_f64().unwrap())
        .collect();
    assert!(
        best.windows(2).all(|w| w[0] >= w[1]),
        "sorted by best: {best:?}"
    );
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
