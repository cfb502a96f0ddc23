//! The dashboard's helper threads: everything that reads or writes files, reads the data set
//! or computes runs here, never on the screen's thread. Each catches its own panic and reports
//! it as one line (`Msg::WorkerFailed`) so that nothing the screen waits for waits forever.

use super::msg::{Analysed, DataState, ForkTarget, Job, Msg, NetItem, PresetItem, SweepRead};
use gradboard::config::sweep::SweepRequest;
use gradboard::config::{PresetDirs, RunConfig};
use gradboard::data::{download, resolve_data_path, DataSource, Dataset};
use gradboard::runner::Runner;
use gradboard::runs::{run_weights, Follower, ListingCache, Prefer};
use gradboard::train::checkpoint;
use gradboard::train::lr_find::{find_lr, Ramp};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::Sender;

use crate::logging::WORKER_PREFIX;

/// How often the runs folder is listed and followed runs are read.
const SCAN: Duration = Duration::from_millis(1000);

/// Runs `work` on a helper thread; a panic in it is reported as `WorkerFailed(job, ...)`.
pub fn spawn(job: Job, tx: &Sender<Msg>, work: impl FnOnce(&Sender<Msg>) + Send + 'static) {
    let tx = tx.clone();
    let name = format!("{WORKER_PREFIX}-{job:?}");
    let spawned = gradboard::threads::spawn(name, {
        let job = job.clone();
        let tx = tx.clone();
        move || {
            if let Err(failure) = gradboard::threads::catch(|| work(&tx)) {
                let reason = format!("{job:?} failed: {failure}");
                let _ = tx.blocking_send(Msg::WorkerFailed(job, reason));
            }
        }
    });
    if let Err(e) = spawned {
        let _ = tx.try_send(Msg::WorkerFailed(
            job,
            format!("cannot start a helper thread: {e}"),
        ));
    }
}

/// Runs folded in as they are read, by the id the listing gives them.
pub type Followers = Arc<Mutex<HashMap<String, Follower>>>;

/// Reads the log folder's runs every `every`, sending each read (an error once a kind) until
/// the dashboard ends.
pub fn watch_logs(dir: PathBuf, every: std::time::Duration, tx: &Sender<Msg>) {
    spawn(Job::Logs, tx, move |tx| {
        let mut last: Option<Result<Vec<gradboard::logs::LogRun>, String>> = None;
        loop {
            let read = gradboard::logs::scan(&dir).map_err(|e| e.to_string());
            if last.as_ref() != Some(&read) {
                if tx.blocking_send(Msg::Logs(read.clone())).is_err() {
                    return;
                }
                last = Some(read);
            } else if tx.is_closed() {
                return;
            }
            std::thread::sleep(every);
        }
    });
}

/// Lists the runs folder and reads what followed runs appended, every `SCAN`, until the
/// dashboard is gone. The followers are taken out of their map while their files are read,
/// so no lock is held during any read.
pub fn scanner(runs_dir: PathBuf, followers: Followers, tx: &Sender<Msg>) {
    spawn(Job::Scanner, tx, move |tx| {
        let mut cache = ListingCache::new();
        let mut last_error: Option<String> = None;
        loop {
            let msg = match cache.scan(&runs_dir) {
                Ok(Some(records)) => {
                    last_error = None;
                    Some(Msg::Library(records))
                }
                Ok(None) => None,
                Err(e) => {
                    let text = format!("cannot list runs: {e}");
                    let new = last_error.as_deref() != Some(text.as_str());
                    last_error = Some(text.clone());
                    new.then_some(Msg::LibraryFailed(text))
                }
            };
            if let Some(msg) = msg {
                if tx.blocking_send(msg).is_err() {
                    return;
                }
            }
            let mut taken = std::mem::take(&mut *followers.lock().expect("followers"));
            let mut polled = Vec::new();
            for (run_id, follower) in taken.iter_mut() {
                if let Ok(events) = follower.poll() {
                    if !events.is_empty() {
                        polled.push(Msg::Loaded {
                            run_id: run_id.clone(),
                            events,
                        });
                    }
                }
            }
            {
                let mut map = followers.lock().expect("followers");
                for (id, f) in taken {
                    map.entry(id).or_insert(f);
                }
            }
            for msg in polled {
                if tx.blocking_send(msg).is_err() {
                    return;
                }
            }
            std::thread::sleep(SCAN);
        }
    });
}

