//! The dashboard's loop: keys, ticks and messages in, the app's effects carried out through
//! the engine's runner on helper threads, the screen drawn when something changed. Quitting,
//! Ctrl-C, SIGTERM, SIGHUP and a lost terminal all stop every run and wait until each has
//! written its weights and its `done`.

use super::app::App;
use super::msg::{Effect, Job, Msg, OpenedData};
use super::views;
use super::workers::{self, Followers};
use super::DashboardArgs;
use anyhow::Result;
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use gradboard::config::sweep::SweepPlan;
use gradboard::events::{unix_now, Event};
use gradboard::model::Compute;
use gradboard::runner::sweep::{start_sweep, SweepCommand, SweepHandle};
use gradboard::runner::{RunHandle, RunRequest, Runner};
use gradboard::train::Command;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The clock's tick: the sweep's state is read and the clock advanced this often.
const TICK: Duration = Duration::from_millis(250);
/// How often a followed log folder is read again.
const LOGS_EVERY: Duration = Duration::from_secs(1);
/// The shortest time between two frames while messages pour in.
const FRAME: Duration = Duration::from_millis(40);

/// A started run or sweep, handed from the helper thread that started it.
enum Handed {
    Run(Option<RunHandle>),
    Sweep(Option<Arc<SweepHandle>>),
}

/// What the loop holds besides the app.
struct Runtime {
    tx: mpsc::Sender<Msg>,
    handed: mpsc::UnboundedSender<Handed>,
    runner: workers::RunnerSlot,
    followers: Followers,
    runs: HashMap<String, RunHandle>,
    sweep: Option<Arc<SweepHandle>>,
    /// Starts of runs or sweeps under way on helper threads.
    starting: usize,
    lr_stop: Option<Arc<AtomicBool>>,
    quitting: bool,
    args: DashboardArgs,
    /// The device and threads a runner of a newly picked data set gets.
    compute: Compute,
    threads: usize,
}

/// Runs the dashboard until it quits.
pub async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    args: DashboardArgs,
    mut app: App,
    compute: Compute,
    threads: usize,
) -> Result<()> {
    let (tx, mut rx) = mpsc::channel::<Msg>(4096);
    let (handed, mut handed_rx) = mpsc::unbounded_channel::<Handed>();
    let runner: workers::RunnerSlot = Arc::default();
    // Following other programs' logs needs no data set: none is downloaded for it.
    workers::load_data(
        workers::DataWanted {
            flag: args.data.clone(),
            may_download: args.logdir.is_none(),
        },
        app.live.config.data_options(),
        args.runs_dir.clone(),
        compute.clone(),
        threads,
        runner.clone(),
        &tx,
    );
    let signals = tx.clone();
    let _ = ctrlc::set_handler(move || drop(signals.blocking_send(Msg::Terminate)));
    let followers: Followers = Arc::default();
    workers::scanner(args.runs_dir.clone(), followers.clone(), &tx);
    workers::read_sweep(args.runs_dir.clone(), None, &tx);
    if let Some(dir) = &args.logdir {
        workers::watch_logs(dir.clone(), LOGS_EVERY, &tx);
    }
    let mut rt = Runtime {
        tx,
        handed,
        runner,
        followers,
        runs: HashMap::new(),
        sweep: None,
        starting: 0,
        lr_stop: None,
        quitting: false,
        args,
        compute,
        threads,
    };
    if let Ok(size) = terminal.size() {
        app.update(Msg::Resize(size.width, size.height));
    }
    app.update(Msg::Tick(unix_now()));
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    let mut terminal_lost = false;
    let mut dirty = true;
    let mut last_frame = Instant::now() - FRAME;
    loop {
        if dirty && !terminal_lost && last_frame.elapsed() >= FRAME {
            if terminal.draw(|f| views::draw(f, &app)).is_err() {
                terminal_lost = true;
                let effects = app.update(Msg::Terminate);
                rt.carry_out(effects, &mut app);
            }
            dirty = false;
            last_frame = Instant::now();
        }
        let mut effects = Vec::new();
        tokio::select! {
            event = keys.next(), if !terminal_lost => match event {
                Some(Ok(TermEvent::Key(key))) if key.kind != KeyEventKind::Release => {
                    effects.extend(app.update(Msg::Key(key)));
                    dirty = true;
                }
                Some(Ok(TermEvent::Resize(w, h))) => {
                    app.update(Msg::Resize(w, h));
                    dirty = true;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    // The terminal is gone (closed window, killed tmux): stop as quitting does.
                    terminal_lost = true;
                    effects.extend(app.update(Msg::Terminate));
                }
            },
            Some(msg) = rx.recv() => {
                effects.extend(app.update(msg));
                while let Ok(msg) = rx.try_recv() {
                    effects.extend(app.update(msg));
                }
                dirty = true;
            }
            Some(h) = handed_rx.recv() => rt.take(h),
            _ = tick.tick() => {
                effects.extend(app.update(Msg::Tick(unix_now())));
                // The sweep's state comes from its watcher thread; here only whether it ended.
                if rt.sweep.as_ref().is_some_and(|s| s.is_finished()) {
                    rt.sweep = None;
                }
                dirty |= views::animating(&app);
            }
        }
        if rt.carry_out(effects, &mut app) {
            return Ok(());
        }
        rt.runs.retain(|_, h| !h.is_finished());
        if rt.quitting && rt.runs.is_empty() && rt.sweep.is_none() && rt.starting == 0 {
            while let Ok(msg) = rx.try_recv() {
                app.update(msg);
            }
            if !terminal_lost {
                let _ = terminal.draw(|f| views::draw(f, &app));
            }
            return Ok(());
        }
    }
}

