//! The real binary in tmux: keys in, captured screen and run folders out.

use gradboard::data::synthetic::{files, write_archive};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    session: String,
}

impl Tmux {
    fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let status = Command::new("tmux")
                .args(["send-keys", "-t", &self.session, k])
                .status()
                .unwrap();
            assert!(status.success());
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.capture();
            if pred(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

fn summaries(runs: &Path) -> Vec<serde_json::Value> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    dirs.iter()
        .filter_map(|d| std::fs::read_to_string(d.join("summary.json")).ok())
        .map(|text| serde_json::from_str(&text).unwrap())
        .collect()
}

/// The value the settings panel shows for `name`.
fn setting<'a>(screen: &'a str, name: &str) -> Option<&'a str> {
    screen.lines().find_map(|line| {
        let (_, panel) = line.split_once("││")?;
        let mut words = panel.trim_start_matches([' ', '*']).split_whitespace();
        (words.next() == Some(name)).then(|| words.next()).flatten()
    })
}

/// Whether tmux is here; without it the tests skip, except under CI (`.ci/run` installs it),
/// where its absence is a failure.
fn tmux_here() -> bool {
    if Command::new("tmux").arg("-V").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "tmux is not installed; .ci/run installs it"
    );
    eprintln!("skipped: tmux is not installed (.ci/run installs it)");
    false
}

/// The dashboard in a tmux session of its own on a small data set, with its runs folder.
fn dashboard(home: &Path, name: &str) -> (Tmux, PathBuf) {
    dashboard_with(home, name, "")
}

/// `dashboard` with more options on its command line.
fn dashboard_with(home: &Path, name: &str, options: &str) -> (Tmux, PathBuf) {
    let data = home.join("tiny.tar.gz");
    write_archive(&data, &files(100, 100)).unwrap();
    let runs = home.join("runs");
    let script = format!(
        "cd {home} && GRADBOARD_PRESETS={presets} XDG_CONFIG_HOME={home}/config XDG_CACHE_HOME={home}/cache XDG_STATE_HOME={home}/state {bin} --threads 1 --data {data} --runs-dir {runs} {options}; echo GRADBOARD-EXITED $?; sleep 30",
        home = home.display(),
        presets = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../presets").display(),
        bin = env!("CARGO_BIN_EXE_gradboard"),
        data = data.display(),
        runs = runs.display(),
    );
    let session = format!("gradboard-{name}-{}", std::process::id());
    let status = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &session,
            "-x",
            "120",
            "-y",
            "40",
            &script,
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let tmux = Tmux { session };
    tmux.wait_for("the data set", |s| {
        s.contains("tiny.tar.gz (500 train / 100 test)")
    });
    (tmux, runs)
}

#[test]
fn a_user_edits_restarts_pauses_and_quits() {
    if !tmux_here() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let (tmux, runs) = dashboard(home.path(), "edits");

    // Edit the learning rate and the number of steps, then start.
    let row = |name: &str| {
        gradboard::config::KEYS
            .iter()
            .position(|k| k.name == name)
            .unwrap()
    };
    let down = |n: usize| tmux.keys(&vec!["j"; n]);
    down(row("lr"));
    tmux.keys(&["Enter"]);
    tmux.keys(&[
        "BSpace", "BSpace", "BSpace", "BSpace", "BSpace", "1", "e", "-", "3", "Enter",
    ]);
    tmux.wait_for("the new lr", |s| setting(s, "lr") == Some("0.001"));
    down(row("steps") - row("lr"));
    tmux.keys(&[
        "Enter", "BSpace", "BSpace", "BSpace", "BSpace", "9", "9", "9", "9", "9", "9", "Enter",
    ]);
    tmux.wait_for("the new step count", |s| {
        setting(s, "steps") == Some("999999")
    });
    tmux.keys(&["r"]);
    let screen = tmux.wait_for("a running run", |s| {
        s.contains("running") && s.contains("/ 999999")
    });
    assert!(screen.contains("lr      0.001"), "{screen}");

    // Restart: a second run starts, the first is kept.
    tmux.keys(&["r"]);
    tmux.wait_for("two run folders", |_| {
        std::fs::read_dir(&runs).map(|d| d.count()).unwrap_or(0) == 2
    });
    tmux.wait_for("the first run to be stopped", |_| {
        summaries(&runs)
            .first()
            .is_some_and(|s| s["status"] == "stopped")
    });

    tmux.keys(&["p"]);
    tmux.wait_for("paused", |s| s.contains("status  paused"));
    tmux.keys(&["q"]);
    tmux.wait_for("the quit question", |s| s.contains("Quit?"));
    tmux.keys(&["y"]);
    tmux.wait_for("the program to exit", |s| s.contains("GRADBOARD-EXITED 0"));
    let all = summaries(&runs);
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|s| s["status"] == "stopped"), "{all:?}");
}