/// Reads a run folder's events now (as the run `run_id`) and follows it from there.
pub fn load(run_id: String, dir: PathBuf, followers: Followers, tx: &Sender<Msg>) {
    spawn(Job::Load(run_id.clone()), tx, move |tx| {
        let mut follower = Follower::new(&dir);
        let events = match follower.poll() {
            Ok(events) => events,
            Err(e) => {
                let _ = tx.blocking_send(Msg::WorkerFailed(
                    Job::Load(run_id),
                    format!("cannot read the run's events: {e}"),
                ));
                return;
            }
        };
        let _ = tx.blocking_send(Msg::Loaded {
            run_id: run_id.clone(),
            events,
        });
        followers
            .lock()
            .expect("followers")
            .insert(run_id, follower);
    });
}

/// The runner of the data set in use, once it is read (the data picker replaces it).
pub type RunnerSlot = Arc<Mutex<Option<Runner>>>;

/// Puts `runner` (of the data read from `path`) in the slot and among the recent sources;
/// the state the dashboard shows for it.
pub fn install(slot: &RunnerSlot, runner: Runner, path: &Path) -> DataState {
    let data = runner.data();
    let state = DataState::Ready {
        source: path.display().to_string(),
        train: data.train.len(),
        test: data.test.len(),
        shape: data.shape,
        format: data.format.name(),
    };
    *slot.lock().expect("runner slot") = Some(runner);
    remember_source(path);
    state
}

/// Where the first data set comes from: `--data` (else GRADBOARD_DATA or the cache), and
/// whether CIFAR-10 may be downloaded when there is none.
pub struct DataWanted {
    /// `--data`.
    pub flag: Option<PathBuf>,
    /// Download on first use.
    pub may_download: bool,
}

/// Finds the data set (downloading it on first use when asked), reads it and makes the
/// runner.
pub fn load_data(
    wanted: DataWanted,
    options: gradboard::data::DataOptions,
    runs_dir: PathBuf,
    compute: gradboard::model::Compute,
    threads: usize,
    slot: RunnerSlot,
    tx: &Sender<Msg>,
) {
    spawn(Job::Data, tx, move |tx| {
        let send = |state: DataState| {
            let _ = tx.blocking_send(Msg::Data(state));
        };
        let path = match resolve_data_path(wanted.flag.as_deref()) {
            DataSource::Given(p) | DataSource::Cached(p) => p,
            DataSource::Download(_) if !wanted.may_download => {
                return send(DataState::Failed(
                    "no data set loaded: the logs screen needs none; D picks one to train here (or --data PATH, GRADBOARD_DATA)".into(),
                ))
            }
            DataSource::Download(dest) => {
                let (url, md5) = crate::data_setup::download_source();
                let mut last = Instant::now() - Duration::from_secs(1);
                let result = download(&url, &md5, &dest, &mut |done, total| {
                    if last.elapsed() >= Duration::from_millis(100) || Some(done) == total {
                        last = Instant::now();
                        send(DataState::Downloading { done, total });
                    }
                });
                if let Err(e) = result {
                    return send(DataState::Failed(e.to_string()));
                }
                dest
            }
        };
        send(DataState::Loading(path.display().to_string()));
        match Dataset::load_with(&path, &options) {
            Ok(data) => {
                let runner = Runner::new(Arc::new(data), &path, &runs_dir, compute, threads);
                send(install(&slot, runner, &path));
            }
            Err(e) => send(DataState::Failed(e.to_string())),
        }
    });
}

/// Reads a sweep of the runs folder (`dir`, else the newest), reconciled with its runs when no
/// process runs it, with the list of every sweep folder.
pub fn read_sweep(runs_dir: PathBuf, dir: Option<PathBuf>, tx: &Sender<Msg>) {
    spawn(Job::Sweep, tx, move |tx| {
        if let Some(msg) = sweep_read(&runs_dir, dir) {
            let _ = tx.blocking_send(msg);
        }
    });
}

/// Cancels the sweep in `dir` wherever it runs; says what was done.
pub fn cancel_sweep(dir: PathBuf, tx: &Sender<Msg>) {
    spawn(Job::Sweep, tx, move |tx| {
        let result = gradboard::runner::sweep::cancel_sweep(&dir)
            .map(|done| format!("sweep {}: {done}", dir.display()))
            .map_err(|e| e.to_string());
        let _ = tx.blocking_send(Msg::SweepCancelled(result));
    });
}

