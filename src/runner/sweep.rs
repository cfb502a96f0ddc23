//! Sweeps: a queue of planned runs trained through the runner one after another (or `K` at a
//! time), each an ordinary run whose `start` names its sweep, judged by the median pruner when
//! the sweep has one. The sweep's folder (`RUNS/sweeps/ID/`) keeps its spec (`sweep.toml`)
//! and its results table (`results.json`, `results.md`), rewritten as runs end.

use super::pruner::{MedianPruner, Verdict};
use super::{Observer, RunRequest, Runner};
use crate::config::sweep::{PlannedRun, SweepSpec};
use crate::config::RunConfig;
use crate::events::{Event, EventKind, RunStatus, SweepRef};
use crate::runs::{new_run_id, write_text_atomically, RunState};
use crate::train::{Command, Control};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// The folder of sweeps inside a runs folder.
pub const SWEEPS_DIR: &str = "sweeps";

/// Where one planned run stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum QueueState {
    /// Waiting its turn.
    Pending,
    /// Taken off the queue before it started: it never runs.
    Cancelled,
    /// Training.
    Running {
        /// Its run id.
        run_id: String,
    },
    /// Ended, however.
    Ended {
        /// Its run id.
        run_id: String,
        /// How it ended (`pruned` when the pruner stopped it).
        status: RunStatus,
        /// Why, when it ended early.
        reason: Option<String>,
    },
    /// Could not start (bad settings, a folder that could not be made).
    Refused {
        /// The error.
        reason: String,
    },
    /// Started, then lost with the process that ran the sweep (killed outright): its run
    /// folder has no `done` and no process trains it (`train --resume` continues it).
    Crashed {
        /// Its run id.
        run_id: String,
    },
}

/// One row of a sweep's queue and results table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueEntry {
    /// Its place in the sweep.
    pub index: usize,
    /// Its name: the explicit run's, or its swept values.
    pub label: String,
    /// The keys it sets beyond the sweep's common overrides.
    pub swept: Vec<(String, String)>,
    /// Where it stands.
    #[serde(flatten)]
    pub state: QueueState,
    /// Last step done.
    pub step: usize,
    /// Steps it will train.
    pub steps: usize,
    /// Its evaluations: (step, test accuracy).
    pub curve: Vec<(usize, f64)>,
    /// Best test accuracy so far.
    pub best_test_acc: Option<f64>,
    /// Test accuracy of its last evaluation.
    pub final_test_acc: Option<f64>,
    /// Training seconds.
    pub seconds: Option<f64>,
    /// A figure to compare with (the report's).
    pub expected: Option<f64>,
    /// The pruner's last decision about it.
    pub pruner: Option<String>,
    /// The step at which it was pruned.
    pub pruned_at: Option<usize>,
}

impl QueueEntry {
    fn new(run: &PlannedRun) -> Self {
        QueueEntry {
            index: run.index,
            label: run.label.clone(),
            swept: run.swept.clone(),
            state: QueueState::Pending,
            step: 0,
            steps: run.config.steps,
            curve: Vec::new(),
            best_test_acc: None,
            final_test_acc: None,
            seconds: None,
            expected: run.expected,
            pruner: None,
            pruned_at: None,
        }
    }

    /// Its run id once started.
    pub fn run_id(&self) -> Option<&str> {
        match &self.state {
            QueueState::Running { run_id }
            | QueueState::Ended { run_id, .. }
            | QueueState::Crashed { run_id } => Some(run_id),
            _ => None,
        }
    }

    /// One word for its state: pending, running, completed, pruned, ...
    pub fn state_name(&self) -> String {
        match &self.state {
            QueueState::Pending => "pending".into(),
            QueueState::Cancelled => "cancelled".into(),
            QueueState::Running { .. } => "running".into(),
            QueueState::Ended { status, .. } => status.as_str().into(),
            QueueState::Refused { .. } => "refused".into(),
            QueueState::Crashed { .. } => "crashed".into(),
        }
    }
}

