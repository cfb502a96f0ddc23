//! Sweeps: runs trained through the runner one after another (or `K` at a time, here or as a
//! cluster's array tasks), each an ordinary run whose `start` names its sweep. The sweep's
//! folder (`folder`) holds its state; the book (`book`) reads it back; the trial code
//! (`trial`) claims, configures, starts and judges runs from it, so the same decisions come
//! out wherever the runs train. This file is the local queue and the readers.

mod book;
pub mod figure;
mod folder;
pub mod history_figure;
mod importance;
mod legacy;
pub mod parallel;
pub mod slurm;
mod state;
mod trial;

pub use book::Book;
pub use folder::{
    Mark, RungRecord, SweepFolder, SweepMeta, TrialRecord, CANCEL_FILE, META_FILE, PARALLEL_PNG,
    PARALLEL_SVG, RESULTS_FILE, RESULTS_MD, SLURM_FILE, SPEC_FILE, SWEEPS_DIR, SWEEP_LOCK,
};
pub use state::{
    bar, Budget, GroupRow, Local, QueueEntry, QueueState, ResultRow, ResultRows, SweepState,
    SweepStatus,
};
pub use trial::{write_results_of, Forward, SweepCore};

use super::{Observer, Runner};

/// What a sweep's trials run on: gradboard's engine, or a command.
#[derive(Clone)]
pub enum Launcher {
    /// gradboard's runs, trained on a data set.
    Engine(Runner),
    /// A command sweep's trials, each a process whose run folder goes in `runs_dir`.
    Command {
        /// The runs folder.
        runs_dir: PathBuf,
    },
}

impl Launcher {
    /// The runs folder.
    pub fn runs_dir(&self) -> &Path {
        match self {
            Launcher::Engine(runner) => runner.runs_dir(),
            Launcher::Command { runs_dir } => runs_dir,
        }
    }

    /// The same launcher for one of `parallel` runs at once (the engine's threads shared).
    fn share(&self, parallel: usize) -> Launcher {
        match self {
            Launcher::Engine(runner) => {
                Launcher::Engine(runner.with_threads(runner.threads() / parallel.max(1)))
            }
            other => other.clone(),
        }
    }
}
use crate::config::sweep::SweepPlan;
use crate::events::RunStatus;
use crate::train::{Command, Control};
use crate::{Error, Result};
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
    /// What failed in this process's sweep threads, one line each.
    failures: Vec<String>,
}

struct Shared {
    /// Held while this process runs the queue: a reader that finds it free knows no process
    /// will start the sweep's pending runs.
    _lock: std::fs::File,
    core: Arc<SweepCore>,
    queue: Mutex<Queue>,
    wake: Condvar,
    controls: Mutex<Vec<Option<Arc<Control>>>>,
    forward: Forward,
}

/// A started sweep.
pub struct SweepHandle {
    /// Its id.
    pub id: String,
    /// Its folder.
    pub dir: PathBuf,
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<std::result::Result<(), String>>>,
}

impl SweepHandle {
    /// A copy of its state now (the folder read at most `VIEW_AGE` ago).
    pub fn state(&self) -> SweepState {
        state_now(&self.shared, false)
    }

    /// The plan it runs.
    pub fn plan(&self) -> &SweepPlan {
        &self.shared.core.plan
    }

    /// Sends a command.
    pub fn send(&self, command: SweepCommand) {
        send(&self.shared, command);
    }

    /// Whether every run has ended or been cancelled.
    pub fn is_finished(&self) -> bool {
        self.workers.iter().all(|w| w.is_finished())
    }

    /// What failed in this process's sweep threads (a panic outside a run), as one line each.
    pub fn failures(&self) -> Vec<String> {
        self.shared
            .queue
            .lock()
            .expect("sweep queue")
            .failures
            .clone()
    }

    /// Waits for the sweep to end and returns its final state, and an error when one of its
    /// threads failed outside a run (a run's own failure is its `done`).
    pub fn wait(mut self) -> (SweepState, Result<()>) {
        for w in std::mem::take(&mut self.workers) {
            let failure = match w.join() {
                Ok(Ok(())) => continue,
                Ok(Err(failure)) => failure,
                Err(_) => "a sweep thread ended without a word".to_string(),
            };
            self.shared
                .queue
                .lock()
                .expect("sweep queue")
                .failures
                .push(failure);
        }
        {
            let mut queue = self.shared.queue.lock().expect("sweep queue");
            queue.local.running = false;
        }
        write_results(&self.shared);
        let state = state_now(&self.shared, true);
        let failures = self.failures();
        let outcome = match failures.is_empty() {
            true => Ok(()),
            false => Err(Error::Other(format!(
                "sweep {}: {}",
                self.id,
                failures.join("; ")
            ))),
        };
        (state, outcome)
    }
}

