//! Sweeps: runs trained through the runner one after another (or `K` at a time), each an
//! ordinary run whose `start` names its sweep. The sweep's folder (`folder`) holds its state;
//! the book (`book`) reads it back; the sampler (TPE) and the pruners (median, successive
//! halving) judge from the book, so the same decisions come out wherever the runs train.

mod book;
pub mod figure;
mod folder;
mod legacy;
pub mod parallel;
mod state;

pub use book::Book;
pub use folder::{
    Mark, RungRecord, SweepFolder, SweepMeta, TrialRecord, META_FILE, PARALLEL_PNG, PARALLEL_SVG,
    RESULTS_FILE, RESULTS_MD, SPEC_FILE, SWEEPS_DIR, SWEEP_LOCK,
};
pub use state::{bar, Budget, GroupRow, Local, QueueEntry, QueueState, SweepState, SweepStatus};

use super::{Observer, RunRequest, Runner};
use crate::config::sweep::{Configuration, PrunerSpec, SamplerKind, SweepPlan, SweepSpec};
use crate::data::derive_seed;
use crate::events::{Event, EventKind, SweepRef};
use crate::search::median::Verdict;
use crate::search::stats::mean;
use crate::search::tpe::{Outcome, Tpe};
use crate::train::{Command, Control};
use crate::{Error, Result};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How stale a front end's view of the folder may be.
const VIEW_AGE: Duration = Duration::from_millis(250);

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

/// This process's queue: which runs it has taken, which are starting.
#[derive(Default)]
struct Queue {
    taken: Vec<bool>,
    local: Local,
}

struct Shared {
    /// Held while this process runs the queue: a reader that finds it free knows no process
    /// will start the sweep's pending runs.
    _lock: std::fs::File,
    plan: SweepPlan,
    folder: SweepFolder,
    book: Mutex<Book>,
    queue: Mutex<Queue>,
    wake: Condvar,
    controls: Mutex<Vec<Option<Arc<Control>>>>,
    observer: Mutex<Observer>,
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
    /// A copy of its state now (the folder read at most `VIEW_AGE` ago).
    pub fn state(&self) -> SweepState {
        state_now(&self.shared, false)
    }

    /// The plan it runs.
    pub fn plan(&self) -> &SweepPlan {
        &self.shared.plan
    }

    /// Sends a command.
    pub fn send(&self, command: SweepCommand) {
        let shared = &self.shared;
        let controls = shared.controls.lock().expect("sweep controls");
        let mut queue = shared.queue.lock().expect("sweep queue");
        let tell = |i: usize, c: Command| {
            if let Some(Some(control)) = controls.get(i) {
                control.send(c);
            }
        };
        let running: Vec<usize> = controls
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().map(|_| i))
            .collect();
        match command {
            SweepCommand::Cancel(i) => {
                if queue.taken.get(i) == Some(&false) {
                    queue.taken[i] = true;
                    cancel(shared, i);
                }
            }
            SweepCommand::StopRun(i) => tell(i, Command::Stop),
            SweepCommand::Pause => {
                queue.local.paused = true;
                running.iter().for_each(|&i| tell(i, Command::Pause));
            }
            SweepCommand::Resume => {
                queue.local.paused = false;
                running.iter().for_each(|&i| tell(i, Command::Resume));
            }
            SweepCommand::StopAll => {
                for i in 0..queue.taken.len() {
                    if !queue.taken[i] {
                        queue.taken[i] = true;
                        cancel(shared, i);
                    }
                }
                queue.local.paused = false;
                running.iter().for_each(|&i| tell(i, Command::Stop));
            }
        }
        drop(queue);
        drop(controls);
        shared.wake.notify_all();
        write_results(shared);
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
        {
            let mut queue = self.shared.queue.lock().expect("sweep queue");
            queue.local.running = false;
        }
        write_results(&self.shared);
        state_now(&self.shared, true)
    }
}

