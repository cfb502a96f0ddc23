//! The terminal dashboard: one tokio loop owns the terminal and selects over key events, a
//! render tick and the messages of the data loader and the training threads; it drains what is
//! pending and draws once. Training runs on threads of its own and never blocks the screen.

pub mod app;
pub mod keymap;
pub mod series;
pub mod view;

#[cfg(test)]
mod tests;

use crate::cli::DashboardArgs;
use anyhow::Result;
use app::{App, DataState, Effect, Msg};
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use gradboard::config::{PresetDirs, RunConfig};
use gradboard::data::{download, resolve_data_path, Cifar10, DataSource};
use gradboard::events::{Event, EventSink};
use gradboard::runs::RunWriter;
use gradboard::session::{Command, Session};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Frames per second of the render tick.
const TICK: Duration = Duration::from_millis(100);

/// Opens the dashboard.
pub fn run(args: DashboardArgs) -> Result<ExitCode> {
    if !std::io::stdout().is_terminal() {
        anyhow::bail!("the dashboard needs a terminal on stdout; for headless training use `gradboard train --preset NAME` (see `gradboard --help`)");
    }
    let presets = PresetDirs::discover();
    let (preset, config) = match &args.preset {
        Some(name) => {
            let p = presets.find(name)?;
            (p.name, p.config)
        }
        None => presets
            .find("numpy-mlp")
            .map(|p| (p.name, p.config))
            .unwrap_or_else(|_| ("default".into(), RunConfig::default())),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut terminal = ratatui::init();
    let result = runtime.block_on(event_loop(
        &mut terminal,
        args,
        App::new(
            config,
            preset,
            presets,
            DataState::Loading("data set".into()),
        ),
    ));
    ratatui::restore();
    result.map(|_| ExitCode::SUCCESS)
}

/// A training run on its own thread.
struct RunHandle {
    commands: std::sync::mpsc::Sender<Command>,
    thread: std::thread::JoinHandle<()>,
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    args: DashboardArgs,
    mut app: App,
) -> Result<()> {
    let (tx, mut rx) = mpsc::channel::<Msg>(4096);
    let data: Arc<OnceLock<Arc<Cifar10>>> = Arc::new(OnceLock::new());
    spawn_data_loader(args.data.clone(), tx.clone(), data.clone());
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    let mut current: Option<RunHandle> = None;
    let mut finished: Vec<RunHandle> = Vec::new();
    loop {
        terminal.draw(|f| view::draw(f, &app))?;
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
            _ = tick.tick() => {}
        }
        for effect in effects {
            match effect {
                Effect::Quit => {
                    stop_all(current.take(), finished);
                    return Ok(());
                }
                Effect::Command(command) => {
                    if let Some(run) = &current {
                        let _ = run.commands.send(command);
                    }
                }
                Effect::StartRun { run_id, config } => {
                    let Some(data) = data.get().cloned() else {
                        continue;
                    };
                    if let Some(old) = current.take() {
                        let _ = old.commands.send(Command::Stop);
                        finished.push(old);
                    }
                    finished.retain(|h| !h.thread.is_finished());
                    current = Some(start_run(
                        run_id,
                        config,
                        data,
                        args.runs_dir.clone(),
                        tx.clone(),
                    ));
                }
            }
        }
    }
    stop_all(current, finished);
    Ok(())
}

/// Stops every run and gives each a moment to write its last event and weights.
fn stop_all(current: Option<RunHandle>, finished: Vec<RunHandle>) {
    let handles: Vec<RunHandle> = current.into_iter().chain(finished).collect();
    for h in &handles {
        let _ = h.commands.send(Command::Stop);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    for h in handles {
        while !h.thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Sends each event to the run store and to the screen.
struct DashboardSink {
    writer: RunWriter,
    tx: mpsc::Sender<Msg>,
}

impl EventSink for DashboardSink {
    fn emit(&mut self, event: &Event) -> gradboard::Result<()> {
        self.writer.emit(event)?;
        // The screen may be gone (quitting): the store still gets everything.
        let _ = self.tx.blocking_send(Msg::Run(event.clone()));
        Ok(())
    }
}

fn start_run(
    run_id: String,
    config: RunConfig,
    data: Arc<Cifar10>,
    runs_dir: PathBuf,
    tx: mpsc::Sender<Msg>,
) -> RunHandle {
    let (commands, receiver) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let fail = |message: String| {
            let _ = tx.blocking_send(Msg::RunFailed {
                run_id: run_id.clone(),
                message,
            });
        };
        let writer = match RunWriter::create(&runs_dir, &run_id, &config) {
            Ok(w) => w,
            Err(e) => return fail(e.to_string()),
        };
        let session = Session {
            run_id: run_id.clone(),
            config,
            data: &data,
            weights_path: Some(writer.weights_path()),
            commands: Some(receiver),
        };
        let mut sink = DashboardSink {
            writer,
            tx: tx.clone(),
        };
        if let Err(e) = gradboard::on_compute_pool(|| session.run(&mut sink)) {
            fail(e.to_string());
        }
    });
    RunHandle { commands, thread }
}

fn spawn_data_loader(
    flag: Option<PathBuf>,
    tx: mpsc::Sender<Msg>,
    slot: Arc<OnceLock<Arc<Cifar10>>>,
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
                let _ = slot.set(Arc::new(data));
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