/// What a sweep's front end can ask of it.
#[derive(Debug, Clone, PartialEq)]
pub enum SweepCommand {
    /// Take a pending run off the queue.
    Cancel(usize),
    /// Stop the running run at `index` (the sweep goes on).
    StopRun(usize),
    /// Pause the running runs and start no new one.
    Pause,
    /// Go on.
    Resume,
    /// Stop the running runs and cancel the rest.
    StopAll,
}

/// A sweep's state, shared between its workers and its front ends.
#[derive(Debug, Clone, Serialize)]
pub struct SweepState {
    /// The sweep's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The keys it varies.
    pub swept_keys: Vec<String>,
    /// The queue, in sweep order.
    pub queue: Vec<QueueEntry>,
    /// Whether it is paused.
    pub paused: bool,
    /// Whether every run has ended or been cancelled.
    pub finished: bool,
    /// Whether the median pruner is on.
    pub pruning: bool,
}

impl SweepState {
    /// The results table: started runs, best test accuracy first.
    pub fn results(&self) -> Vec<&QueueEntry> {
        let mut rows: Vec<&QueueEntry> =
            self.queue.iter().filter(|e| e.run_id().is_some()).collect();
        rows.sort_by(|a, b| {
            b.best_test_acc
                .unwrap_or(-1.0)
                .total_cmp(&a.best_test_acc.unwrap_or(-1.0))
        });
        rows
    }

    /// Characters of the longest run label (0 for an empty queue), for tables to fit them.
    pub fn label_width(&self) -> usize {
        self.queue
            .iter()
            .map(|e| e.label.chars().count())
            .max()
            .unwrap_or(0)
    }

    /// The results table as Markdown.
    pub fn markdown(&self) -> String {
        let with_expected = self.queue.iter().any(|e| e.expected.is_some());
        let mut out = format!("# Sweep {}\n\n", self.id);
        out.push_str("| # | run | settings | status | steps | best test acc | final test acc |");
        out.push_str(if with_expected { " expected |" } else { "" });
        out.push_str(" seconds |\n|---|---|---|---|---|---|---|");
        out.push_str(if with_expected { "---|" } else { "" });
        out.push_str("---|\n");
        let figure = crate::runs::accuracy_text;
        for e in self.results() {
            let status = match e.pruned_at {
                Some(s) => format!("pruned at {s}"),
                None => e.state_name(),
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |",
                e.index,
                e.run_id().unwrap_or("-"),
                e.label,
                status,
                e.step,
                figure(e.best_test_acc),
                figure(e.final_test_acc)
            ));
            if with_expected {
                out.push_str(&format!(" {} |", figure(e.expected)));
            }
            out.push_str(&format!(
                " {} |\n",
                e.seconds.map(|s| format!("{s:.0}")).unwrap_or_default()
            ));
        }
        out
    }
}

struct Shared {
    /// Held locked while this process runs the sweep: a reader that finds it free knows the
    /// sweep's `running` entries are stale (`read_sweep`).
    _lock: std::fs::File,
    state: Mutex<SweepState>,
    /// Each run's events folded (`RunState`), by queue index; the queue shows their figures.
    folds: Mutex<Vec<Option<RunState>>>,
    wake: Condvar,
    controls: Mutex<Vec<Option<Arc<Control>>>>,
    pruner: Mutex<Option<MedianPruner>>,
    observer: Mutex<Observer>,
    dir: PathBuf,
}

/// A started sweep.
pub struct SweepHandle {
    /// Its id.
    pub id: String,
    /// Its folder.
    pub dir: PathBuf,
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

impl SweepHandle {
    /// A copy of its state now.
    pub fn state(&self) -> SweepState {
        self.shared.state.lock().expect("sweep state").clone()
    }