/// Changes a run's labels; the listing's next scan shows them.
pub fn label(dir: PathBuf, edit: gradboard::runs::LabelEdit, tx: &Sender<Msg>) {
    let id = dir
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    let result = gradboard::runs::edit_labels(&dir, &edit)
        .map(|l| match edit {
            gradboard::runs::LabelEdit::Name(_) => match &l.name {
                Some(n) => format!("{id} is named {n:?}"),
                None => format!("{id} has no name"),
            },
            gradboard::runs::LabelEdit::Tags { .. } => {
                format!(
                    "{id} tags: {}",
                    Some(l.tags_text())
                        .filter(|t| !t.is_empty())
                        .unwrap_or("none".into())
                )
            }
            gradboard::runs::LabelEdit::Note(_) => format!("{id}: note saved"),
            gradboard::runs::LabelEdit::Archived(a) => {
                format!("{id} {}", if a { "archived" } else { "unarchived" })
            }
        })
        .map_err(|e| format!("{id}: {e}"));
    let _ = tx.try_send(Msg::Labelled(result));
}

/// Deletes a run by moving its folder to the runs folder's `.trash`.
pub fn trash(dir: PathBuf, tx: &Sender<Msg>) {
    let result = gradboard::runs::trash_run(&dir)
        .map(|to| format!("deleted: moved to {}", to.display()))
        .map_err(|e| e.to_string());
    let _ = tx.try_send(Msg::Labelled(result));
}

/// A sweep of the runs folder as a message (`dir`, else the newest); `None` without one.
pub fn sweep_read(runs_dir: &Path, dir: Option<PathBuf>) -> Option<Msg> {
    use gradboard::runner::sweep::{list_sweeps, newest_sweep, read_sweep};
    let dir = dir.or_else(|| newest_sweep(runs_dir))?;
    let state = read_sweep(&dir).ok()?;
    Some(Msg::SweepRead(Box::new(SweepRead {
        state,
        dir,
        sweeps: list_sweeps(runs_dir),
    })))
}

/// Analyses a run's model (its saved weights, or its newest checkpoint while it trains).
pub fn analyze(run_id: String, dir: PathBuf, runner: &Runner, tx: &Sender<Msg>) {
    let data = runner.data().clone();
    let compute = runner.compute().clone();
    spawn(Job::Analysis, tx, move |tx| {
        let result = gradboard::on_compute_pool(|| {
            gradboard::analysis::analyze_run(&dir, &data, &compute, &|| false)
        })
        .map_err(|e| e.to_string())
        .and_then(|a| a.ok_or_else(|| "stopped".to_string()))
        .map(|(step, analysis)| {
            Box::new(Analysed {
                run_id,
                step,
                analysis: Arc::new(analysis),
                data,
            })
        });
        let _ = tx.blocking_send(Msg::Analyzed(result));
    });
}

/// Runs the learning-rate finder until it ends or `stop` is set: on a copy of `from`'s newest
/// weights, or on a fresh model when there are none yet.
pub fn lr_find(
    config: RunConfig,
    from: Option<(String, PathBuf)>,
    runner: &Runner,
    stop: Arc<AtomicBool>,
    tx: &Sender<Msg>,
) {
    let data = runner.data().clone();
    let compute = runner.compute().clone();
    spawn(Job::LrFinder, tx, move |tx| {
        let start = from.and_then(|(id, dir)| {
            let start = run_weights(&dir, Prefer::Newest).ok();
            let source = match &start {
                Some(start) => format!("a copy of run {id} at step {}", start.step),
                None => format!(
                    "{} (run {id} has no checkpoint yet)",
                    super::screens::lr_finder::FRESH
                ),
            };
            let _ = tx.blocking_send(Msg::LrSource(source));
            start
        });
        let steps = tx.clone();
        let result = gradboard::on_compute_pool(|| {
            find_lr(
                &config,
                &data,
                &compute,
                Ramp::default(),
                start.as_ref(),
                &|| stop.load(Ordering::SeqCst),
                |_, lr, loss| {
                    let _ = steps.blocking_send(Msg::LrStep(lr, loss));
                },
            )
        })
        .map_err(|e| e.to_string());
        let _ = tx.blocking_send(Msg::LrFound(result));
    });
}

