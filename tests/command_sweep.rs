//! Sweeps of another program (`sweep --command`): each trial a process in its own group and
//! run folder, its figures read from stdout, its metrics file and TensorBoard logs, its end
//! whatever happens leaving nothing running; failures with their reasons; halving and TPE
//! over the figures a command reports, in either direction.

use gradboard::config::sweep::{SweepPlan, SweepRequest};
use gradboard::config::PresetDirs;
use gradboard::events::{EventKind, RunStatus};
use gradboard::runner::sweep::{
    read_sweep, start_command_sweep, QueueEntry, QueueState, SweepState,
};
use gradboard::runs::StoredRun;
use std::path::{Path, PathBuf};

/// Writes an executable shell script.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Runs a command sweep to its end.
fn sweep(runs: &Path, request: SweepRequest) -> SweepState {
    let presets = PresetDirs { dirs: Vec::new() };
    let spec = request.assemble(&presets).unwrap();
    let plan = SweepPlan::new(spec, &presets).unwrap();
    let handle = start_command_sweep(runs, plan, 1, Box::new(|_| {})).unwrap();
    let (state, outcome) = handle.wait();
    outcome.unwrap();
    state
}

fn request(command: String, objective: &str) -> SweepRequest {
    SweepRequest {
        command: Some(command),
        objective: Some(objective.into()),
        ..SweepRequest::default()
    }
}

/// How trial `e` ended, when it has.
fn status(e: &QueueEntry) -> Option<RunStatus> {
    match &e.state {
        QueueState::Ended { status, .. } => Some(*status),
        _ => None,
    }
}

/// Whether process `pid` is alive (not a zombie).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

#[test]
fn each_trial_gets_its_values_environment_and_folder_and_its_figures_from_every_source() {
    let dir = tempfile::tempdir().unwrap();
    let s = script(
        dir.path(),
        "train.sh",
        r#"
echo "trial=$GRADBOARD_TRIAL_ID dir=$GRADBOARD_RUN_DIR metrics=$GRADBOARD_METRICS lr=$1 w=$2" > "$GRADBOARD_RUN_DIR/seen.txt"
echo "loading..."
echo "step=1 score=$1"
echo "{\"step\": 2, \"score\": $2}" >> "$GRADBOARD_METRICS"
echo "warning: nothing" >&2
"#,
    );
    let runs = dir.path().join("runs");
    let mut r = request(format!("{} {{lr}} {{w}}", s.display()), "score");
    r.grid = vec!["lr=0.5,0.25".into()];
    r.set = vec!["w=0.75".into()];
    let state = sweep(&runs, r);
    assert_eq!(state.queue.len(), 2);
    for e in &state.queue {
        assert_eq!(status(e), Some(RunStatus::Completed), "{:?}", e.state);
        let run_dir = runs.join(e.run_id().unwrap());
        let seen = std::fs::read_to_string(run_dir.join("seen.txt")).unwrap();
        let lr = &e.swept[0].1;
        assert!(seen.contains(&format!("trial={} ", e.index)), "{seen}");
        assert!(seen.contains(&format!("lr={lr} w=0.75")), "{seen}");
        assert!(seen.contains(&format!(
            "metrics={}",
            run_dir.join("metrics.jsonl").display()
        )));
        // Both sources: stdout's step 1 and the metrics file's step 2; the best is the larger.
        let mut curve = e.curve.clone();
        curve.sort_by_key(|p| p.0);
        assert_eq!(curve, vec![(1, lr.parse().unwrap()), (2, 0.75)]);
        assert_eq!(e.best, Some(0.75));
        let out = std::fs::read_to_string(run_dir.join("stdout.log")).unwrap();
        assert!(out.contains("loading...") && out.contains("step=1 score="));
        let err = std::fs::read_to_string(run_dir.join("stderr.log")).unwrap();
        assert_eq!(err, "warning: nothing\n");
        let stored = StoredRun::load(&run_dir).unwrap();
        let start = stored.start().unwrap();
        assert_eq!(
            start.command.as_ref().unwrap()[1..],
            [lr.clone(), "0.75".to_string()]
        );
        assert_eq!(
            start.changed["lr"],
            serde_json::json!(lr.parse::<f64>().unwrap())
        );
    }
    let json = read_sweep(&state_dir(&runs)).unwrap().show_json();
    assert_eq!(json["objective"], "score");
    assert_eq!(json["trials"][0]["best"], 0.75);
}

fn state_dir(runs: &Path) -> PathBuf {
    gradboard::runner::sweep::newest_sweep(runs).unwrap()
}

#[test]
fn a_command_that_fails_cannot_start_never_reports_or_reports_nan_is_its_own_trial_and_the_sweep_goes_on(
) {
    let dir = tempfile::tempdir().unwrap();
    let s = script(
        dir.path(),
        "modes.sh",
        r#"
case $1 in
  fail) echo "Traceback (most recent call last):" >&2; echo "ValueError: lr must be positive" >&2; exit 3;;
  silent) echo "no figures here";;
  nan) echo "acc=0.5"; echo "acc=nan";;
  ok) echo "acc=0.9";;