/// The state from the book (refreshed when older than `VIEW_AGE`, or now when `fresh`).
fn state_now(shared: &Shared, fresh: bool) -> SweepState {
    let local = shared.queue.lock().expect("sweep queue").local.clone();
    let mut book = shared.book.lock().expect("sweep book");
    if fresh {
        book.refresh();
    } else {
        book.refresh_if_older(VIEW_AGE);
    }
    SweepState::build(&shared.plan.spec, &book, &local)
}

/// Writes a cancelled run's record.
fn cancel(shared: &Shared, index: usize) {
    let (group, _) = shared.plan.locate(index);
    let record = TrialRecord {
        index,
        group,
        seed: None,
        run_id: None,
        mark: Mark::Cancelled,
        reason: None,
    };
    if let Err(e) = shared.folder.write_trial(&record) {
        tracing::warn!("sweep: {e}");
    }
}

/// Starts a sweep: writes its folder (spec, plan, the configurations fixed in advance), then
/// trains its runs `parallel` at a time (each with the runner's threads divided among them).
/// `observer` gets every event of every run.
pub fn start_sweep(
    runner: &Runner,
    mut plan: SweepPlan,
    parallel: usize,
    observer: Observer,
) -> Result<SweepHandle> {
    let spec = plan.spec.clone();
    let notice = plan.fit(runner.data().train.len());
    let trials = plan.trials();
    if trials == 0 {
        return Err(Error::Config(format!(
            "sweep {}: no runs (give --grid, --random or --sampler tpe with ranges, or runs in the file)",
            spec.name
        )));
    }
    let (id, folder) = SweepFolder::create(runner.runs_dir(), &spec.name)?;
    let lock = folder.lock_running()?;
    crate::files::write_text_atomically(&folder.dir().join(SPEC_FILE), &plan.spec.to_toml())?;
    let meta = SweepMeta {
        sweep_id: id.clone(),
        name: spec.name.clone(),
        groups: plan.groups(),
        seeds: plan.spec.seeds.max(1),
        trials,
        objective: plan.objective(),
        first_eval: plan.first_eval(),
        steps: plan.steps(),
        notice,
    };
    folder.write_meta(&meta)?;
    for conf in plan.fixed_all() {
        folder.write_group(conf)?;
    }
    let parallel = parallel.clamp(1, trials);
    let worker_runner = runner.with_threads(runner.threads() / parallel);
    let shared = Arc::new(Shared {
        _lock: lock,
        book: Mutex::new(Book::open(folder.clone(), meta)),
        folder: folder.clone(),
        plan,
        queue: Mutex::new(Queue {
            taken: vec![false; trials],
            local: Local {
                running: true,
                ..Local::default()
            },
        }),
        wake: Condvar::new(),
        controls: Mutex::new(vec![None; trials]),
        observer: Mutex::new(observer),
    });
    write_results(&shared);
    let mut workers = Vec::new();
    for w in 0..parallel {
        let (shared, runner) = (shared.clone(), worker_runner.clone());
        let sweep_id = id.clone();
        workers.push(
            std::thread::Builder::new()
                .name(format!("gradboard-sweep-{w}"))
                .spawn(move || work(&runner, &sweep_id, &shared))
                .map_err(|e| Error::Other(format!("cannot start a sweep thread: {e}")))?,
        );
    }
    Ok(SweepHandle {
        id,
        dir: folder.dir().to_path_buf(),
        shared,
        workers,
    })
}

/// Takes the next run off the queue (waiting while paused); `None` when none is left.
fn next_run(shared: &Shared) -> Option<usize> {
    let mut queue = shared.queue.lock().expect("sweep queue");
    loop {
        if !queue.local.paused {
            let index = queue.taken.iter().position(|t| !t)?;
            queue.taken[index] = true;
            queue.local.claimed.push(index);
            return Some(index);
        }
        queue = shared.wake.wait(queue).expect("sweep queue");
    }
}