    /// Sends a command.
    pub fn send(&self, command: SweepCommand) {
        let shared = &self.shared;
        let controls = shared.controls.lock().expect("sweep controls");
        let mut state = shared.state.lock().expect("sweep state");
        let running = |state: &SweepState| -> Vec<usize> {
            state
                .queue
                .iter()
                .filter(|e| matches!(e.state, QueueState::Running { .. }))
                .map(|e| e.index)
                .collect()
        };
        let tell = |i: usize, c: Command| {
            if let Some(Some(control)) = controls.get(i) {
                control.send(c);
            }
        };
        match command {
            SweepCommand::Cancel(i) => {
                if let Some(e) = state.queue.get_mut(i) {
                    if e.state == QueueState::Pending {
                        e.state = QueueState::Cancelled;
                    }
                }
            }
            SweepCommand::StopRun(i) => tell(i, Command::Stop),
            SweepCommand::Pause => {
                state.paused = true;
                running(&state)
                    .into_iter()
                    .for_each(|i| tell(i, Command::Pause));
            }
            SweepCommand::Resume => {
                state.paused = false;
                running(&state)
                    .into_iter()
                    .for_each(|i| tell(i, Command::Resume));
            }
            SweepCommand::StopAll => {
                for e in state.queue.iter_mut() {
                    if e.state == QueueState::Pending {
                        e.state = QueueState::Cancelled;
                    }
                }
                state.paused = false;
                running(&state)
                    .into_iter()
                    .for_each(|i| tell(i, Command::Stop));
            }
        }
        drop(state);
        shared.wake.notify_all();
        write_results(&self.shared);
    }

    /// Whether every run has ended or been cancelled.
    pub fn is_finished(&self) -> bool {
        self.workers.iter().all(|w| w.is_finished())
    }

    /// Waits for the sweep to end and returns its final state.
    pub fn wait(self) -> SweepState {
        for w in self.workers {
            let _ = w.join();
        }
        let mut state = self.shared.state.lock().expect("sweep state");
        state.finished = true;
        let done = state.clone();
        drop(state);
        write_results(&self.shared);
        done
    }
}

/// Starts a sweep: writes its folder and spec, then trains its runs `parallel` at a time
/// (each with the runner's threads divided among them). `observer` gets every event of every
/// run.
pub fn start_sweep(
    runner: &Runner,
    spec: &SweepSpec,
    planned: Vec<PlannedRun>,
    parallel: usize,
    observer: Observer,
) -> Result<SweepHandle> {
    if planned.is_empty() {
        return Err(Error::Config(format!(
            "sweep {}: no runs (give --grid, --random with --range, or runs in the file)",
            spec.name
        )));
    }
    let (id, dir) = create_sweep_dir(runner.runs_dir(), &spec.name)?;
    let lock = lock_sweep(&dir)?;
    write_text_atomically(&dir.join("sweep.toml"), &spec.to_toml())?;
    let parallel = parallel.clamp(1, planned.len());
    let worker_runner = runner.with_threads(runner.threads() / parallel);
    let shared = Arc::new(Shared {
        _lock: lock,
        state: Mutex::new(SweepState {
            id: id.clone(),
            name: spec.name.clone(),
            swept_keys: spec.swept_keys(),
            queue: planned.iter().map(QueueEntry::new).collect(),
            paused: false,
            finished: false,
            pruning: spec.prune.is_some(),
        }),
        wake: Condvar::new(),
        folds: Mutex::new(vec![None; planned.len()]),
        controls: Mutex::new(vec![None; planned.len()]),
        pruner: Mutex::new(spec.prune.map(MedianPruner::new)),
        observer: Mutex::new(observer),
        dir: dir.clone(),
    });
    write_results(&shared);
    let planned = Arc::new(planned);
    let mut workers = Vec::new();
    for w in 0..parallel {
        let (shared, planned, runner) = (shared.clone(), planned.clone(), worker_runner.clone());
        let sweep_id = id.clone();
        workers.push(
            std::thread::Builder::new()
                .name(format!("gradboard-sweep-{w}"))
                .spawn(move || work(&runner, &sweep_id, &planned, &shared))
                .map_err(|e| Error::Other(format!("cannot start a sweep thread: {e}")))?,
        );
    }
    Ok(SweepHandle {
        id,
        dir,
        shared,
        workers,
    })
}

/// The file a running sweep holds locked.
pub const SWEEP_LOCK: &str = "sweep.lock";
/// The sweep's results, rewritten as runs end.
pub const RESULTS_FILE: &str = "results.json";

/// Locks a new sweep folder for this process.
fn lock_sweep(dir: &Path) -> Result<std::fs::File> {
    let path = dir.join(SWEEP_LOCK);
    let file = crate::files::open_write(&path)?;
    file.try_lock()
        .map_err(|e| Error::Other(format!("{}: cannot lock the sweep: {e}", path.display())))?;
    Ok(file)
}

/// A sweep's state read from its folder (`results.json`), whoever ran it. When no process
/// holds the sweep's lock, nothing will change it any more: an entry still `running` is
/// reconciled with its run folder (ended as its `done` says, else crashed) and a pending one
/// is cancelled, so a sweep killed outright does not read as running forever.
pub fn read_sweep(dir: &Path) -> Result<SweepState> {
    let path = dir.join(RESULTS_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let bad = |why: String| Error::data(&path, format!("not a sweep's results: {why}"));
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let field = |k: &str| value.get(k).cloned().unwrap_or_default();
    let queue: Vec<QueueEntry> =
        serde_json::from_value(field("queue")).map_err(|e| bad(e.to_string()))?;
    let mut state = SweepState {
        id: field("sweep_id").as_str().unwrap_or_default().to_string(),
        name: field("name").as_str().unwrap_or_default().to_string(),
        swept_keys: serde_json::from_value(field("swept_keys")).unwrap_or_default(),
        queue,
        paused: false,
        finished: field("finished").as_bool().unwrap_or(false),
        pruning: field("pruning").as_bool().unwrap_or(false),
    };
    if crate::runs::lock_held_file(&dir.join(SWEEP_LOCK)) {
        return Ok(state);
    }
    let runs_dir = dir.parent().and_then(Path::parent).unwrap_or(Path::new(""));
    for entry in state.queue.iter_mut() {
        match &entry.state {
            QueueState::Pending => entry.state = QueueState::Cancelled,
            QueueState::Running { run_id } => {
                let record = crate::runs::run_record(&runs_dir.join(run_id)).ok();
                entry.state = match record.map(|r| r.status) {
                    Some(crate::runs::ListedStatus::Ended(status)) => QueueState::Ended {
                        run_id: run_id.clone(),
                        status,
                        reason: None,
                    },
                    _ => QueueState::Crashed {
                        run_id: run_id.clone(),
                    },
                };
            }
            _ => {}
        }
    }
    state.finished = true;
    Ok(state)
}

/// The newest sweep folder of a runs folder (sweep ids start with their time), if any.
pub fn newest_sweep(runs_dir: &Path) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(runs_dir.join(SWEEPS_DIR))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(RESULTS_FILE).is_file())
        .collect();
    dirs.sort();
    dirs.pop()
}

