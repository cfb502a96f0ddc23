//! Sweeps on a real one-node SLURM (`scripts/slurm-local.sh start`, which `.ci/run` runs):
//! an array job into the runs folder with a bad run pruned from its siblings' figures, `sweep
//! show` agreeing with the same sweep trained here, a task requeued mid-run ending with the
//! curve of an uninterrupted run, a run started twice training once. Without SLURM they skip,
//! except in CI (`CI` set), where they fail.

use gradboard::data::synthetic::{files, write_archive};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gradboard");

/// The cluster has two cores: one test's jobs at a time.
static CLUSTER: Mutex<()> = Mutex::new(());

/// Whether the one-node SLURM answers; in CI its absence is a failure.
fn slurm_up() -> bool {
    let up = Command::new("timeout")
        .args(["5", "sinfo", "-h", "-o", "%T"])
        .output()
        .is_ok_and(|o| {
            let s = String::from_utf8_lossy(&o.stdout);
            o.status.success()
                && s.lines().any(|l| {
                    l.starts_with("idle") || l.starts_with("mix") || l.starts_with("alloc")
                })
        });
    if !up && std::env::var_os("CI").is_some() {
        panic!("SLURM is not up: scripts/slurm-local.sh start (as root) brings up the one-node cluster");
    }
    if !up {
        eprintln!("skipped: SLURM is not up (scripts/slurm-local.sh start)");
    }
    up
}