impl Runtime {
    /// Takes a run or sweep a helper thread started (telling it to stop when quitting).
    fn take(&mut self, handed: Handed) {
        self.starting = self.starting.saturating_sub(1);
        match handed {
            Handed::Run(Some(handle)) => {
                if self.quitting {
                    handle.send(Command::Stop);
                }
                self.runs.insert(handle.run_id.clone(), handle);
            }
            Handed::Sweep(Some(sweep)) => {
                if self.quitting {
                    let s = sweep.clone();
                    workers::spawn(Job::Sweep, &self.tx, move |_| s.send(SweepCommand::StopAll));
                }
                workers::watch_sweep(sweep.clone(), TICK, &self.tx);
                self.sweep = Some(sweep);
            }
            Handed::Run(None) | Handed::Sweep(None) => {}
        }
    }

    /// Carries out effects; true when the dashboard should end now.
    fn carry_out(&mut self, effects: Vec<Effect>, app: &mut App) -> bool {
        for effect in effects {
            match effect {
                Effect::Quit if self.idle() => return true,
                Effect::Quit | Effect::StopAllAndQuit => self.stop_all(),
                Effect::Send { run_id, command } => {
                    if let Some(h) = self.runs.get(&run_id) {
                        h.send(command);
                    }
                }
                Effect::Load { run_id, dir } => {
                    workers::load(run_id, dir, self.followers.clone(), &self.tx)
                }
                Effect::Export(dirs) => workers::export(dirs, &self.args.runs_dir, &self.tx),
                Effect::ReadSweep(dir) => {
                    workers::read_sweep(self.args.runs_dir.clone(), dir, &self.tx)
                }
                Effect::CancelSweep(dir) => workers::cancel_sweep(dir, &self.tx),
                Effect::Label { dir, edit } => workers::label(dir, edit, &self.tx),
                Effect::Trash(dir) => workers::trash(dir, &self.tx),
                Effect::ListPresets => workers::list_presets(app.shared.presets.clone(), &self.tx),
                Effect::ListNets => workers::list_nets(app.shared.presets.clone(), &self.tx),
                Effect::ListData => workers::list_data(self.args.data.clone(), &self.tx),
                Effect::OpenData { path, options } => workers::open_data(path, options, &self.tx),
                Effect::UseData(opened) => self.use_data(*opened, app),
                Effect::SavePreset {
                    name,
                    description,
                    config,
                } => workers::save_preset(
                    app.shared.presets.clone(),
                    name,
                    description,
                    *config,
                    &self.tx,
                ),
                Effect::ReadFork {
                    run_id,
                    dir,
                    preset,
                } => workers::read_fork(run_id, dir, preset, app.shared.presets.clone(), &self.tx),
                Effect::CheckSweep(request) => {
                    workers::check_sweep(*request, app.shared.presets.clone(), &self.tx)
                }
                Effect::Sweep(command) => {
                    if let Some(s) = self.sweep.clone() {
                        workers::spawn(Job::Sweep, &self.tx, move |_| s.send(command));
                    }
                }
                Effect::Rerun { sweep, index } => {
                    self.starting += 1;
                    let (handed, runs_dir) = (self.handed.clone(), self.args.runs_dir.clone());
                    workers::spawn(Job::Start, &self.tx, move |tx| {
                        let started = gradboard::runner::sweep::SweepCore::open(&sweep)
                            .and_then(|core| core.rerun_request(index))
                            .and_then(|request| {
                                let line = request
                                    .changed
                                    .iter()
                                    .map(|(k, v)| format!("{k}={v}"))
                                    .collect::<Vec<_>>()
                                    .join(" ");
                                gradboard::runner::command::start(
                                    &runs_dir,
                                    request,
                                    Box::new(|_| {}),
                                    Arc::new(gradboard::train::Control::new()),
                                )
                                .map(|h| (h, line))
                            });
                        let (msg, handle) = match started {
                            Ok((handle, line)) => (
                                Ok(format!(
                                    "trial #{index} runs again as {} ({line}); the runs screen follows it",
                                    handle.run_id
                                )),
                                Some(handle),
                            ),
                            Err(e) => (Err(e.to_string()), None),
                        };
                        let _ = tx.blocking_send(Msg::Reran(msg));
                        let _ = handed.send(Handed::Run(handle));
                    });
                }
                Effect::StopLrFind => {
                    if let Some(stop) = self.lr_stop.take() {
                        stop.store(true, Ordering::SeqCst);
                    }
                }
                Effect::Start { .. }
                | Effect::StartSweep(_)
                | Effect::Analyze { .. }
                | Effect::LrFind { .. } => {
                    let runner = self.runner.lock().expect("runner slot").clone();
                    let Some(runner) = runner else {
                        let not_ready = "the data set is not ready yet".to_string();
                        let msg = match effect {
                            Effect::Start { .. } => Msg::StartFailed(not_ready),
                            Effect::StartSweep(_) => Msg::SweepFailed(not_ready),
                            Effect::Analyze { .. } => Msg::Analyzed(Err(not_ready)),
                            _ => Msg::LrFound(Err(not_ready)),
                        };
                        app.update(msg);
                        continue;
                    };
                    self.with_runner(effect, &runner, app);
                }
            }
        }
        false
    }

