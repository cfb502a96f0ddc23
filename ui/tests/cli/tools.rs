//! `presets`, `gradcheck`, the keys table, `analyze`, `lr-find` and `bench`.

use super::*;

#[test]
fn presets_and_gradcheck() {
    let home = tempfile::tempdir().unwrap();
    let out = gradboard(home.path()).arg("presets").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("numpy-mlp") && l.contains("Section 1")),
        "{text}"
    );
    let out = gradboard(home.path()).arg("gradcheck").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("linear dW vs finite differences") && text.contains("all "),
        "{text}"
    );
    // Under a cap every kernel, the matrix products included (gemm's AVX2 release), passes.
    for cap in ["avx2", "baseline"] {
        let out = gradboard(home.path())
            .arg("gradcheck")
            .env("GRADBOARD_SIMD", cap)
            .output()
            .unwrap();
        let capped = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{cap}: {capped}");
        assert!(
            capped.contains("hidden matmul cpu dx vs reference") && capped.contains("all "),
            "{cap}: {capped}"
        );
    }
}

#[test]
fn keys_are_listed_and_an_unavailable_device_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let out = gradboard(home.path())
        .args(["presets", "--keys"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for key in gradboard::config::KEYS {
        assert!(text.contains(key.name), "{} missing:\n{text}", key.name);
    }
    assert!(text.contains("live") && text.contains("restart"), "{text}");
    let data = tiny_archive(home.path());
    let out = gradboard(home.path())
        .args([
            "--device",
            "cuda",
            "train",
            "--preset",
            "numpy-mlp",
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("--device cuda") && err.contains("features cuda"),
        "{err}"
    );
}

#[test]
fn analyze_and_lr_find_print_json_on_a_small_data_set() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let out = gradboard(home.path())
        .args(["train", "--preset", "mlp-default", "--json", "--data"])
        .arg(&data)
        .args([
            "--set",
            "steps=20",
            "--set",
            "eval_every=10",
            "--set",
            "batch_size=20",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = events(&out.stdout);
    let run_id = lines[0]["run_id"].as_str().unwrap().to_string();
    let final_acc = lines.last().unwrap()["final_test_acc"].as_f64().unwrap();
    let out = gradboard(home.path())
        .args(["analyze", "--json", "--data"])
        .arg(&data)
        .arg(home.path().join("runs").join(&run_id))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let a: Value = serde_json::from_slice(&out.stdout).unwrap();
    let total: u64 = a["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()))
        .sum();
    assert_eq!(total, 50, "every test image once");
    assert_eq!(a["accuracy"].as_f64().unwrap(), final_acc);
    assert_eq!(a["classes"].as_array().unwrap().len(), 10);
    // The table form names the classes.
    let out = gradboard(home.path())
        .args(["analyze", "--data"])
        .arg(&data)
        .arg(home.path().join("runs").join(&run_id))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("airplane") && text.contains("most confused"),
        "{text}"
    );
    // A folder without weights is one line.
    let out = gradboard(home.path())
        .args(["analyze", "--data"])
        .arg(&data)
        .arg(home.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));

    let out = gradboard(home.path())
        .args(["lr-find", "--preset", "mlp-default", "--json", "--data"])
        .arg(&data)
        .args(["--set", "batch_size=20", "--steps", "40"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let f: Value = serde_json::from_slice(&out.stdout).unwrap();
    let points = f["points"].as_array().unwrap();
    assert!(!points.is_empty() && points.len() <= 40);
    assert!(f["suggestion"].as_f64().is_some_and(|s| s > 0.0), "{f}");
    // From a copy of the trained run: its checkpoint is named, the run keeps its files.
    let run_dir = home.path().join("runs").join(&run_id);
    let out = gradboard(home.path())
        .args(["lr-find", "--steps", "40", "--data"])
        .arg(&data)
        .arg("--from")
        .arg(&run_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("from a copy of") && text.contains("(step 20)"),
        "{text}"
    );
    assert!(text.contains("suggested lr"), "{text}");
    let out = gradboard(home.path())
        .args(["lr-find", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success(), "neither --preset nor --from");
    let out = gradboard(home.path())
        .args([
            "lr-find",
            "--preset",
            "mlp-default",
            "--start",
            "1",
            "--end",
            "0.1",
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--start"), "{}", stderr(&out));
}

/// `bench --layers` sets the step and every layer against the measured peak, a line a layer.
#[test]
fn bench_prints_the_peak_and_each_layer_against_it() {
    let home = tempfile::tempdir().unwrap();
    let out = gradboard(home.path())
        .args([
            "bench",
            "--preset",
            "mlp-default",
            "--steps",
            "3",
            "--set",
            "hidden=32",
            "--layers",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.contains("multiply-add peak on 1 threads"), "{text}");
    // Beside it the bf16 rate, measured where the CPU has AVX512_BF16, else said absent.
    assert!(
        text.contains("bf16 dot-product peak (AVX512_BF16 VDPBF16PS, f32 sums) on 1 threads")
            || text.contains("no AVX512_BF16 here"),
        "{text}"
    );
    assert!(text.contains("of the") && text.contains("peak"), "{text}");
    for (layer, shape) in [("fc1", "3072->32"), ("out", "32->10")] {
        assert!(
            text.lines().any(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                words.get(1) == Some(&layer)
                    && words.get(2) == Some(&shape)
                    && words.get(3) == Some(&"gemm")
                    && l.ends_with('%')
            }),
            "no {layer} row: {text}"
        );
    }
}

#[test]
fn runs_logdir_lists_other_programs_runs_and_an_empty_folder_is_one_line() {
    let home = tempfile::tempdir().unwrap();
    let logs = home.path().join("logs");
    let tb = logs.join("a/events.out.tfevents.1.host");
    std::fs::create_dir_all(tb.parent().unwrap()).unwrap();
    let records: Vec<u8> = (0..3)
        .flat_map(|s| {
            gradboard::logs::tfrecord::frame(&gradboard::logs::tensorboard::scalar_event(
                s,
                0.0,
                &[("loss", 1.0 / (s + 1) as f32)],
            ))
        })
        .collect();
    std::fs::write(&tb, records).unwrap();
    std::fs::create_dir_all(logs.join("b")).unwrap();
    std::fs::write(
        logs.join("b/metrics.jsonl"),
        "{\"step\": 7, \"acc\": 0.5}\n",
    )
    .unwrap();
    // And one of gradboard's own runs beside them.
    let data = tiny_archive(home.path());
    let out = gradboard(home.path())
        .args([
            "train",
            "--preset",
            "numpy-mlp",
            "--set",
            "steps=4",
            "--set",
            "eval_every=2",
        ])
        .arg("--data")
        .arg(&data)
        .arg("--runs-dir")
        .arg(logs.join("c"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = gradboard(home.path())
        .args(["runs", "--json", "--logdir"])
        .arg(&logs)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let runs = events(&out.stdout);
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0]["source"], "tensorboard");
    assert_eq!(runs[0]["scalars"]["loss"]["count"], 3);
    assert_eq!(runs[1]["source"], "jsonl");
    assert_eq!(runs[1]["scalars"]["acc"]["step"], 7);
    assert_eq!(runs[2]["source"], "gradboard");
    assert_eq!(runs[2]["settings"]["engine"], "manual");
    assert_eq!(runs[2]["scalars"]["loss"]["count"], 4);
    assert_eq!(runs[2]["scalars"]["test_acc"]["step"], 4);
    // Exported: every point in metrics.csv, a figure.
    let out_dir = home.path().join("exported");
    let out = gradboard(home.path())
        .args(["export", "--logdir"])
        .arg(&logs)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(out_dir.join("metrics.csv")).unwrap();
    assert!(csv.lines().count() > 1 + 3 + 1, "{csv}");
    assert!(csv.contains("a,loss,2,0.33333"), "{csv}");
    let png = std::fs::read(out_dir.join("curves.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let empty = home.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = gradboard(home.path())
        .args(["runs", "--logdir"])
        .arg(&empty)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!out.status.success());
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("no runs"), "{err}");
}

/// `runs` sorts and filters by any setting or figure, and names, tags, notes, archives and
/// deletes runs by id, a part of it or a name; a mistake is one line and changes nothing.
#[test]
fn runs_are_sorted_filtered_labelled_archived_and_deleted() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    for lr in ["1e-3", "5e-3", "2e-2"] {
        let out = gradboard(home.path())
            .args(["train", "--preset", "numpy-mlp", "--data"])
            .arg(&data)
            .args(["--set", "steps=10", "--set", "eval_every=10", "--set"])
            .arg(format!("lr={lr}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let ids: Vec<String> = runs_json(home.path())
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect();
    let run = |args: &[&str]| {
        let out = gradboard(home.path())
            .arg("runs")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr(&out),
        )
    };
    // Sorted by lr, largest first, with an lr column.
    let (code, text, _) = run(&["--sort", "-lr"]);
    assert_eq!(code, 0);
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("2026") || l.contains("-numpy-mlp-"))
        .collect();
    assert!(text.lines().next().unwrap().contains(" lr "), "{text}");
    assert!(
        rows[0].contains("0.02") && rows[2].contains("0.001"),
        "{text}"
    );
    // Labels: by a part of the id, then by name.
    let tail = ids[0].rsplit('-').next().unwrap().to_string();
    let (code, text, err) = run(&["name", &tail, "fast one"]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("name \"fast one\""), "{text}");
    assert_eq!(run(&["tag", "fast one", "keep", "lr-study"]).0, 0);
    assert_eq!(run(&["tag", "fast one", "-lr-study"]).0, 0);
    assert_eq!(run(&["note", "fast one", "the largest lr"]).0, 0);
    let listed = runs_json(home.path());
    let labelled = listed
        .iter()
        .find(|r| r["run_id"] == ids[0].as_str())
        .unwrap();
    assert_eq!(labelled["labels"]["name"], "fast one");
    assert_eq!(labelled["labels"]["tags"], serde_json::json!(["keep"]));
    assert_eq!(labelled["labels"]["note"], "the largest lr");
    let (_, text, _) = run(&["--filter", "tag:keep"]);
    assert!(text.contains(&ids[0]) && !text.contains(&ids[1]), "{text}");
    let (_, text, _) = run(&["--filter", "lr<0.01 optimizer=sgd"]);
    assert!(!text.contains(&ids[0]) && text.contains(&ids[1]), "{text}");
    // Archived: hidden unless asked for.
    assert_eq!(run(&["archive", &ids[1]]).0, 0);
    let (_, text, _) = run(&[]);
    assert!(!text.contains(&ids[1]) && text.contains("--all"), "{text}");
    let (_, text, _) = run(&["--all"]);
    assert!(
        text.contains(&ids[1]) && text.contains("[archived]"),
        "{text}"
    );
    assert_eq!(run(&["unarchive", &ids[1]]).0, 0);
    // Mistakes: one line each, nothing changed.
    for (args, says) in [
        (vec!["name", "nosuch", "x"], "no run \"nosuch\""),
        (vec!["name", "numpy", "x"], "give more of the id"),
        (vec!["tag", &ids[0], "two words"], "without spaces"),
        (vec!["--sort", "lrr"], "unknown field \"lrr\""),
        (vec!["--filter", "bogus>1"], "unknown field \"bogus\""),
        (vec!["delete", &ids[2], "nosuch"], "no run \"nosuch\""),
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains(says) && err.trim().lines().count() == 1,
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        runs_json(home.path()).len(),
        3,
        "a failed delete moves nothing"
    );
    // Delete: the folder moves to .trash.
    let (code, text, _) = run(&["delete", &ids[2]]);
    assert_eq!(code, 0);
    assert!(text.contains("deleted"), "{text}");
    assert_eq!(runs_json(home.path()).len(), 2);
    assert!(home
        .path()
        .join("runs/.trash")
        .join(&ids[2])
        .join("events.jsonl")
        .is_file());
}