/// Configuration `group`'s settings: fixed in advance, chosen already by another run of it,
/// or chosen now by TPE from what the folder says of every other configuration; written
/// before any of its runs starts.
fn configure(shared: &Shared, group: usize) -> Result<Configuration> {
    let _guard = shared.folder.guard()?;
    let mut book = shared.book.lock().expect("sweep book");
    book.refresh();
    if let Some(conf) = book.group(group) {
        return Ok(conf.clone());
    }
    let plan = &shared.plan;
    let conf = match plan.fixed(group) {
        Some(c) => c.clone(),
        None if plan.spec.sampler == SamplerKind::Tpe => {
            let space = plan.spec.space();
            let history = book.observations(&space, group);
            let finished = history
                .iter()
                .filter(|o| o.outcome != Outcome::Running)
                .count();
            let tpe = Tpe::default();
            let mut rng = SmallRng::seed_from_u64(derive_seed(plan.spec.seed, group as u64));
            let point = tpe.suggest(&space, &history, &mut rng);
            let source = if finished < tpe.startup {
                "startup"
            } else {
                "tpe"
            };
            plan.sampled(group, &point, source)
        }
        None => {
            return Err(Error::Other(format!(
                "sweep: configuration {group} is not in the plan"
            )))
        }
    };
    shared.folder.write_group(&conf)?;
    book.refresh();
    Ok(conf)
}

/// A worker: trains runs off the queue one after another until none is left.
fn work(runner: &Runner, sweep_id: &str, shared: &Arc<Shared>) {
    while let Some(index) = next_run(shared) {
        let (group, _) = shared.plan.locate(index);
        let planned = configure(shared, group).and_then(|conf| shared.plan.run(index, &conf));
        let started = planned.and_then(|run| {
            let mut request =
                RunRequest::new(&run.preset, run.config.clone(), Some(run.base.clone()));
            request.sweep = Some(SweepRef {
                id: sweep_id.to_string(),
                index,
                group: Some(group),
            });
            let control = Arc::new(Control::new());
            shared.controls.lock().expect("sweep controls")[index] = Some(control.clone());
            let (observer_shared, observer_control) = (shared.clone(), control.clone());
            let seed = run.config.seed;
            let observer: Observer = Box::new(move |event: &Event| {
                observe(&observer_shared, index, seed, &observer_control, event);
            });
            runner.start_with(request, observer, control)
        });
        {
            let mut queue = shared.queue.lock().expect("sweep queue");
            queue.local.claimed.retain(|&i| i != index);
        }
        match started {
            Ok(handle) => {
                if shared.queue.lock().expect("sweep queue").local.paused {
                    handle.send(Command::Pause);
                }
                write_results(shared);
                handle.wait();
            }
            Err(e) => {
                let record = TrialRecord {
                    index,
                    group,
                    seed: None,
                    run_id: None,
                    mark: Mark::Refused,
                    reason: Some(e.to_string()),
                };
                if let Err(e) = shared.folder.write_trial(&record) {
                    tracing::warn!("sweep: {e}");
                }
            }
        }
        shared.controls.lock().expect("sweep controls")[index] = None;
        write_results(shared);
    }
}

/// Follows one run: its record is written at its `start` (before any evaluation), each
/// evaluation but the last is judged by the pruner, and every event goes on to the observer.
fn observe(shared: &Shared, index: usize, seed: u64, control: &Control, event: &Event) {
    match &event.kind {
        EventKind::Start(info) => {
            let record = TrialRecord {
                index,
                group: shared.plan.locate(index).0,
                seed: Some(seed),
                run_id: Some(event.run_id.clone()),
                mark: Mark::Started,
                reason: None,
            };
            if let Err(e) = shared.folder.write_trial(&record) {
                tracing::warn!("sweep: {e}");
            }
            let _ = info;
        }
        EventKind::Eval { step, .. } => {
            if let Some(pruner) = shared.plan.spec.prune {
                let last = shared
                    .book
                    .lock()
                    .expect("sweep book")
                    .run(index)
                    .map_or(usize::MAX, |r| r.last_step());
                if *step < last {
                    if let Err(e) = judge(shared, pruner, index, *step, control) {
                        tracing::warn!("sweep pruner: {e}");
                    }
                }
            }
        }
        _ => {}
    }
    (shared.observer.lock().expect("sweep observer"))(event);
}

