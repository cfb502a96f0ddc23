//! `gradboard net`: the shipped nets listed, a summary as a table and as JSON, a user's net
//! file, and a bad net as one line naming its layer.

use super::*;

#[test]
fn net_show_summarises_a_shipped_net_and_a_users_file() {
    let home = tempfile::tempdir().unwrap();
    let out = gradboard(home.path())
        .args(["net", "list"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        list.contains("lab-vgg") && list.contains("resnet-small"),
        "{list}"
    );
    let out = gradboard(home.path())
        .args(["net", "show", "lab-vgg", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["params"], 9_228_362);
    let layers = s["layers"].as_array().unwrap();
    assert_eq!(layers.last().unwrap()["kind"], "linear");
    assert_eq!(layers.last().unwrap()["out"], serde_json::json!([10]));
    assert_eq!(layers[0]["out"], serde_json::json!([64, 32, 32]));
    for key in ["name", "kind", "out", "params", "flops"] {
        assert!(layers[0].get(key).is_some(), "{key}");
    }
    // A user's net: a residual block, a stride-2 conv, GELU, dropout, global average pooling.
    let file = home.path().join("mine.toml");
    std::fs::write(
        &file,
        r#"vars = { width = 8 }
layers = [
  { conv = "$width" }, "bn", "relu",
  { residual = [ { conv = "$width", bias = false }, "bn", "relu", { conv = "$width", bias = false }, "bn" ] },
  { conv = 16, stride = 2 }, "gelu", { dropout = 0.1 }, "gap", { linear = "classes" },
]
"#,
    )
    .unwrap();
    let show = |extra: &[&str]| {
        gradboard(home.path())
            .args(["net", "show"])
            .arg(&file)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = show(&["--set", "net.width=4", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_hand =
        (3 * 9 * 4 + 4) + 2 * 4 + 2 * (4 * 9 * 4 + 2 * 4) + (4 * 9 * 16 + 16) + (16 * 10 + 10);
    assert_eq!(s["params"], by_hand);
    let table = String::from_utf8_lossy(&show(&[]).stdout).to_string();
    assert!(
        table.contains("total:") && table.contains("memory:"),
        "{table}"
    );
    // Bad nets: one line naming the layer, exit 2.
    std::fs::write(&file, "layers = [{ conv = 8 }, { maxpool = 64 }]\n").unwrap();
    let out = show(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("layer 1 (maxpool)") && err.contains("shrinks it to nothing"),
        "{err}"
    );
    let out = show(&["--set", "width=3"]);
    assert!(stderr(&out).contains("net.VAR=VALUE"), "{}", stderr(&out));
}

#[test]
fn a_described_net_trains_and_its_variables_are_swept() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let file = home.path().join("small.toml");
    std::fs::write(
        &file,
        r#"vars = { width = 8 }
layers = [
  { conv = "$width", bias = false }, "bn", "relu", { maxpool = 2 },
  { residual = [ { conv = "$width", bias = false }, "bn", "gelu" ] },
  { conv = 16, stride = 2 }, "relu", { dropout = 0.1 }, "gap", { linear = "classes" },
]
"#,
    )
    .unwrap();
    let out = gradboard(home.path())
        .args(["train", "--preset", "mlp-default", "--json", "--data"])
        .arg(&data)
        .arg("--set")
        .arg(format!("net={}", file.display()))
        .args([
            "--set",
            "net.width=4",
            "--set",
            "steps=20",
            "--set",
            "eval_every=10",
        ])
        .args([
            "--set",
            "batch_size=20",
            "--set",
            "optimizer=adam",
            "--set",
            "lr=1e-3",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let run_events = events(&out.stdout);
    let start = &run_events[0];
    assert_eq!(start["config"]["model"], "net");
    assert_eq!(start["config"]["net"]["vars"]["width"], 4);
    let by_hand = (3 * 9 * 4) + 2 * 4 + (4 * 9 * 4 + 2 * 4) + (4 * 9 * 16 + 16) + (16 * 10 + 10);
    assert_eq!(start["params"], by_hand);
    assert!(start["flops"].as_f64().unwrap() > 0.0);
    let done = run_events.last().unwrap();
    assert_eq!(done["status"], "completed", "{done}");
    // The run folder rebuilds its net without the file: eval reads the stored description.
    std::fs::remove_file(&file).unwrap();
    let run = &run_dirs(&home.path().join("runs"))[0];
    let eval = gradboard(home.path())
        .args(["eval", "--data"])
        .arg(&data)
        .arg(run)
        .output()
        .unwrap();
    assert!(eval.status.success(), "{}", stderr(&eval));
    // A grid over a shipped net's variable: each run trains its own width.
    let out = gradboard(home.path())
        .args(["sweep", "--preset", "mlp-default", "--json", "--data"])
        .arg(&data)
        .args(["--set", "net=mlp-default", "--grid", "net.width=8,16"])
        .args(["--set", "steps=10", "--set", "batch_size=20"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let widths: Vec<Value> = events(&out.stdout)
        .iter()
        .filter(|e| e["event"] == "start")
        .map(|e| e["config"]["net"]["vars"]["width"].clone())
        .collect();
    assert_eq!(widths, [serde_json::json!(8), serde_json::json!(16)]);
    // A bad net or variable: one line, and no run folder.
    let before = run_dirs(&home.path().join("runs")).len();
    for (set, wanted) in [
        ("net=no-such-net", "no such net"),
        ("net.width=8", "the run has no net"),
    ] {
        let out = gradboard(home.path())
            .args(["train", "--preset", "mlp-default", "--data"])
            .arg(&data)
            .args(["--set", set])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(wanted) && err.trim_end().lines().count() == 1,
            "{err}"
        );
    }
    assert_eq!(run_dirs(&home.path().join("runs")).len(), before);
}

/// The speedrun preset end to end on a small data set, its nets narrowed: the whitening
/// filters computed from the data are saved with the weights (eval of the saved run gives the
/// run's own last test loss), `done` carries the accuracy, and whiten anywhere but first is
/// one line.
#[test]
fn the_speedrun_trains_and_its_whitening_is_saved_with_the_weights() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let out = gradboard(home.path())
        .args(["train", "--preset", "speedrun", "--json", "--data"])
        .arg(&data)
        .args([
            "--set",
            "net.w1=8",
            "--set",
            "net.w2=8",
            "--set",
            "net.w3=16",
        ])
        .args([
            "--set",
            "steps=8",
            "--set",
            "batch_size=10",
            "--set",
            "eval_every=4",
        ])
        .args(["--set", "lookahead=3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let run_events = events(&out.stdout);
    let done = run_events.last().unwrap();
    assert_eq!(done["status"], "completed", "{done}");
    assert!(done["final_test_acc"].as_f64().is_some(), "{done}");
    let last_eval = run_events
        .iter()
        .rev()
        .find(|e| e["event"] == "eval")
        .unwrap();
    let loss = last_eval["test_loss"].as_f64().unwrap();
    let run = &run_dirs(&home.path().join("runs"))[0];
    let eval = gradboard(home.path())
        .args(["eval", "--data"])
        .arg(&data)
        .arg(run)
        .output()
        .unwrap();
    assert!(eval.status.success(), "{}", stderr(&eval));
    let printed = String::from_utf8_lossy(&eval.stdout).to_string();
    assert!(
        printed.contains(&format!("test loss {loss:.4}")) && printed.contains("(same)"),
        "eval of the saved weights: {printed}, the run's last loss {loss}"
    );
    let file = home.path().join("late-whiten.toml");
    std::fs::write(
        &file,
        "layers = [{ conv = 8 }, { whiten = 2 }, \"gap\", { linear = \"classes\" }]\n",
    )
    .unwrap();
    let out = gradboard(home.path())
        .args(["train", "--preset", "speedrun", "--data"])
        .arg(&data)
        .arg("--set")
        .arg(format!("net={}", file.display()))
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("must be the net's first layer"), "{err}");
}
