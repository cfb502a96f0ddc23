//! End-to-end tests of the `gradboard` binary on small data sets written in CIFAR-10's format,
//! one module a subcommand; the helpers here build every command.

mod data;
mod faults;
mod net;
mod sweep;
mod tools;
mod train;
mod trust;

pub use gradboard::data::synthetic::{files, write_archive, write_folder};
pub use serde_json::Value;
pub use std::io::{BufRead, BufReader};
pub use std::path::{Path, PathBuf};
pub use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_gradboard");

pub fn presets_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../presets")
}

/// A command with a clean environment: project presets, caches and config inside `home`.
pub fn gradboard(home: &Path) -> Command {
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

pub fn tiny_archive(dir: &Path) -> PathBuf {
    let path = dir.join("tiny.tar.gz");
    write_archive(&path, &files(40, 50)).unwrap();
    path
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn events(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

pub fn run_dirs(runs: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

pub fn runs_json(home: &Path) -> Vec<Value> {
    let out = gradboard(home).args(["runs", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    events(&out.stdout)
}

/// Starts a long headless run and waits for its 20th train event.
pub fn long_run(
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
