//! The dashboard's loop: keys, ticks and messages in, the app's effects carried out through
//! the engine's runner. Quitting waits until every run has written its `done`.

use super::analysis::AnalysisView;
use super::app::{App, DataState, Effect, Msg};
use super::lr_finder::FRESH;
use super::views;
use crate::cli::DashboardArgs;
use anyhow::Result;
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use gradboard::config::RunConfig;
use gradboard::data::{download, resolve_data_path, Cifar10, DataSource};
use gradboard::events::Event;
use gradboard::runner::sweep::{start_sweep, SweepCommand, SweepHandle};
use gradboard::runner::{From, RunHandle, RunRequest, Runner};
use gradboard::runs::{Follower, ListingCache};
use gradboard::train::lr_find::{find_lr, Ramp, StartWeights};
use gradboard::train::{Command, Compute};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Frames per second of the render tick.
const TICK: Duration = Duration::from_millis(100);
/// How often the runs folder is listed and followed runs are read.
const SCAN: Duration = Duration::from_millis(1000);

/// Runs read from their folders, by folder: what they append is read on every scan.
type Followers = Arc<Mutex<HashMap<PathBuf, Follower>>>;

/// Runs the dashboard until it quits.
pub async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    args: DashboardArgs,
    mut app: App,
    compute: Compute,
    threads: usize,
) -> Result<()> {
    let (tx, mut rx) = mpsc::channel::<Msg>(4096);
    let runner: Arc<OnceLock<Runner>> = Arc::new(OnceLock::new());
    spawn_data_loader(
        args.data.clone(),
        args.runs_dir.clone(),
        compute,
        threads,
        tx.clone(),
        runner.clone(),
    );
    let signals = tx.clone();
    let _ = ctrlc::set_handler(move || drop(signals.blocking_send(Msg::Terminate)));
    let followers: Followers = Arc::default();
    spawn_scanner(args.runs_dir.clone(), followers.clone(), tx.clone());
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    let mut handles: HashMap<String, RunHandle> = HashMap::new();
    let mut sweep: Option<SweepHandle> = None;
    let mut lr_stop: Option<Arc<AtomicBool>> = None;
    let mut quitting = false;
    loop {
        terminal.draw(|f| views::draw(f, &app))?;
        let mut effects = Vec::new();
        tokio::select! {
            event = keys.next() => match event {
                Some(Ok(TermEvent::Key(key))) if key.kind != KeyEventKind::Release => effects.extend(app.update(Msg::Key(key))),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            Some(msg) = rx.recv() => {
                effects.extend(app.update(msg));
                while let Ok(msg) = rx.try_recv() {
                    effects.extend(app.update(msg));
                }
            }
            _ = tick.tick() => {
                if let Some(s) = &sweep {
                    let finished = s.is_finished();
                    let mut state = s.state();
                    state.finished = finished;
                    effects.extend(app.update(Msg::Sweep(state)));
                    if finished {
                        sweep = None;
                    }
                }
            }
        }
        for effect in effects {
            match effect {
                Effect::Quit if handles.is_empty() && sweep.is_none() => return Ok(()),
                Effect::Quit | Effect::StopAllAndQuit => {
                    for h in handles.values() {
                        h.send(Command::Stop);
                    }
                    if let Some(s) = &sweep {
                        s.send(SweepCommand::StopAll);
                    }
                    if let Some(stop) = &lr_stop {
                        stop.store(true, Ordering::SeqCst);
                    }
                    quitting = true;
                }
                Effect::StartSweep(spec) => match runner.get() {
                    None => {
                        app.update(Msg::SweepFailed("the data set is not ready yet".into()));
                    }
                    Some(_) if sweep.is_some() => {
                        app.update(Msg::SweepFailed("a sweep is already running".into()));
                    }
                    Some(runner) => {
                        let started = spec.expand(&app.presets).and_then(|planned| {
                            let events = tx.clone();
                            start_sweep(
                                runner,
                                &spec,
                                planned,
                                1,
                                Box::new(move |e: &Event| {
                                    let _ = events.blocking_send(Msg::Run(e.clone()));
                                }),
                            )
                        });
                        match started {
                            Ok(handle) => {
                                app.update(Msg::Sweep(handle.state()));
                                sweep = Some(handle);
                            }
                            Err(e) => {
                                app.update(Msg::SweepFailed(e.to_string()));
                            }
                        }
                    }
                },
                Effect::Sweep(command) => {
                    if let Some(s) = &sweep {
                        s.send(command);
                        app.update(Msg::Sweep(s.state()));
                    }
                }
                Effect::Analyze { run_id, dir } => match runner.get() {
                    Some(runner) => analyze(run_id, dir, runner, tx.clone()),
                    None => {
                        app.update(Msg::Analyzed(Err("the data set is not ready yet".into())));
                    }
                },
                Effect::LrFind { config, from } => match runner.get() {
                    Some(runner) => {
                        if let Some(old) = lr_stop.take() {
                            old.store(true, Ordering::SeqCst);
                        }
                        let stop = Arc::new(AtomicBool::new(false));
                        lr_find(*config, from, runner, stop.clone(), tx.clone());
                        lr_stop = Some(stop);
                    }
                    None => {
                        app.update(Msg::LrFound(Err("the data set is not ready yet".into())));
                    }
                },
                Effect::StopLrFind => {
                    if let Some(stop) = lr_stop.take() {
                        stop.store(true, Ordering::SeqCst);
                    }
                }
                Effect::Send { run_id, command } => {
                    if let Some(h) = handles.get(&run_id) {
                        h.send(command);
                    }
                }
                Effect::Load(dir) => load(dir, followers.clone(), tx.clone()),
                Effect::Export(dirs) => export(dirs, &args.runs_dir, tx.clone()),
                Effect::Start {
                    preset,
                    config,
                    base,
                    from,
                } => {
                    let Some(runner) = runner.get() else {
                        app.update(Msg::StartFailed("the data set is not ready yet".into()));
                        continue;
                    };
                    if let From::Resume(dir) = &from {
                        // The run's events now come from the runner: stop reading its file.
                        followers.lock().expect("followers").remove(dir);
                    }
                    let mut request = RunRequest::new(&preset, (*config).clone(), base.map(|b| *b));
                    request.from = from;
                    let events = tx.clone();
                    let observer = Box::new(move |e: &Event| {
                        let _ = events.blocking_send(Msg::Run(e.clone()));
                    });
                    match runner.start(request, observer) {
                        Ok(handle) => {
                            app.update(Msg::Started {
                                run_id: handle.run_id.clone(),
                                config: *config,
                                preset,
                            });
                            handles.insert(handle.run_id.clone(), handle);
                        }
                        Err(e) => {
                            app.update(Msg::StartFailed(e.to_string()));
                        }
                    }
                }
            }
        }
        handles.retain(|_, h| !h.is_finished());
        if sweep.as_ref().is_some_and(|s| s.is_finished()) && quitting {
            sweep = None;
        }
        if quitting && handles.is_empty() && sweep.is_none() {
            while let Ok(msg) = rx.try_recv() {
                app.update(msg);
            }
            terminal.draw(|f| views::draw(f, &app))?;
            return Ok(());
        }
    }
    Ok(())
}

/// Lists the runs folder and reads what followed runs appended, every `SCAN`, until the
/// dashboard is gone.
fn spawn_scanner(runs_dir: PathBuf, followers: Followers, tx: mpsc::Sender<Msg>) {
    std::thread::spawn(move || {
        let mut cache = ListingCache::new();
        loop {
            match cache.scan(&runs_dir) {
                Ok(records) => {
                    if tx.blocking_send(Msg::Library(records)).is_err() {
                        return;
                    }
                }
                Err(e) => tracing::warn!("listing {}: {e}", runs_dir.display()),
            }
            let polled: Vec<Event> = followers
                .lock()
                .expect("followers")
                .values_mut()
                .flat_map(|f| f.poll().unwrap_or_default())
                .collect();
            for event in polled {
                if tx.blocking_send(Msg::Run(event)).is_err() {
                    return;
                }
            }
            std::thread::sleep(SCAN);
        }
    });
}

/// Reads a run folder's events now and follows it from there.
fn load(dir: PathBuf, followers: Followers, tx: mpsc::Sender<Msg>) {
    std::thread::spawn(move || {
        let mut follower = Follower::new(&dir);
        match follower.poll() {
            Ok(events) => {
                for event in events {
                    if tx.blocking_send(Msg::Run(event)).is_err() {
                        return;
                    }
                }
                followers.lock().expect("followers").insert(dir, follower);
            }
            Err(e) => tracing::warn!("reading {}: {e}", dir.display()),
        }
    });
}

/// Analyses a run's saved model off the screen's thread.
fn analyze(run_id: String, dir: PathBuf, runner: &Runner, tx: mpsc::Sender<Msg>) {
    let data = runner.data().clone();
    let compute = runner.compute().clone();
    std::thread::spawn(move || {
        let result = gradboard::analysis::analyze_run(&dir, &data, &compute, &|| false)
            .map_err(|e| e.to_string())
            .and_then(|a| a.ok_or_else(|| "stopped".to_string()))
            .map(|a| Box::new(AnalysisView::new(run_id, Arc::new(a), data)));
        let _ = tx.blocking_send(Msg::Analyzed(result));
    });
}

/// Runs the learning-rate finder off the screen's thread until it ends or `stop` is set: on a
/// copy of `from`'s newest weights, or on a fresh model when there are none yet.
fn lr_find(
    config: RunConfig,
    from: Option<(String, PathBuf)>,
    runner: &Runner,
    stop: Arc<AtomicBool>,
    tx: mpsc::Sender<Msg>,
) {
    let data = runner.data().clone();
    let compute = runner.compute().clone();
    std::thread::spawn(move || {
        let start = from.and_then(|(id, dir)| {
            let start = StartWeights::of_run(&dir).ok();
            let source = match &start {
                Some(start) => format!("a copy of run {id} at step {}", start.step),
                None => format!("{FRESH} (run {id} has no checkpoint yet)"),
            };
            let _ = tx.blocking_send(Msg::LrSource(source));
            start
        });
        let steps = tx.clone();
        let result = find_lr(
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
        .map_err(|e| e.to_string());
        let _ = tx.blocking_send(Msg::LrFound(result));
    });
}

/// Exports runs into `exports/<id>` beside the runs folder, off the screen's thread.
fn export(dirs: Vec<PathBuf>, runs_dir: &Path, tx: mpsc::Sender<Msg>) {
    let out = runs_dir
        .parent()
        .unwrap_or(Path::new(""))
        .join("exports")
        .join(gradboard::runs::new_run_id("export"));
    std::thread::spawn(move || {
        let result = gradboard::runs::export::export(&dirs, &out)
            .map(|e| e.files)
            .map_err(|e| e.to_string());
        let _ = tx.blocking_send(Msg::Exported(result));
    });
}

fn spawn_data_loader(
    flag: Option<PathBuf>,
    runs_dir: PathBuf,
    compute: Compute,
    threads: usize,
    tx: mpsc::Sender<Msg>,
    slot: Arc<OnceLock<Runner>>,
) {
    std::thread::spawn(move || {
        let send = |state: DataState| {
            let _ = tx.blocking_send(Msg::Data(state));
        };
        let path = match resolve_data_path(flag.as_deref()) {
            DataSource::Given(p) | DataSource::Cached(p) => p,
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
        match Cifar10::load(&path) {
            Ok(data) => {
                let (train, test) = (data.train.len(), data.test.len());
                let runner = Runner::new(Arc::new(data), &path, &runs_dir, compute, threads);
                let _ = slot.set(runner);
                send(DataState::Ready {
                    source: path.display().to_string(),
                    train,
                    test,
                });
            }
            Err(e) => send(DataState::Failed(e.to_string())),
        }
    });
}
