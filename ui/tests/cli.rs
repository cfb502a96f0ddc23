//! End-to-end tests of the `gradboard` binary on small data sets written in CIFAR-10's format.

use gradboard::data::synthetic::{files, write_archive, write_folder};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_gradboard");

fn presets_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../presets")
}

/// A command with a clean environment: project presets, caches and config inside `home`.
fn gradboard(home: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("GRADBOARD_DATA")
        .env("GRADBOARD_PRESETS", presets_dir())
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("RUST_BACKTRACE", "0")
        .arg("--threads")
        .arg("1")
        .current_dir(home);
    c
}

fn tiny_archive(dir: &Path) -> PathBuf {
    let path = dir.join("tiny.tar.gz");
    write_archive(&path, &files(40, 50)).unwrap();
    path
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn events(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

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
fn broken_data_sets_are_reported_by_train_and_verify() {
    let home = tempfile::tempdir().unwrap();
    let mut set = files(5, 5);
    set[2].1.truncate(1000);
    write_folder(home.path(), &set).unwrap();
    let garbage = home.path().join("garbage.tar.gz");
    std::fs::write(&garbage, b"PK\x03\x04 not a tarball").unwrap();
    for data in [home.path().to_path_buf(), garbage] {
        for args in [
            vec!["data", "verify"],
            vec!["train", "--preset", "numpy-mlp"],
        ] {
            let out = gradboard(home.path())
                .args(&args)
                .arg("--data")
                .arg(&data)
                .output()
                .unwrap();
            let err = stderr(&out);
            assert!(!out.status.success());
            assert!(
                err.contains("data_batch_3.bin") || err.contains("not a gzip file"),
                "{err}"
            );
            assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        }
    }
}

#[test]
fn data_verify_reports_counts_per_class() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let out = gradboard(home.path())
        .args(["data", "verify", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains("train: 200 images, test: 50 images"),
        "{text}"
    );
    assert!(
        text.contains("airplane") && text.contains("train    20  test     5"),
        "{text}"
    );
}

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
}

#[test]
fn first_use_downloads_into_the_cache_then_reuses_it() {
    use std::io::{Read, Write};
    let home = tempfile::tempdir().unwrap();
    let source = tiny_archive(home.path());
    let bytes = std::fs::read(&source).unwrap();
    let md5 = gradboard::data::md5_file(&source).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/cifar-10-binary.tar.gz",
        listener.local_addr().unwrap()
    );
    let body = bytes.clone();
    std::thread::spawn(move || {
        if let Some(Ok(mut s)) = listener.incoming().next() {
            let _ = s.read(&mut [0u8; 4096]);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    let run = || {
        gradboard(home.path())
            .env("GRADBOARD_DATA_URL", &url)
            .env("GRADBOARD_DATA_MD5", &md5)
            .args([
                "train",
                "--preset",
                "numpy-mlp",
                "--set",
                "steps=3",
                "--set",
                "batch_size=10",
            ])
            .output()
            .unwrap()
    };
    let out = run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("saved and verified"));
    let cached = home.path().join("cache/gradboard/cifar-10-binary.tar.gz");
    assert_eq!(std::fs::read(&cached).unwrap(), bytes);
    // The server is gone: the second run must use the cached archive.
    let out = run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("downloading"));
}

#[test]
fn a_failed_download_says_how_to_fix_it_and_leaves_no_file() {
    let home = tempfile::tempdir().unwrap();
    let out = gradboard(home.path())
        .env(
            "GRADBOARD_DATA_URL",
            "http://127.0.0.1:9/cifar-10-binary.tar.gz",
        )
        .args(["train", "--preset", "numpy-mlp"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("GRADBOARD_DATA"), "{err}");
    let cache = home.path().join("cache/gradboard");
    assert_eq!(std::fs::read_dir(&cache).map(|d| d.count()).unwrap_or(0), 0);
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

fn run_dirs(runs: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn runs_json(home: &Path) -> Vec<Value> {
    let out = gradboard(home).args(["runs", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    events(&out.stdout)
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
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "one line:\n{err}");
    assert!(
        err.starts_with("error: run failed: panic: injected fault: panic at step 3"),
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

/// Starts a long headless run and waits for its 20th train event.
fn long_run(
    home: &Path,
    data: &Path,
) -> (
    std::process::Child,
    std::io::Lines<BufReader<std::process::ChildStdout>>,
) {
    let mut child = gradboard(home)
        .args(["train", "--preset", "numpy-mlp", "--json", "--data"])
        .arg(data)
        .args([
            "--set",
            "steps=10000000",
            "--set",
            "batch_size=10",
            "--set",
            "eval_every=50",
            "--set",
            "lr=1e-3",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = 0;
    for line in lines.by_ref() {
        if line.unwrap().contains("\"train\"") {
            seen += 1;
            if seen == 120 {
                break;
            }
        }
    }
    (child, lines)
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