/// Exports runs into `exports/<id>` beside the runs folder.
pub fn export(dirs: Vec<PathBuf>, runs_dir: &Path, tx: &Sender<Msg>) {
    let out = runs_dir
        .parent()
        .unwrap_or(Path::new(""))
        .join("exports")
        .join(gradboard::runs::new_run_id("export"));
    spawn(Job::Export, tx, move |tx| {
        let result = gradboard::runner::sweep::export_runs(&dirs, &out)
            .map(|e| e.files)
            .map_err(|e| e.to_string());
        let _ = tx.blocking_send(Msg::Exported(result));
    });
}

/// Reads every preset for the picker.
pub fn list_presets(presets: PresetDirs, tx: &Sender<Msg>) {
    spawn(Job::Files, tx, move |tx| {
        let _ = tx.blocking_send(presets_read(&presets));
    });
}

/// Sends the state of the sweep this dashboard runs every `every` (and once more when it has
/// finished, with what failed in its threads), off the UI thread: reading it waits on the
/// sweep's locks, which TPE holds while it samples.
pub fn watch_sweep(
    sweep: Arc<gradboard::runner::sweep::SweepHandle>,
    every: Duration,
    tx: &Sender<Msg>,
) {
    spawn(Job::Sweep, tx, move |tx| loop {
        let finished = sweep.is_finished();
        let mut state = sweep.state();
        state.finished = finished;
        if tx.blocking_send(Msg::Sweep(state)).is_err() {
            return;
        }
        if finished {
            for failure in sweep.failures() {
                let _ = tx.blocking_send(Msg::WorkerFailed(Job::Sweep, failure));
            }
            return;
        }
        std::thread::sleep(every);
    });
}

/// The file the recent data sources are kept in, newest first.
fn recent_file() -> PathBuf {
    dirs::state_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("gradboard")
        .join("recent-data")
}

/// The recent data sources, newest first (at most 8).
pub fn recent_sources() -> Vec<PathBuf> {
    std::fs::read_to_string(recent_file())
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(PathBuf::from)
        .take(8)
        .collect()
}

/// Puts `path` first among the recent data sources (written to a temporary name and renamed;
/// a failure is logged, nothing else).
pub fn remember_source(path: &Path) {
    let mut list = vec![path.to_path_buf()];
    list.extend(recent_sources().into_iter().filter(|p| p != path));
    list.truncate(8);
    let text: String = list.iter().map(|p| format!("{}\n", p.display())).collect();
    let file = recent_file();
    let result = file
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| {
            let tmp = file.with_extension("tmp");
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, &file)
        });
    if let Err(e) = result {
        tracing::warn!("{}: recent data sources not kept ({e})", file.display());
    }
}

/// The picker's sources: CIFAR-10's (the flag, GRADBOARD_DATA or the cache folder's
/// archive), then the recent ones.
pub fn list_data(flag: Option<PathBuf>, tx: &Sender<Msg>) {
    spawn(Job::Files, tx, move |tx| {
        let cifar = gradboard::data::cache_archive_path();
        let mut sources = vec![cifar.clone()];
        if let DataSource::Given(p) = resolve_data_path(flag.as_deref()) {
            sources.push(p);
        }
        sources.extend(recent_sources());
        let mut seen = std::collections::HashSet::new();
        sources.retain(|p| seen.insert(p.clone()));
        let _ = tx.blocking_send(Msg::DataSources(sources));
    });
}

/// Reads a data set for the picker and inspects it.
pub fn open_data(path: PathBuf, options: gradboard::data::DataOptions, tx: &Sender<Msg>) {
    spawn(Job::Files, tx, move |tx| {
        let result = Dataset::load_with(&path, &options)
            .map(|data| {
                let report = gradboard::data::inspect::inspect(&data);
                let thumbnails = gradboard::data::inspect::thumbnails(
                    &data,
                    super::views::data::SAMPLES_A_CLASS,
                    super::views::data::SIDE,
                );
                Box::new(super::msg::OpenedData {
                    path: path.clone(),
                    data: Arc::new(data),
                    report,
                    thumbnails,
                })
            })
            .map_err(|e| e.to_string());
        let _ = tx.blocking_send(Msg::DataOpened(result));
    });
}

