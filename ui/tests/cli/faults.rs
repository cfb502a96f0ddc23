//! Absurd counts and sizes, odd files and a diverged run's weights: each is one line and an
//! exit status, never a panic, a hang or a full memory.

use super::*;

/// Runs `args` (after `--threads 1`, unless they set threads) and returns its status and
/// stderr, which must be one line.
fn one_line(home: &Path, args: &[&str]) -> (i32, String) {
    let mut command = gradboard(home);
    if args[0] == "--threads" {
        command = Command::new(BIN);
        command
            .current_dir(home)
            .env("XDG_STATE_HOME", home.join("state"));
    }
    let out = command.args(args).output().unwrap();
    let err = stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    (out.status.code().unwrap_or(-1), err)
}

/// The dashboard's options given before a subcommand are the subcommand's, as `--threads`
/// is on either side: a run lands in the folder named before `train`. Where the subcommand
/// has no such option, or it is given twice with different values, one line, not ignored.
#[test]
fn dashboard_options_before_a_subcommand_are_taken_or_refused() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let out = gradboard(home.path())
        .args(["--runs-dir", "elsewhere", "--data"])
        .arg(&data)
        .args(["train", "--preset", "mlp-default", "--set", "steps=5"])
        .args(["--set", "batch_size=20"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(run_dirs(&home.path().join("elsewhere")).len(), 1);
    assert!(!home.path().join("runs").exists());
    for (args, wanted) in [
        (
            vec![
                "--runs-dir",
                "a",
                "train",
                "--preset",
                "mlp-default",
                "--runs-dir",
                "b",
            ],
            "--runs-dir given twice",
        ),
        (
            vec!["--runs-dir", "a", "presets"],
            "--runs-dir: `gradboard presets` has no such option",
        ),
        (
            vec!["--data", "x.tar.gz", "lr-find", "--preset", "mlp-default"],
            "x.tar.gz",
        ),
    ] {
        let (code, err) = one_line(home.path(), &args);
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains(wanted), "{args:?}: {err}");
    }
}

/// A cap the kernels do not know is refused: it would time the CPU's best level as a fallback.
#[test]
fn an_unknown_simd_cap_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let out = gradboard(home.path())
        .env("GRADBOARD_SIMD", "avx3")
        .arg("presets")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("GRADBOARD_SIMD=avx3: one of avx512, avx2, baseline"),
        "{err}"
    );
}

#[test]
fn absurd_counts_and_sizes_are_refused_with_one_line() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let data = data.to_str().unwrap();
    for (args, wanted) in [
        (vec!["--threads", "2000", "presets"], "--threads 2000: from 1 to 256"),
        (vec!["--threads", "0", "presets"], "--threads 0"),
        (
            vec!["train", "--preset", "mlp-best", "--data", data, "--set", "hidden=16384,16384,16384,16384,16384,16384,16384,16384,16384,16384,16384,16384,16384,16384,16384,16384"],
            "GB",
        ),
        (
            vec!["sweep", "--preset", "mlp-default", "--data", data, "--random", "1000000000", "--range", "lr=1e-4..1e-2"],
            "1000000000 runs; a sweep trains at most 10000",
        ),
        (
            vec!["lr-find", "--preset", "mlp-default", "--data", data, "--end", "inf"],
            "finite",
        ),
    ] {
        let (code, err) = one_line(home.path(), &args);
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains(wanted), "{args:?}: {err}");
    }
    // Counts clap checks: its own message, no panic.
    for args in [
        vec!["bench", "--preset", "mlp-default", "--steps", "0"],
        vec![
            "bench",
            "--preset",
            "mlp-default",
            "--steps",
            "99999999999999",
        ],
        vec![
            "sweep",
            "--preset",
            "mlp-default",
            "--grid",
            "lr=1e-3",
            "--parallel",
            "0",
        ],
    ] {
        let out = gradboard(home.path()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains("error:") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_fifo_as_data_and_a_file_as_runs_folder_are_one_line() {
    let home = tempfile::tempdir().unwrap();
    let fifo = home.path().join("cifar.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let (code, err) = one_line(
        home.path(),
        &["data", "verify", "--data", fifo.to_str().unwrap()],
    );
    assert_ne!(code, 0);
    assert!(err.contains("named pipe"), "{err}");
    let file = home.path().join("runs.txt");
    std::fs::write(&file, "").unwrap();
    let (code, err) = one_line(home.path(), &["runs", "--runs-dir", file.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("not a folder"), "{err}");
}

#[test]
fn an_os_error_is_said_once() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    // The runs folder's parent is a file: creating it fails with an OS error.
    std::fs::write(home.path().join("blocker"), "").unwrap();
    let (code, err) = one_line(
        home.path(),
        &[
            "train",
            "--preset",
            "numpy-mlp",
            "--data",
            data.to_str().unwrap(),
            "--runs-dir",
            "blocker/runs",
        ],
    );
    assert_ne!(code, 0);
    assert_eq!(err.trim_end(), "error: blocker: is a file, not a folder");
}

#[test]
fn eval_refuses_weights_that_are_not_finite() {
    let home = tempfile::tempdir().unwrap();
    let data = tiny_archive(home.path());
    let out = gradboard(home.path())
        .args(["train", "--preset", "mlp-default", "--data"])
        .arg(&data)
        .args([
            "--set",
            "steps=10",
            "--set",
            "eval_every=10",
            "--set",
            "batch_size=20",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let run = run_dirs(&home.path().join("runs")).pop().unwrap();
    let weights = run.join("model.safetensors");
    let mut tensors = gradboard::model::read_safetensors(&weights).unwrap();
    let nan = (tensors.get("out.weight").unwrap() * f64::NAN).unwrap();
    tensors.insert("out.weight".into(), nan);
    let named: Vec<(String, candle_core::Tensor)> = tensors.into_iter().collect();
    gradboard::model::write_safetensors(&named, &weights).unwrap();
    let (code, err) = one_line(
        home.path(),
        &[
            "eval",
            run.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("not finite"), "{err}");
}