/// The pruner's decision after run `index`'s evaluation at `step`, from the folder: the
/// median of the finished configurations at that step, or successive halving's rungs (each
/// decision appended to the folder). A configuration's figure is the mean of its runs' once
/// they have reported.
fn judge(
    shared: &Shared,
    pruner: PrunerSpec,
    index: usize,
    step: usize,
    control: &Control,
) -> Result<()> {
    let _guard = shared.folder.guard()?;
    let mut book = shared.book.lock().expect("sweep book");
    book.refresh();
    let group = shared.plan.locate(index).0;
    let curve = book.curve(index);
    let Some(&(at, value)) = curve.last() else {
        return Ok(());
    };
    if at != step {
        return Ok(());
    }
    let objective = book.meta.objective.label();
    let note = match pruner {
        PrunerSpec::Median(median) => {
            let best_so_far = |curve: &[(usize, f64)]| {
                curve
                    .iter()
                    .filter(|p| p.0 <= step)
                    .map(|p| p.1)
                    .fold(f64::NEG_INFINITY, f64::max)
            };
            let mut own: Vec<f64> = vec![best_so_far(&curve)];
            for sibling in book.members(group).filter(|&i| i != index) {
                let c = book.curve(sibling);
                if c.iter().any(|p| p.0 == step) {
                    own.push(best_so_far(&c));
                }
            }
            // The finished configurations' figures at this step, one a configuration.
            let finished: Vec<f64> = book
                .groups()
                .filter(|c| c.group != group)
                .filter(|c| matches!(book.outcome(c.group), Some(Outcome::Complete(_))))
                .filter_map(|c| {
                    let at_step: Vec<f64> = book
                        .members(c.group)
                        .filter_map(|i| book.curve(i).iter().find(|p| p.0 == step).map(|p| p.1))
                        .collect();
                    mean(&at_step)
                })
                .collect();
            let judged: Vec<(usize, f64)> = curve
                .iter()
                .map(|&(s, v)| {
                    if s == step {
                        (s, mean(&own).unwrap_or(v))
                    } else {
                        (s, v)
                    }
                })
                .collect();
            let verdict = median.judge(&judged, &finished, objective);
            if let Verdict::Prune(reason) = &verdict {
                control.send(Command::Prune {
                    reason: reason.clone(),
                });
            }
            verdict.text().to_string()
        }
        PrunerSpec::Asha { .. } => {
            let asha = pruner.asha(shared.plan.first_eval()).expect("asha");
            let passed = book.rungs_of(index).map(|r| r.rung + 1).max().unwrap_or(0);
            let mut own = book.group_rung_values(group, passed, index);
            own.push(value);
            let figure = mean(&own).unwrap_or(value);
            let decisions = asha.judge(passed, step, figure, |k| book.rung_values(k, group));
            let mut note = None;
            for d in &decisions {
                let record = RungRecord {
                    index,
                    group,
                    rung: d.rung,
                    rung_step: d.rung_step,
                    step,
                    value: d.value,
                    cutoff: d.cutoff,
                    competitors: d.competitors,
                    keep: d.keep,
                    promoted: d.promoted,
                };
                shared.folder.append_rung(&record)?;
                note = Some(d.text());
                if !d.promoted {
                    control.send(Command::Prune { reason: d.text() });
                }
            }
            book.refresh();
            match note {
                Some(n) => n,
                None => return Ok(()),
            }
        }
    };
    drop(book);
    shared
        .queue
        .lock()
        .expect("sweep queue")
        .local
        .notes
        .insert(index, note);
    Ok(())
}

/// Rewrites the results in the sweep's folder (JSON, Markdown, the parallel-coordinates
/// figure); a failure is logged, never fatal.
fn write_results(shared: &Shared) {
    let state = state_now(shared, true);
    write_results_of(&state, shared.folder.dir());
}