/// The terminal closed under a training run (the tmux session killed, as a closed window
/// does): the run is stopped as quitting stops it, with its weights, its checkpoint and its
/// `done`, not left crashed.
#[test]
fn closing_the_terminal_stops_the_run_and_keeps_it() {
    if !tmux_here() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let (tmux, runs) = dashboard(home.path(), "closed");
    let steps = gradboard::config::KEYS
        .iter()
        .position(|k| k.name == "steps")
        .unwrap();
    tmux.keys(&vec!["j"; steps]);
    tmux.keys(&["Enter"]);
    tmux.keys(&["BSpace"; 6]);
    tmux.keys(&["9", "9", "9", "9", "9", "9", "Enter"]);
    tmux.wait_for("the step count", |s| setting(s, "steps") == Some("999999"));
    tmux.keys(&["r"]);
    tmux.wait_for("a running run", |s| {
        s.contains("running") && s.contains("/ 999999")
    });
    let status = Command::new("tmux")
        .args(["kill-session", "-t", &tmux.session])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = summaries(&runs);
        if let Some(s) = all.first() {
            assert_eq!(s["status"], "stopped", "{s}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no done after the terminal closed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let run = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    assert!(run.join("model.safetensors").is_file());
    assert!(run.join("checkpoint-last.safetensors").is_file());
}

/// `train --resume` in a terminal: the progress bar has the run's length and counts on from
/// the step it resumed at (it read "100/0" when the printer folded events on its own).
#[test]
fn a_resumed_runs_progress_bar_counts_from_its_checkpoint() {
    if !tmux_here() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("tiny.tar.gz");
    write_archive(&data, &files(100, 100)).unwrap();
    let runs = home.path().join("runs");
    let bin = env!("CARGO_BIN_EXE_gradboard");
    let presets = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../presets");
    let mut child = Command::new(bin)
        .env("GRADBOARD_PRESETS", &presets)
        .env("XDG_STATE_HOME", home.path().join("state"))
        .args(["--threads", "1", "train", "--preset", "numpy-mlp", "--data"])
        .arg(&data)
        .arg("--runs-dir")
        .arg(&runs)
        .args([
            "--set",
            "steps=100000",
            "--set",
            "eval_every=50",
            "--set",
            "batch_size=20",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let run = loop {
        let found = std::fs::read_dir(&runs).ok().and_then(|d| {
            d.flatten()
                .map(|e| e.path())
                .find(|p| p.join("checkpoint-last.safetensors").is_file())
        });
        if let Some(run) = found {
            break run;
        }
        assert!(Instant::now() < deadline, "no checkpoint");
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let script = format!(
        "GRADBOARD_PRESETS={presets} XDG_STATE_HOME={state} {bin} --threads 1 train --resume {run} --data {data}; sleep 30",
        presets = presets.display(),
        state = home.path().join("state").display(),
        run = run.display(),
        data = data.display(),
    );
    let session = format!("gradboard-resume-{}", std::process::id());
    let status = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &session,
            "-x",
            "120",
            "-y",
            "10",
            &script,
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let tmux = Tmux { session };
    let screen = tmux.wait_for("the progress bar", |s| s.contains("/100000 steps"));
    let pos: usize = screen
        .split_whitespace()
        .find_map(|w| w.strip_suffix("/100000"))
        .and_then(|p| p.parse().ok())
        .unwrap();
    assert!(pos >= 50, "counts on from the checkpoint's step: {screen}");
}

/// `--logdir`: the logs screen follows another program's metrics as its file grows and a new
/// run's folder as it appears.
#[test]
fn the_logs_screen_follows_a_growing_metrics_file_and_a_new_run() {
    if !tmux_here() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let logs = home.path().join("logs");
    std::fs::create_dir_all(logs.join("lr0.1")).unwrap();
    let line = |step: usize| {
        format!(
            "{{\"step\": {step}, \"train/loss\": {}}}\n",
            2.0 / step as f64
        )
    };
    let metrics = logs.join("lr0.1/metrics.jsonl");
    std::fs::write(&metrics, (1..=3).map(line).collect::<String>()).unwrap();
    let (tmux, _) = dashboard_with(
        home.path(),
        "logdir",
        &format!("--logdir {}", logs.display()),
    );
    tmux.wait_for("the run", |s| {
        s.contains("logs: 1 run (followed live")
            && s.contains("lr0.1")
            && s.contains("train/loss (1 run)")
    });
    let row = |s: &str, id: &str| -> Option<String> {
        s.lines()
            .find(|l| l.contains(id))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
    };
    assert!(row(&tmux.capture(), "lr0.1").unwrap().contains("jsonl 1 3"));
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&metrics)
        .unwrap();
    f.write_all((4..=5).map(line).collect::<String>().as_bytes())
        .unwrap();
    std::fs::create_dir_all(logs.join("lr0.01")).unwrap();
    std::fs::write(logs.join("lr0.01/metrics.jsonl"), line(1)).unwrap();
    let screen = tmux.wait_for("the new points and run", |s| {
        s.contains("logs: 2 runs") && row(s, "lr0.1 ").is_some_and(|r| r.contains("jsonl 1 5"))
    });
    assert!(
        row(&screen, "lr0.01").unwrap().contains("jsonl 1 1"),
        "{screen}"
    );
    tmux.keys(&["q"]);
    tmux.wait_for("the exit", |s| s.contains("GRADBOARD-EXITED 0"));
}

/// On the runs screen of the real binary: `N` names a run (written to its `labels.json`, shown
/// in place of its id), `o` sorts by a setting shown as a column, `z` archives a run out of
/// the table and `D` twice moves a run's folder to `.trash`.
#[test]
fn runs_are_named_sorted_archived_and_deleted_from_the_runs_screen() {
    if !tmux_here() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("tiny.tar.gz");
    write_archive(&data, &files(100, 100)).unwrap();
    let runs = home.path().join("runs");
    for lr in ["0.001", "0.004", "0.002"] {
        let out = Command::new(env!("CARGO_BIN_EXE_gradboard"))
            .env(
                "GRADBOARD_PRESETS",
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../presets"),
            )
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .args(["--threads", "1", "train", "--preset", "numpy-mlp", "--data"])
            .arg(&data)
            .arg("--runs-dir")
            .arg(&runs)
            .args(["--set", "steps=10", "--set", "eval_every=10", "--set"])
            .arg(format!("lr={lr}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (tmux, runs) = dashboard(home.path(), "labels");
    tmux.keys(&["Tab"]);
    tmux.wait_for("the runs", |s| s.contains("3 of 3 shown"));
    // Sort by lr, largest first: the 0.004 run on top, under the cursor.
    tmux.keys(&["o", "-", "l", "r", "Enter"]);
    let screen = tmux.wait_for("the lr column", |s| s.contains("o:lr ▼"));
    let first_row = screen
        .lines()
        .find(|l| l.contains("numpy-mlp-"))
        .unwrap()
        .to_string();
    assert!(first_row.contains("0.004"), "{screen}");
    tmux.keys(&["N", "k", "e", "e", "p", "e", "r", "Enter"]);
    tmux.wait_for("the name", |s| s.contains("keeper ·"));
    let named: Vec<PathBuf> = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().path().join("labels.json"))
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(named.len(), 1);
    assert!(std::fs::read_to_string(&named[0])
        .unwrap()
        .contains("\"keeper\""));
    // The next run: archived, then hidden.
    tmux.keys(&["j", "z"]);
    tmux.wait_for("one archived", |s| s.contains("2 of 3 shown"));
    // The last one left under the cursor: D warns, D again deletes.
    tmux.keys(&["D"]);
    tmux.wait_for("the warning", |s| s.contains("D again deletes"));
    tmux.keys(&["D"]);
    tmux.wait_for("one gone", |s| s.contains("of 2 shown"));
    assert_eq!(std::fs::read_dir(runs.join(".trash")).unwrap().count(), 1);
}