/// Makes `RUNS/sweeps/<time>-sweep-<name>-<4 hex>` exclusively.
fn create_sweep_dir(runs_dir: &Path, name: &str) -> Result<(String, PathBuf)> {
    let parent = runs_dir.join(SWEEPS_DIR);
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    loop {
        let id = new_run_id(&format!("sweep-{name}"));
        let dir = parent.join(&id);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok((id, dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&dir, e)),
        }
    }
}

/// Takes the next pending run (waiting while paused); `None` when none is left.
fn next_run(shared: &Shared) -> Option<usize> {
    let mut state = shared.state.lock().expect("sweep state");
    loop {
        if !state.paused {
            if let Some(e) = state
                .queue
                .iter_mut()
                .find(|e| e.state == QueueState::Pending)
            {
                e.state = QueueState::Running {
                    run_id: String::new(),
                };
                return Some(e.index);
            }
            return None;
        }
        state = shared.wake.wait(state).expect("sweep state");
    }
}

/// A worker: trains pending runs one after another until none is left.
fn work(runner: &Runner, sweep_id: &str, planned: &[PlannedRun], shared: &Arc<Shared>) {
    while let Some(index) = next_run(shared) {
        let run = &planned[index];
        let mut request = RunRequest::new(&run.preset, run.config.clone(), Some(run.base.clone()));
        request.sweep = Some(SweepRef {
            id: sweep_id.to_string(),
            index,
        });
        let control = Arc::new(Control::new());
        shared.controls.lock().expect("sweep controls")[index] = Some(control.clone());
        let observer_shared = shared.clone();
        let observer_control = control.clone();
        let observer: Observer = Box::new(move |event: &Event| {
            observe(&observer_shared, index, &observer_control, event);
        });
        match runner.start_with(request, observer, control) {
            Ok(handle) => {
                {
                    let mut state = shared.state.lock().expect("sweep state");
                    state.queue[index].state = QueueState::Running {
                        run_id: handle.run_id.clone(),
                    };
                    if state.paused {
                        handle.send(Command::Pause);
                    }
                }
                write_results(shared);
                let summary = handle.wait();
                let mut state = shared.state.lock().expect("sweep state");
                let entry = &mut state.queue[index];
                entry.step = summary.step;
                entry.seconds = Some(summary.seconds);
                let run_id = entry.run_id().unwrap_or_default().to_string();
                entry.state = QueueState::Ended {
                    run_id,
                    status: summary.status,
                    reason: summary.reason.clone(),
                };
                if summary.status == RunStatus::Completed {
                    let curve = entry.curve.clone();
                    if let Some(p) = shared.pruner.lock().expect("sweep pruner").as_mut() {
                        p.record_completed(curve);
                    }
                }
            }
            Err(e) => {
                shared.state.lock().expect("sweep state").queue[index].state =
                    QueueState::Refused {
                        reason: e.to_string(),
                    };
            }
        }
        shared.controls.lock().expect("sweep controls")[index] = None;
        write_results(shared);
    }
}