/// Writes `state`'s results into `dir`.
pub fn write_results_of(state: &SweepState, dir: &Path) {
    let mut json = state.show_json();
    json["results"] = serde_json::to_value(state.results()).unwrap_or_default();
    json["queue"] = serde_json::to_value(&state.queue).unwrap_or_default();
    json["finished"] = serde_json::json!(state.finished);
    json["pruning"] = serde_json::json!(state.pruning);
    for (file, text) in [
        (
            RESULTS_FILE,
            serde_json::to_string_pretty(&json).unwrap_or_default(),
        ),
        (RESULTS_MD, state.markdown()),
    ] {
        if let Err(e) = crate::files::write_text_atomically(&dir.join(file), &text) {
            tracing::warn!("sweep {}: {e}", state.id);
        }
    }
    if !state.axes.params.is_empty() {
        let figure = parallel::Parallel::of(state);
        let title = format!("sweep {}: {}", state.id, state.objective_label());
        if let Err(e) = figure::write(&figure, &title, dir) {
            tracing::warn!("sweep {}: {e}", state.id);
        }
    }
}

/// A sweep's state read from its folder, whoever runs it. When no process holds the sweep's
/// lock, nothing will start its pending runs: they read as cancelled, and a started run
/// without `done` whose folder no process holds as crashed.
pub fn read_sweep(dir: &Path) -> Result<SweepState> {
    let folder = SweepFolder::at(dir);
    if !dir.join(META_FILE).is_file() {
        return legacy::read(dir);
    }
    let meta = folder.read_meta()?;
    let mut spec = SweepSpec::load(&dir.join(SPEC_FILE))?;
    spec.name = meta.name.clone();
    let book = Book::open(folder, meta);
    Ok(SweepState::build(&spec, &book, &Local::default()))
}

/// The export of runs (`runs::export::export`), and when they all belong to one sweep whose
/// folder is beside them, that sweep's importance table (appended to `report.md`) and its
/// parallel-coordinates figure.
pub fn export_runs(dirs: &[PathBuf], out: &Path) -> Result<crate::runs::export::Exported> {
    let mut exported = crate::runs::export::export(dirs, out)?;
    let sweeps: Vec<Option<String>> = dirs
        .iter()
        .map(|d| {
            crate::runs::StoredRun::load(d).ok().and_then(|r| {
                r.start()
                    .and_then(|s| s.sweep.as_ref().map(|w| w.id.clone()))
            })
        })
        .collect();
    let (Some(Some(id)), Some(run_dir)) = (sweeps.first(), dirs.first()) else {
        return Ok(exported);
    };
    if sweeps.iter().any(|s| s.as_ref() != Some(id)) {
        return Ok(exported);
    }
    let sweep_dir = run_dir
        .parent()
        .unwrap_or(Path::new(""))
        .join(SWEEPS_DIR)
        .join(id);
    let Ok(state) = read_sweep(&sweep_dir) else {
        return Ok(exported);
    };
    if state.axes.params.is_empty() {
        return Ok(exported);
    }
    let title = format!("sweep {}: {}", state.id, state.objective_label());
    exported
        .files
        .extend(figure::write(&parallel::Parallel::of(&state), &title, out)?);
    let report = out.join("report.md");
    let mut text = std::fs::read_to_string(&report).map_err(|e| Error::io(&report, e))?;
    text.push_str(&format!(
        "\n## The sweep these runs belong to: {}\n\nChosen on {}; budget {}.\n\n| key | importance (PED-ANOVA) |\n|---|---|\n",
        state.id,
        state.objective_label(),
        state.budget_text()
    ));
    for (k, share) in &state.importance {
        text.push_str(&format!("| {k} | {share:.3} |\n"));
    }
    text.push_str(&format!("\n![parallel coordinates]({PARALLEL_PNG})\n"));
    crate::files::write_text_atomically(&report, &text)?;
    Ok(exported)
}

/// Every sweep folder of a runs folder, oldest first (sweep ids start with their time).
pub fn list_sweeps(runs_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(runs_dir.join(SWEEPS_DIR)) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(META_FILE).is_file() || p.join(RESULTS_FILE).is_file())
        .collect();
    dirs.sort();
    dirs
}

/// The newest sweep folder of a runs folder, if any.
pub fn newest_sweep(runs_dir: &Path) -> Option<PathBuf> {
    list_sweeps(runs_dir).pop()
}