fn send(shared: &Shared, command: SweepCommand) {
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
    let core = &shared.core;
    match command {
        SweepCommand::Cancel(i) => {
            if queue.taken.get(i) == Some(&false) {
                queue.taken[i] = true;
                core.record(i, Mark::Cancelled, None, None);
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
                    core.record(i, Mark::Cancelled, None, None);
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

/// The state from the book (refreshed when older than `VIEW_AGE`, or now when `fresh`).
fn state_now(shared: &Shared, fresh: bool) -> SweepState {
    let local = shared.queue.lock().expect("sweep queue").local.clone();
    shared.core.state(local, fresh, VIEW_AGE)
}

fn write_results(shared: &Shared) {
    let local = shared.queue.lock().expect("sweep queue").local.clone();
    shared.core.write_results(local);
}

/// Starts a sweep here: writes its folder (spec, plan, the configurations fixed in advance),
/// then trains its runs `parallel` at a time (each with the runner's threads divided among
/// them). `observer` gets every event of every run. `sweep cancel` on its folder stops it.
pub fn start_sweep(
    runner: &Runner,
    mut plan: SweepPlan,
    parallel: usize,
    observer: Observer,
) -> Result<SweepHandle> {
    let parallel = parallel.clamp(1, plan.trials().max(1));
    // A command sweep's trials read their own data.
    let notice = match plan.spec.command.is_some() {
        true => None,
        false => fit_plan(&mut plan, runner.data(), parallel)?,
    };
    launch(
        &Launcher::Engine(runner.clone()),
        plan,
        parallel,
        observer,
        notice,
    )
}

/// Starts a command sweep here (`plan.spec.command`): each trial runs the command in a run
/// folder of `runs_dir`, `parallel` at a time.
pub fn start_command_sweep(
    runs_dir: &Path,
    plan: SweepPlan,
    parallel: usize,
    observer: Observer,
) -> Result<SweepHandle> {
    if plan.spec.command.is_none() {
        return Err(Error::Config(format!(
            "sweep {}: no command to run",
            plan.spec.name
        )));
    }
    let parallel = parallel.clamp(1, plan.trials().max(1));
    let launcher = Launcher::Command {
        runs_dir: runs_dir.to_path_buf(),
    };
    launch(&launcher, plan, parallel, observer, None)
}

/// Writes the sweep's folder and starts its workers.
fn launch(
    launcher: &Launcher,
    plan: SweepPlan,
    parallel: usize,
    observer: Observer,
    notice: Option<String>,
) -> Result<SweepHandle> {
    let core = Arc::new(SweepCore::create(launcher.runs_dir(), plan, notice)?);
    let lock = core.folder.lock_running()?;
    let trials = core.plan.trials();
    let worker_runner = launcher.share(parallel);
    let shared = Arc::new(Shared {
        _lock: lock,
        core: core.clone(),
        queue: Mutex::new(Queue {
            taken: vec![false; trials],
            local: Local {
                running: true,
                ..Local::default()
            },
            failures: Vec::new(),
        }),
        wake: Condvar::new(),
        controls: Mutex::new(vec![None; trials]),
        forward: Arc::new(Mutex::new(observer)),
    });
    write_results(&shared);
    let mut workers = Vec::new();
    for w in 0..parallel {
        let (shared, runner) = (shared.clone(), worker_runner.clone());
        workers.push(
            crate::threads::spawn(format!("gradboard-sweep-{w}"), move || {
                work(&runner, &shared)
            })
            .map_err(|e| Error::Other(format!("cannot start a sweep thread: {e}")))?,
        );
    }
    let watcher = Arc::downgrade(&shared);
    crate::threads::spawn("gradboard-sweep-cancel".into(), move || {
        watch_cancel(watcher)
    })
    .map_err(|e| Error::Other(format!("cannot start a sweep thread: {e}")))?;
    Ok(SweepHandle {
        id: core.id.clone(),
        dir: core.folder.dir().to_path_buf(),
        shared,
        workers,
    })
}

/// The error for a folder that holds no sweep.
fn not_a_sweep(dir: &Path) -> Error {
    Error::Other(format!(
        "{}: not a sweep folder (no {META_FILE})",
        dir.display()
    ))
}

/// Fits the plan's held-out split to `data`'s training set (the notice says when it
/// changed), then checks each configuration fixed in advance (for TPE, a draw) against it
/// (its data settings the data's own, its network one that takes the data's shape), before any folder is made: a sweep none of whose runs could start is one
/// line, not a folder of refusals. `at_once` runs train together here: their memory is
/// counted together.
pub fn fit_plan(
    plan: &mut SweepPlan,
    data: &crate::data::Dataset,
    at_once: usize,
) -> Result<Option<String>> {
    let (shape, train_len) = (data.shape, data.train.len());
    let notice = plan.fit(train_len);
    let available = crate::model::memory::available();
    for run in plan.sample_runs()? {
        data.options
            .check_same(&run.config.data_options())
            .and_then(|()| crate::train::check_settings(&run.config, shape, Some(train_len)))
            .and_then(|()| {
                crate::model::memory::check_fits_together(&run.config, shape, at_once, available)
            })
            .map_err(|e| Error::Config(format!("sweep run {:?}: {e}", run.label)))?;
    }
    Ok(notice)
}

/// Stops the sweep when `sweep cancel` marks its folder, until the sweep is gone.
fn watch_cancel(shared: std::sync::Weak<Shared>) {
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if !shared.queue.lock().expect("sweep queue").local.running {
            return;
        }
        if shared.core.folder.cancelled() {
            send(&shared, SweepCommand::StopAll);
            return;
        }
    }
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

/// A worker: trains runs off the queue one after another until none is left, each claimed in
/// the folder as a cluster task claims it.
/// Trains the queue's runs one after another. A panic while one is started or waited for
/// refuses that run with its message and is kept for `wait`; the queue goes on.
fn work(runner: &Launcher, shared: &Arc<Shared>) {
    while let Some(index) = next_run(shared) {
        if let Err(failure) = crate::threads::catch(|| train_one(runner, shared, index)) {
            tracing::error!("sweep {} run {index}: {failure}", shared.core.id);
            shared
                .core
                .record(index, Mark::Refused, None, Some(failure.clone()));
            shared.controls.lock().unwrap_or_else(|p| p.into_inner())[index] = None;
            let mut queue = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.local.claimed.retain(|&i| i != index);
            queue.failures.push(format!("run {index}: {failure}"));
        }
    }
}

/// Claims, starts and waits for run `index`.
fn train_one(runner: &Launcher, shared: &Arc<Shared>, index: usize) {
    if std::env::var(crate::train::FAULT_ENV).ok() == Some(format!("sweep-panic@{index}")) {
        panic!("injected fault: sweep thread panic at run {index}");
    }
    let core = &shared.core;
    let control = Arc::new(Control::new());
    shared.controls.lock().expect("sweep controls")[index] = Some(control.clone());
    let claim = core.folder.claim(index);
    let started = match &claim {
        Ok(Some(_)) => core.start(runner, index, control, shared.forward.clone()),
        Ok(None) => Err(Error::Other(format!(
            "run {index} is claimed by another process"
        ))),
        Err(e) => Err(Error::Other(e.to_string())),
    };
    {
        let mut queue = shared.queue.lock().expect("sweep queue");
        queue.local.claimed.retain(|&i| i != index);
    }
    match started {
        Ok(Some(handle)) => {
            if shared.queue.lock().expect("sweep queue").local.paused {
                handle.send(Command::Pause);
            }
            write_results(shared);
            handle.wait();
        }
        Ok(None) => {}
        Err(e) => core.record(index, Mark::Refused, None, Some(e.to_string())),
    }
    drop(claim);
    shared.controls.lock().expect("sweep controls")[index] = None;
    write_results(shared);
}

/// A sweep's state read from its folder, whoever runs it (this process, another, a cluster's
/// tasks: `squeue` says which tasks wait or run). When no process holds the sweep's lock and
/// no task of its job is queued, nothing will start its pending runs: they read as cancelled,
/// and a started run without `done` whose folder no process holds as crashed.
pub fn read_sweep(dir: &Path) -> Result<SweepState> {
    let folder = SweepFolder::at(dir);
    if !dir.join(META_FILE).is_file() {
        if !dir.join(RESULTS_FILE).is_file() {
            return Err(not_a_sweep(dir));
        }
        return legacy::read(dir);
    }
    let meta = folder.read_meta()?;
    let mut spec = crate::config::sweep::SweepSpec::load(&dir.join(SPEC_FILE))?;
    spec.name = meta.name.clone();
    let mut local = Local::default();
    if let Some(job) = slurm::job_of(&folder) {
        local.queued = slurm::task_states(&job).unwrap_or_default();
        local.job = Some(job.job_id);
    }
    let book = Book::open(folder, meta);
    Ok(SweepState::build(&spec, &book, &local))
}

/// Cancels the sweep in `dir` wherever it runs: marks its folder (no run starts after it; a
/// local sweep's process stops its runs) and, for a cluster's, `scancel`s its job. Returns
/// what was done, in words.
pub fn cancel_sweep(dir: &Path) -> Result<String> {
    let folder = SweepFolder::at(dir);
    if !dir.join(META_FILE).is_file() {
        return Err(Error::Other(format!(
            "{}: not a sweep folder",
            dir.display()
        )));
    }
    folder.cancel()?;
    match slurm::job_of(&folder) {
        Some(job) => {
            slurm::cancel(&job)?;
            Ok(format!(
                "cancelled: scancel {} (its running runs stop and keep a checkpoint)",
                job.job_id
            ))
        }
        None if folder.running() => Ok("cancelled: the process that runs it stops its runs".into()),
        None => Ok("cancelled (no process was running it)".into()),
    }
}

/// Trains run `index` of the sweep in `core`'s folder as one cluster task does: unless the
/// sweep was cancelled, the run was claimed by another process, or it has already ended, it
/// starts (or resumes its stopped or crashed run) and trains to its end; the results are
/// rewritten after.
pub fn run_task(
    core: &Arc<SweepCore>,
    runner: &Launcher,
    index: usize,
    control: Arc<Control>,
    forward: Forward,
) -> Result<TaskOutcome> {
    if index >= core.plan.trials() {
        return Err(Error::Config(format!(
            "sweep {}: run {index} is not in it ({} runs)",
            core.id,
            core.plan.trials()
        )));
    }
    if core.folder.cancelled() {
        return Ok(TaskOutcome::Cancelled);
    }
    let Some(_claim) = core.folder.claim(index)? else {
        return Ok(TaskOutcome::Claimed);
    };
    let outcome = match core.start(runner, index, control, forward) {
        Ok(Some(handle)) => TaskOutcome::Trained(handle.wait()),
        Ok(None) => TaskOutcome::AlreadyDone,
        Err(e) => {
            core.record(index, Mark::Refused, None, Some(e.to_string()));
            return Err(e);
        }
    };
    core.write_results(Local::default());
    Ok(outcome)
}

/// The runs of the sweep in `core`'s folder that `sweep resume` continues: never started,
/// stopped, or lost with their process; not those that ended otherwise, were cancelled or
/// refused, or train elsewhere now.
pub fn unfinished(core: &SweepCore) -> Vec<usize> {
    let mut book = core.book.lock().expect("sweep book");
    book.refresh();
    (0..core.plan.trials())
        .filter(|&i| {
            matches!(
                book.status(i),
                QueueState::Pending
                    | QueueState::Crashed { .. }
                    | QueueState::Ended {
                        status: RunStatus::Stopped,
                        ..
                    }
            )
        })
        .collect()
}

/// What a cluster task did.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    /// It trained the run (to its end, or until stopped).
    Trained(crate::train::Summary),
    /// The run had already ended: nothing trained.
    AlreadyDone,
    /// Another process holds the run.
    Claimed,
    /// The sweep was cancelled: nothing started.
    Cancelled,
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
        "\n## The sweep these runs belong to: {}\n\nChosen on {}; budget {}.\n\n| key | importance ({}) |\n|---|---|\n",
        state.id,
        state.value_header(),
        state.budget_text(),
        state.importance_method
    ));
    for (k, share) in &state.importance {
        text.push_str(&format!("| {k} | {share:.3} |\n"));
    }
    text.push_str(&format!("\n![parallel coordinates]({PARALLEL_PNG})\n"));
    let history = history_figure::write(&state, out)?;
    if !history.is_empty() {
        text.push_str(&format!(
            "\n![optimisation history and intermediate values]({})\n",
            history_figure::HISTORY_PNG
        ));
        exported.files.extend(history);
    }
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