/// Follows one run's events through the one fold (`RunState`): its progress in the queue, the
/// pruner's verdict at each evaluation; then hands the event on.
fn observe(shared: &Shared, index: usize, control: &Control, event: &Event) {
    let run = {
        let mut folds = shared.folds.lock().expect("sweep folds");
        let fold =
            folds[index].get_or_insert_with(|| RunState::new(&event.run_id, RunConfig::default()));
        fold.apply(event);
        Progress::of(fold)
    };
    {
        let mut state = shared.state.lock().expect("sweep state");
        let entry = &mut state.queue[index];
        entry.step = run.step;
        entry.curve = run.curve;
        entry.final_test_acc = run.final_test_acc;
        entry.best_test_acc = run.best_test_acc;
        entry.pruned_at = run.pruned_at;
        if let EventKind::Eval { step, .. } = &event.kind {
            // The last evaluation ends the run anyway: nothing is left to prune.
            let last = *step >= entry.steps;
            let verdict = shared
                .pruner
                .lock()
                .expect("sweep pruner")
                .as_ref()
                .filter(|_| !last)
                .map(|p| p.judge(&entry.curve));
            if let Some(v) = verdict {
                entry.pruner = Some(v.text().to_string());
                if let Verdict::Prune(reason) = v {
                    control.send(Command::Prune { reason });
                }
            }
        }
    }
    (shared.observer.lock().expect("sweep observer"))(event);
}

/// What the queue shows of a run's fold.
struct Progress {
    step: usize,
    curve: Vec<(usize, f64)>,
    final_test_acc: Option<f64>,
    best_test_acc: Option<f64>,
    pruned_at: Option<usize>,
}

impl Progress {
    fn of(run: &RunState) -> Self {
        Progress {
            step: run.step,
            curve: run
                .curves
                .test_acc
                .iter()
                .map(|p| (p.0 as usize, p.1))
                .collect(),
            final_test_acc: run.final_test_acc(),
            best_test_acc: run.best_test_acc(),
            pruned_at: run.pruned_at,
        }
    }
}

/// Rewrites the results table in the sweep's folder; a failure is logged, never fatal.
fn write_results(shared: &Shared) {
    let state = shared.state.lock().expect("sweep state").clone();
    let json = serde_json::json!({
        "sweep_id": state.id,
        "name": state.name,
        "swept_keys": state.swept_keys,
        "finished": state.finished,
        "pruning": state.pruning,
        "results": state.results(),
        "queue": state.queue,
    });
    for (file, text) in [
        (
            RESULTS_FILE,
            serde_json::to_string_pretty(&json).unwrap_or_default(),
        ),
        ("results.md", state.markdown()),
    ] {
        if let Err(e) = write_text_atomically(&shared.dir.join(file), &text) {
            tracing::warn!("sweep {}: {e}", state.id);
        }
    }
}