/// Reads every net for the architecture panel.
pub fn list_nets(presets: PresetDirs, tx: &Sender<Msg>) {
    spawn(Job::Files, tx, move |tx| {
        let _ = tx.blocking_send(nets_read(&presets));
    });
}

/// The nets the architecture panel lists, as a message (a net that cannot be read is named
/// in the error when none can).
pub fn nets_read(presets: &PresetDirs) -> Msg {
    use gradboard::config::net::{list_nets, net_dirs, NetConfig};
    let dirs = net_dirs(presets);
    let mut items = Vec::new();
    let mut broken = Vec::new();
    for (name, path) in list_nets(&dirs) {
        match NetConfig::load(&path.display().to_string(), &dirs) {
            Ok(net) => items.push(NetItem {
                name,
                description: net
                    .table
                    .get("description")
                    .and_then(|d| d.as_str())
                    .unwrap_or_default()
                    .to_string(),
                net,
            }),
            Err(e) => broken.push(e.to_string()),
        }
    }
    Msg::Nets(if items.is_empty() {
        Err(format!(
            "no net could be read in {}{}",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(" or "),
            if broken.is_empty() {
                String::new()
            } else {
                format!(": {}", broken.join("; "))
            }
        ))
    } else {
        Ok(items)
    })
}

/// The presets the picker lists, as a message.
pub fn presets_read(presets: &PresetDirs) -> Msg {
    let mut items = Vec::new();
    let mut broken = Vec::new();
    for p in presets.list() {
        match p {
            Ok(p) => items.push(PresetItem {
                name: p.name,
                description: p.description,
                config: p.config,
            }),
            Err(e) => broken.push(e.to_string()),
        }
    }
    Msg::Presets(if items.is_empty() && !broken.is_empty() {
        Err(format!("no preset could be read: {}", broken.join("; ")))
    } else {
        Ok(items)
    })
}

/// Saves settings as a user preset.
pub fn save_preset(
    presets: PresetDirs,
    name: String,
    description: String,
    config: RunConfig,
    tx: &Sender<Msg>,
) {
    spawn(Job::Files, tx, move |tx| {
        let _ = tx.blocking_send(preset_saved(&presets, name, &description, &config));
    });
}

/// Writes a user preset; the message says where, or why not.
pub fn preset_saved(
    presets: &PresetDirs,
    name: String,
    description: &str,
    config: &RunConfig,
) -> Msg {
    Msg::PresetSaved(
        presets
            .save(&name, description, config)
            .map(|path| (name, path))
            .map_err(|e| e.to_string()),
    )
}

/// Reads a run's newest checkpoint for a fork.
pub fn read_fork(
    run_id: String,
    dir: PathBuf,
    preset: String,
    presets: PresetDirs,
    tx: &Sender<Msg>,
) {
    spawn(Job::Files, tx, move |tx| {
        let _ = tx.blocking_send(fork_read(run_id, dir, preset, &presets));
    });
}

/// A fork's parent from its newest checkpoint: its step and its settings there.
pub fn fork_read(run_id: String, dir: PathBuf, preset: String, presets: &PresetDirs) -> Msg {
    let path = dir.join(checkpoint::LAST);
    Msg::ForkReady(if !path.is_file() {
        Err(format!(
            "run {run_id} has no checkpoint yet (one is written at each evaluation and when the run stops)"
        ))
    } else {
        checkpoint::read(&path)
            .map(|cp| {
                Box::new(ForkTarget {
                    run_id: run_id.clone(),
                    dir: dir.clone(),
                    step: cp.state.step,
                    config: cp.state.config,
                    preset_config: presets.find(&preset).ok().map(|p| p.config),
                    preset,
                })
            })
            .map_err(|e| format!("run {run_id}: {e}"))
    })
}

/// Assembles and checks the sweep a form describes, as the command line does.
pub fn check_sweep(request: SweepRequest, presets: PresetDirs, tx: &Sender<Msg>) {
    spawn(Job::Sweep, tx, move |tx| {
        let _ = tx.blocking_send(sweep_checked(&request, &presets));
    });
}

/// The sweep a form describes, assembled and checked, as a message.
pub fn sweep_checked(request: &SweepRequest, presets: &PresetDirs) -> Msg {
    Msg::SweepChecked(
        request
            .assemble(presets)
            .map(Box::new)
            .map_err(|e| e.to_string()),
    )
}