esac
"#,
    );
    let runs = dir.path().join("runs");
    let mut r = request(format!("{} {{mode}}", s.display()), "acc");
    r.grid = vec!["mode=fail,silent,nan,ok".into()];
    let state = sweep(&runs, r);
    let ended = |i: usize| match &state.queue[i].state {
        QueueState::Ended { status, reason, .. } => (*status, reason.clone().unwrap_or_default()),
        other => panic!("{other:?}"),
    };
    let (status, reason) = ended(0);
    assert_eq!(status, RunStatus::Failed);
    assert!(
        reason.contains("exited with status 3")
            && reason.contains("ValueError: lr must be positive"),
        "{reason}"
    );
    let (status, reason) = ended(1);
    assert_eq!(status, RunStatus::Failed);
    assert!(reason.contains("never reported acc"), "{reason}");
    assert_eq!(ended(2).0, RunStatus::Diverged);
    assert_eq!(ended(3).0, RunStatus::Completed);
    assert_eq!(state.best_run().unwrap().index, 3);

    let mut r = request("/no/such/program {x}".into(), "acc");
    r.grid = vec!["x=1".into()];
    let state = sweep(&dir.path().join("runs2"), r);
    let QueueState::Ended { status, reason, .. } = &state.queue[0].state else {
        panic!("{:?}", state.queue[0].state)
    };
    assert_eq!(*status, RunStatus::Failed);
    assert!(reason
        .as_ref()
        .unwrap()
        .contains("cannot start /no/such/program"));
}

#[test]
fn templates_that_name_unswept_keys_or_leave_a_swept_key_out_are_refused_before_anything_runs() {
    let presets = PresetDirs { dirs: Vec::new() };
    let mut r = request("python train.py --lr {lr} --mom {momentum}".into(), "acc");
    r.grid = vec!["lr=0.1,0.2".into()];
    let e = r.assemble(&presets).unwrap_err().to_string();
    assert!(e.contains("{momentum} is not swept"), "{e}");
    r.grid.push("wd=0,1".into());
    r.set = vec!["momentum=0.9".into()];
    let e = r.assemble(&presets).unwrap_err().to_string();
    assert!(e.contains("wd is swept but the command has no {wd}"), "{e}");
    let mut r = request("python train.py {lr}".into(), "acc");
    r.grid = vec!["lr=0.1".into()];
    r.preset = Some("mlp-default".into());
    assert!(r
        .assemble(&presets)
        .unwrap_err()
        .to_string()
        .contains("give one"));
    let mut r = request("python train.py {lr}".into(), "");
    r.grid = vec!["lr=0.1".into()];
    assert!(r
        .assemble(&presets)
        .unwrap_err()
        .to_string()
        .contains("--objective"));
}

#[test]
fn halving_prunes_a_command_that_ignores_sigterm_and_nothing_it_started_runs_on() {
    let dir = tempfile::tempdir().unwrap();
    // Reports loss = q / step each step; ignores SIGTERM; leaves a daemon behind (its own
    // session, out of the trial's process group).
    let s = script(
        dir.path(),
        "slow.sh",
        r#"
trap '' TERM
setsid sleep 1000 </dev/null >/dev/null 2>&1 &
echo $! > "$GRADBOARD_RUN_DIR/daemon.pid"
i=1
while [ $i -le 8 ]; do
  echo "step=$i loss=$(( $1 * 100 / i ))"
  sleep 0.2
  i=$((i + 1))
done
"#,
    );
    let runs = dir.path().join("runs");
    let mut r = request(format!("{} {{q}}", s.display()), "loss");
    r.direction = Some("min".into());
    r.kill_after = Some(0.5);
    r.grid = vec!["q=1,9,8".into()];
    r.prune = Some("asha".into());
    r.prune_options.reduction = Some(2);
    let state = sweep(&runs, r);
    assert_eq!(status(&state.queue[0]), Some(RunStatus::Completed));
    // After the first (the smallest loss), each later trial is worse at its first rung.
    for e in &state.queue[1..] {
        assert_eq!(
            status(e),
            Some(RunStatus::Pruned),
            "#{} {:?}",
            e.index,
            e.state
        );
        assert_eq!(e.pruned_at, Some(1), "{e:?}");
        assert_eq!(e.step, 1, "nothing is recorded after the prune: {e:?}");
    }
    assert_eq!(
        state.best_run().unwrap().index,
        0,
        "min: the smallest loss is best"
    );
    assert_eq!(state.best_run().unwrap().best, Some(12.0));
    let pruner = state.queue[1].pruner.clone().unwrap();
    assert!(
        pruner.contains("900.0000"),
        "shown as reported, not negated: {pruner}"
    );
    for e in &state.queue {
        let run_dir = runs.join(e.run_id().unwrap());
        let pid: i32 = std::fs::read_to_string(run_dir.join("daemon.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(!alive(pid), "#{}: its daemon {pid} still runs", e.index);
        let stored = StoredRun::load(&run_dir).unwrap();
        let done = stored
            .history()
            .into_iter()
            .rev()
            .find_map(|ev| match &ev.kind {
                EventKind::Done { reason, .. } => Some(reason.clone()),
                _ => None,
            });
        assert!(done.is_some(), "#{} has its done", e.index);
    }
}

#[test]
fn tpe_over_a_command_finds_the_better_half_of_a_range() {
    let dir = tempfile::tempdir().unwrap();
    // acc peaks at x = 0.8.
    let s = script(
        dir.path(),
        "peak.sh",
        r#"echo "acc=$(awk "BEGIN { print 1 - ($1 - 0.8) * ($1 - 0.8) }")""#,
    );
    let runs = dir.path().join("runs");
    let mut r = request(format!("{} {{x}}", s.display()), "acc");
    r.sampler = Some("tpe".into());
    r.trials = Some(24);
    r.ranges = vec!["x=0.0..1.0".into()];
    let state = sweep(&runs, r);
    let best = state.best_run().unwrap();
    let x: f64 = best.swept[0].1.parse().unwrap();
    assert!((x - 0.8).abs() < 0.1, "best x {x}");
    let late: Vec<f64> = state.queue[12..]
        .iter()
        .map(|e| e.swept[0].1.parse::<f64>().unwrap())
        .collect();
    let near = late.iter().filter(|x| (*x - 0.8).abs() < 0.25).count();
    assert!(near * 2 > late.len(), "TPE samples near the peak: {late:?}");
}