fn gradboard(home: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("GRADBOARD_DATA")
        .env(
            "GRADBOARD_PRESETS",
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../presets"),
        )
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .args(["--threads", "1"])
        .current_dir(home);
    c
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A home with the small data set (200 training images, 50 test).
fn home() -> (tempfile::TempDir, PathBuf) {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("tiny.tar.gz");
    write_archive(&data, &files(40, 50)).unwrap();
    (home, data)
}

/// The sweep folder a submission made (the only one in the runs folder).
fn sweep_dir(home: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(home.join("runs/sweeps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    dirs.pop().unwrap()
}

fn job_of(dir: &Path) -> String {
    let job: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("slurm.json")).unwrap()).unwrap();
    job["job_id"].as_str().unwrap().to_string()
}

/// Waits until SLURM has no task of `job` left (three minutes at most).
fn wait_job(job: &str) {
    let start = Instant::now();
    loop {
        let out = Command::new("squeue")
            .args(["-h", "-j", job])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "job {job} still queued"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn show(home: &Path, dir: &Path) -> Value {
    let text = ok(gradboard(home)
        .args(["sweep", "show"])
        .arg(dir)
        .arg("--json")
        .output()
        .unwrap());
    serde_json::from_str(&text).unwrap()
}

/// Every whole event of a run folder (a line still being written is left for later).
fn events(run_dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(run_dir.join("events.jsonl")).unwrap();
    let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    whole
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// (step, test accuracy) of each evaluation, as the run's history has them after resumes.
fn test_curve(run_dir: &Path) -> Vec<(u64, f64)> {
    let mut curve: Vec<(u64, f64)> = Vec::new();
    for e in events(run_dir) {
        match e["event"].as_str() {
            Some("resume") => {
                let step = e["step"].as_u64().unwrap();
                curve.retain(|p| p.0 <= step);
            }
            Some("eval") => {
                curve.push((e["step"].as_u64().unwrap(), e["test_acc"].as_f64().unwrap()))
            }
            _ => {}
        }
    }
    curve
}

#[test]
fn a_grid_on_the_cluster_prunes_the_bad_run_and_shows_as_the_local_sweep_does() {
    let _one = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    if !slurm_up() {
        return;
    }
    let (home, data) = home();
    // Four runs two at a time; the last learns nothing (lr 1e-7), and successive halving
    // judges it at step 20 against the figures its siblings recorded there.
    let spec = [
        "sweep",
        "--preset",
        "mlp-default",
        "--grid",
        "lr=1e-3,2e-3,3e-3,1e-7",
        "--set",
        "optimizer=adam",
        "--set",
        "steps=60",
        "--set",
        "eval_every=20",
        "--set",
        "batch_size=20",
        "--set",
        "val_split=100",
    ];
    let text = ok(gradboard(home.path())
        .args(spec)
        .args([
            "--prune",
            "asha",
            "--prune-reduction",
            "2",
            "--on",
            "slurm",
            "--parallel",
            "2",
            "--data",
        ])
        .arg(&data)
        .output()
        .unwrap());
    assert!(text.contains("submitted job"), "{text}");
    let dir = sweep_dir(home.path());
    assert!(dir.join("job.sh").is_file());
    wait_job(&job_of(&dir));
    let state = show(home.path(), &dir);
    assert_eq!(state["status"], "finished");
    let trials = state["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 4);
    for t in trials {
        let run = home.path().join("runs").join(t["run_id"].as_str().unwrap());
        let dones = events(&run).iter().filter(|e| e["event"] == "done").count();
        assert_eq!(dones, 1, "{}", run.display());
        // Each trial names the array task that trained it (the timeline's lanes).
        let worker = t["worker"].as_str().unwrap_or_default();
        assert!(
            worker.starts_with("task ") && worker.contains(&format!("_{}", t["index"])),
            "{t}"
        );
    }
    assert_eq!(trials[3]["status"], "pruned", "{state}");
    let rungs = std::fs::read_to_string(dir.join("rungs.jsonl")).unwrap();
    let pruned: Vec<Value> = rungs
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["index"] == 3)
        .collect();
    assert_eq!(pruned.last().unwrap()["promoted"], false, "{rungs}");
    let md = std::fs::read_to_string(dir.join("results.md")).unwrap();
    for t in trials {
        assert!(md.contains(t["run_id"].as_str().unwrap()), "{md}");
    }

    // The same grid without a pruner, on the cluster and here: the same figures.
    let (home, data) = self::home();
    let plain = [
        "sweep",
        "--preset",
        "mlp-default",
        "--grid",
        "lr=1e-3,2e-3",
        "--grid",
        "optimizer=sgd,adam",
        "--set",
        "steps=30",
        "--set",
        "eval_every=10",
        "--set",
        "batch_size=20",
    ];
    ok(gradboard(home.path())
        .args(plain)
        .args(["--on", "slurm", "--parallel", "2", "--data"])
        .arg(&data)
        .output()
        .unwrap());
    let cluster_dir = sweep_dir(home.path());
    wait_job(&job_of(&cluster_dir));
    let cluster = show(home.path(), &cluster_dir);
    std::fs::rename(home.path().join("runs"), home.path().join("cluster-runs")).unwrap();
    ok(gradboard(home.path())
        .args(plain)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap());
    let local = show(home.path(), &sweep_dir(home.path()));
    let figures = |s: &Value| -> Vec<(Value, Value, Value, Value)> {
        s["trials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["status"].clone(),
                    t["best"].clone(),
                    t["best_test_acc"].clone(),
                    t["final_test_acc"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(figures(&cluster), figures(&local));
    assert_eq!(cluster["importance"], local["importance"]);
}

#[test]
fn a_requeued_task_resumes_its_run_to_the_uninterrupted_curve() {
    let _one = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    if !slurm_up() {
        return;
    }
    let (home, data) = home();
    let spec = [
        "sweep",
        "--preset",
        "mlp-default",
        "--grid",
        "lr=1e-3",
        "--set",
        "steps=20000",
        "--set",
        "eval_every=2000",
        "--set",
        "batch_size=20",
    ];
    ok(gradboard(home.path())
        .args(spec)
        .args(["--on", "slurm", "--data"])
        .arg(&data)
        .output()
        .unwrap());
    let dir = sweep_dir(home.path());
    let job = job_of(&dir);
    // Once the run has trained a while, SLURM requeues the task (as preemption does).
    let start = Instant::now();
    let run_dir = loop {
        let trial = dir.join("trials/000000.json");
        if let Ok(text) = std::fs::read_to_string(&trial) {
            let t: Value = serde_json::from_str(&text).unwrap();
            let run = home.path().join("runs").join(t["run_id"].as_str().unwrap());
            let trained = events(&run)
                .iter()
                .filter(|e| e["event"] == "train")
                .count();
            if trained >= 3000 {
                break run;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the task did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    ok(Command::new("scontrol")
        .args(["requeue", &format!("{job}_0")])
        .output()
        .unwrap());
    // SLURM holds a requeued task two minutes; once it waits for that, let it start now.
    let released = Instant::now();
    loop {
        let reason = Command::new("squeue")
            .args(["-h", "-j", &format!("{job}_0"), "-o", "%r"])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&reason.stdout).contains("BeginTime") {
            // While SLURM holds the task, the trial reads requeued and the sweep running.
            let stopped_at = Instant::now();
            while !events(&run_dir).iter().any(|e| e["event"] == "done") {
                assert!(stopped_at.elapsed() < Duration::from_secs(20), "no done");
                std::thread::sleep(Duration::from_millis(100));
            }
            let state = show(home.path(), &dir);
            assert_eq!(state["trials"][0]["status"], "requeued", "{state}");
            assert_eq!(state["status"], "running", "{state}");
            // slurmd refuses a launch whose credential is from the second in which the job was
            // killed (credential times have whole seconds: "Job credential revoked"), so the
            // task starts again in the next second at the earliest.
            std::thread::sleep(Duration::from_millis(1500));
            ok(Command::new("scontrol")
                .args(["update", &format!("jobid={job}_0"), "StartTime=now"])
                .output()
                .unwrap());
            break;
        }
        assert!(
            released.elapsed() < Duration::from_secs(60),
            "the task was not requeued"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    wait_job(&job);
    let history = events(&run_dir);
    let stopped = history
        .iter()
        .filter(|e| e["event"] == "done" && e["status"] == "stopped")
        .count();
    assert_eq!(stopped, 1, "the requeue stopped the run once");
    assert_eq!(history.iter().filter(|e| e["event"] == "resume").count(), 1);
    assert_eq!(history.last().unwrap()["status"], "completed");
    // The same run here, uninterrupted.
    std::fs::rename(home.path().join("runs"), home.path().join("cluster-runs")).unwrap();
    ok(gradboard(home.path())
        .args(spec)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap());
    let local_run = std::fs::read_dir(home.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap() != "sweeps")
        .unwrap();
    let requeued = test_curve(
        &home
            .path()
            .join("cluster-runs")
            .join(run_dir.file_name().unwrap()),
    );
    assert_eq!(requeued.len(), 10);
    assert_eq!(requeued, test_curve(&local_run));
}

/// A one-run sweep submitted held (`--hold`): its folder written, no task started by SLURM.
fn held_sweep(home: &Path, data: &Path) -> PathBuf {
    ok(gradboard(home)
        .args([
            "sweep",
            "--preset",
            "mlp-default",
            "--grid",
            "lr=1e-3",
            "--set",
            "steps=4000",
            "--set",
            "eval_every=1000",
            "--set",
            "batch_size=20",
            "--on",
            "slurm",
            "--sbatch=--hold",
            "--data",
        ])
        .arg(data)
        .output()
        .unwrap());
    sweep_dir(home)
}

#[test]
fn a_run_started_twice_trains_once() {
    let _one = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    if !slurm_up() {
        return;
    }
    let (home, data) = home();
    // The job is held: the two tasks below are started by hand, at once.
    let dir = held_sweep(home.path(), &data);
    let task = |dir: &Path| {
        gradboard(home.path())
            .args(["sweep", "trial"])
            .arg(dir)
            .args(["--index", "0", "--data"])
            .arg(&data)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (task(&dir), task(&dir));
    let outs: Vec<String> = [a, b]
        .into_iter()
        .map(|c| ok(c.wait_with_output().unwrap()))
        .collect();
    let _ = Command::new("scancel").arg(job_of(&dir)).output();
    let trained = outs
        .iter()
        .filter(|o| o.contains("completed at step"))
        .count();
    let other = outs
        .iter()
        .filter(|o| o.contains("another task trains it") || o.contains("already trained"))
        .count();
    assert_eq!((trained, other), (1, 1), "{outs:?}");
    let runs: Vec<PathBuf> = std::fs::read_dir(home.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "sweeps")
        .collect();
    assert_eq!(runs.len(), 1, "one run folder");
    let history = events(&runs[0]);
    assert_eq!(history.iter().filter(|e| e["event"] == "done").count(), 1);
    assert_eq!(history.iter().filter(|e| e["event"] == "start").count(), 1);
    // A third start after it ended trains nothing.
    let again = ok(task(&dir).wait_with_output().unwrap());
    assert!(again.contains("already trained"), "{again}");
    let whole = test_curve(&runs[0]);

    // The same run's task killed outright (a node lost) after its second evaluation: the
    // next start of the task resumes the crashed run to the same curve.
    std::fs::rename(home.path().join("runs"), home.path().join("first-runs")).unwrap();
    let dir = held_sweep(home.path(), &data);
    let mut child = task(&dir);
    let start = Instant::now();
    let run = loop {
        let evals = std::fs::read_to_string(dir.join("trials/000000.json"))
            .ok()
            .map(|t| {
                let t: Value = serde_json::from_str(&t).unwrap();
                let run = home.path().join("runs").join(t["run_id"].as_str().unwrap());
                let n = events(&run).iter().filter(|e| e["event"] == "eval").count();
                (run, n)
            });
        if let Some((run, _)) = evals.filter(|e| e.1 >= 2) {
            break run;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the task did not train"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = Command::new("scancel").arg(job_of(&dir)).output();
    let crashed = events(&run);
    assert!(
        !crashed.iter().any(|e| e["event"] == "done"),
        "killed before its end"
    );
    let resumed = ok(task(&dir).wait_with_output().unwrap());
    assert!(resumed.contains("completed at step 4000"), "{resumed}");
    assert_eq!(test_curve(&run), whole);
}

/// A command sweep on the cluster: TPE with successive halving over a script's own figures,
/// each task running the command as a local sweep does; a task requeued mid-trial starts the
/// command again with GRADBOARD_RESUME=1, which goes on from its own checkpoint; when the job
/// ends no process of any trial (the script's daemons included) runs on.
#[test]
fn a_command_sweep_on_the_cluster_prunes_resumes_a_requeued_trial_and_leaves_nothing_running() {
    let _one = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    if !slurm_up() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let script = home.path().join("train.sh");
    // score = step / q; a step a 0.4 s, 24 steps; its step kept in the run folder; a daemon
    // left behind. A trial waits after step 6 while the hold file exists, which the test
    // removes once the requeued task is back in the queue: the requeue always finds trial 0
    // running (twice in fresh-clone CI runs, timing alone let it end first).
    let hold = home.path().join("hold");
    std::fs::write(&hold, "").unwrap();
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
setsid sleep 1000 </dev/null >/dev/null 2>&1 &
echo $! >> "$GRADBOARD_RUN_DIR/daemons"
i=1
if [ "$GRADBOARD_RESUME" = "1" ]; then i=$(( $(cat "$GRADBOARD_RUN_DIR/at") + 1 )); echo "resumed at $i" >&2; fi
while [ $i -le 24 ]; do
  echo "step=$i score=$(awk "BEGIN {{ print $i / $1 }}")"
  echo $i > "$GRADBOARD_RUN_DIR/at"
  if [ $i -eq 6 ]; then while [ -e "{hold}" ]; do sleep 0.1; done; fi
  sleep 0.4
  i=$((i + 1))
done
"#,
            hold = hold.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    ok(gradboard(home.path())
        .args([
            "sweep",
            "--command",
            "./train.sh {q}",
            "--objective",
            "score",
        ])
        .args(["--sampler", "tpe", "--trials", "4", "--range", "q=1..20"])
        .args(["--prune", "asha", "--prune-reduction", "2", "--on", "slurm"])
        .output()
        .unwrap());
    let dir = sweep_dir(home.path());
    let job = job_of(&dir);
    // Once trial 0 has reported a few steps, requeue its task.
    let start = Instant::now();
    let run_dir = loop {
        if let Ok(text) = std::fs::read_to_string(dir.join("trials/000000.json")) {
            let t: Value = serde_json::from_str(&text).unwrap();
            let run = home.path().join("runs").join(t["run_id"].as_str().unwrap());
            let reported = events(&run)
                .iter()
                .filter(|e| e["event"] == "metrics")
                .count();
            if reported >= 3 {
                break run;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no trial started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    ok(Command::new("scontrol")
        .args(["requeue", &format!("{job}_0")])
        .output()
        .unwrap());
    let released = Instant::now();
    loop {
        let reason = Command::new("squeue")
            .args(["-h", "-j", &format!("{job}_0"), "-o", "%r"])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&reason.stdout).contains("BeginTime") {
            std::fs::remove_file(&hold).unwrap();
            std::thread::sleep(Duration::from_millis(1500));
            ok(Command::new("scontrol")
                .args(["update", &format!("jobid={job}_0"), "StartTime=now"])
                .output()
                .unwrap());
            break;
        }
        assert!(released.elapsed() < Duration::from_secs(60), "not requeued");
        std::thread::sleep(Duration::from_millis(200));
    }
    wait_job(&job);
    let history = events(&run_dir);
    assert_eq!(history.iter().filter(|e| e["event"] == "resume").count(), 1);
    let stderr = std::fs::read_to_string(run_dir.join("stderr.log")).unwrap();
    assert!(stderr.contains("resumed at"), "{stderr}");
    let state = show(home.path(), &dir);
    assert_eq!(state["objective"], "score");
    assert_eq!(state["status"], "finished", "{state}");
    let trials = state["trials"].as_array().unwrap();
    assert_eq!(trials[0]["status"], "completed", "{state}");
    assert_eq!(trials[0]["step"], 24);
    let statuses: Vec<&str> = trials
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.iter().all(|s| ["completed", "pruned"].contains(s)),
        "{statuses:?}"
    );
    // The best trial's best is the highest score it reported.
    let best = &state["best"];
    let index = best["index"].as_u64().unwrap() as usize;
    let q: f64 = trials[index]["settings"]["q"].as_f64().unwrap();
    let step = trials[index]["step"].as_f64().unwrap();
    let reported = best["best"].as_f64().unwrap();
    assert!((reported - step / q).abs() < 1e-4, "{state}");
    // Nothing any trial started runs on.
    for t in trials {
        let run = home.path().join("runs").join(t["run_id"].as_str().unwrap());
        let daemons = std::fs::read_to_string(run.join("daemons")).unwrap();
        for pid in daemons.split_whitespace() {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let live = stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'));
            assert!(!live, "a daemon of {} runs on: {pid}", t["run_id"]);
        }
    }
}