    /// Trains on `opened` from the next run: its runner replaces the one in use, unless a run
    /// or a sweep is under way (they keep theirs: the switch waits until they end).
    fn use_data(&mut self, opened: OpenedData, app: &mut App) {
        let busy = self.starting > 0
            || self.runs.values().any(|h| !h.is_finished())
            || self.sweep.as_ref().is_some_and(|s| !s.is_finished());
        if busy {
            app.shared
                .warn("a run or sweep is under way: stop it, then pick the data again".to_string());
            return;
        }
        let OpenedData { path, data, .. } = opened;
        let (shape, format) = (data.shape, data.format.name());
        let runner = Runner::new(
            data,
            &path,
            &self.args.runs_dir,
            self.compute.clone(),
            self.threads,
        );
        app.update(Msg::Data(workers::install(&self.runner, runner, &path)));
        app.shared.notify(format!(
            "training on {} from the next run ({format}, {}x{}x{}, {} classes)",
            path.display(),
            shape.channels,
            shape.height,
            shape.width,
            shape.classes
        ));
    }

    /// The effects that need the data set, once it is loaded.
    fn with_runner(&mut self, effect: Effect, runner: &Runner, app: &mut App) {
        match effect {
            Effect::Start {
                preset,
                config,
                base,
                from,
            } => {
                if let gradboard::runner::From::Resume(dir) = &from {
                    // The run's events now come from the runner: stop reading its file.
                    if let Some(id) = dir.file_name().and_then(|n| n.to_str()) {
                        self.followers.lock().expect("followers").remove(id);
                    }
                }
                let mut request = RunRequest::new(&preset, (*config).clone(), base.map(|b| *b));
                request.from = from;
                let (runner, handed, events) =
                    (runner.clone(), self.handed.clone(), self.tx.clone());
                self.starting += 1;
                let give = handed.clone();
                workers::spawn(Job::Start, &self.tx, move |tx| {
                    let observer = Box::new(move |e: &Event| {
                        let _ = events.blocking_send(Msg::Run(e.clone()));
                    });
                    match runner.start(request, observer) {
                        Ok(handle) => {
                            let _ = tx.blocking_send(Msg::Started {
                                run_id: handle.run_id.clone(),
                                config: *config,
                                preset,
                            });
                            let _ = give.send(Handed::Run(Some(handle)));
                        }
                        Err(e) => {
                            let _ = tx.blocking_send(Msg::StartFailed(e.to_string()));
                            let _ = give.send(Handed::Run(None));
                        }
                    }
                });
                drop(handed);
            }
            Effect::StartSweep(spec) => {
                if self.sweep.is_some() {
                    app.update(Msg::SweepFailed("a sweep is already running".into()));
                    return;
                }
                let (runner, handed, events) =
                    (runner.clone(), self.handed.clone(), self.tx.clone());
                let presets = app.shared.presets.clone();
                self.starting += 1;
                workers::spawn(Job::Sweep, &self.tx, move |tx| {
                    let started = SweepPlan::new(*spec, &presets).and_then(|plan| {
                        start_sweep(
                            &runner,
                            plan,
                            1,
                            Box::new(move |e: &Event| {
                                let _ = events.blocking_send(Msg::Run(e.clone()));
                            }),
                        )
                    });
                    match started {
                        Ok(sweep) => {
                            let _ = tx.blocking_send(Msg::Sweep(sweep.state()));
                            let _ = handed.send(Handed::Sweep(Some(Arc::new(sweep))));
                        }
                        Err(e) => {
                            let _ = tx.blocking_send(Msg::SweepFailed(e.to_string()));
                            let _ = handed.send(Handed::Sweep(None));
                        }
                    }
                });
            }
            Effect::Analyze { run_id, dir } => workers::analyze(run_id, dir, runner, &self.tx),
            Effect::LrFind { config, from } => {
                if let Some(old) = self.lr_stop.take() {
                    old.store(true, Ordering::SeqCst);
                }
                let stop = Arc::new(AtomicBool::new(false));
                workers::lr_find(*config, from, runner, stop.clone(), &self.tx);
                self.lr_stop = Some(stop);
            }
            _ => {}
        }
    }

    /// Whether nothing runs: no run, no sweep, nothing being started.
    fn idle(&self) -> bool {
        self.runs.is_empty() && self.sweep.is_none() && self.starting == 0
    }

    /// Tells every run and the sweep to stop; the loop ends once they have.
    fn stop_all(&mut self) {
        for h in self.runs.values() {
            h.send(Command::Stop);
        }
        if let Some(s) = self.sweep.clone() {
            workers::spawn(Job::Sweep, &self.tx, move |_| s.send(SweepCommand::StopAll));
        }
        if let Some(stop) = &self.lr_stop {
            stop.store(true, Ordering::SeqCst);
        }
        self.quitting = true;
    }
}
