//! The dashboard's loop: keys, ticks and messages in, the app's effects carried out through
//! the engine's runner. Quitting waits until every run has written its `done`.

use super::app::{App, DataState, Effect, Msg};
use super::views;
use crate::cli::DashboardArgs;
use anyhow::Result;
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use gradboard::data::{download, resolve_data_path, Cifar10, DataSource};
use gradboard::events::Event;
use gradboard::runner::{RunHandle, RunRequest, Runner};
use gradboard::train::{Command, Compute};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Frames per second of the render tick.
const TICK: Duration = Duration::from_millis(100);

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
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    let mut handles: HashMap<String, RunHandle> = HashMap::new();
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
            _ = tick.tick() => {}
        }
        for effect in effects {
            match effect {
                Effect::Quit if handles.is_empty() => return Ok(()),
                Effect::Quit | Effect::StopAllAndQuit => {
                    for h in handles.values() {
                        h.send(Command::Stop);
                    }
                    quitting = true;
                }
                Effect::Send { run_id, command } => {
                    if let Some(h) = handles.get(&run_id) {
                        h.send(command);
                    }
                }
                Effect::Start {
                    preset,
                    config,
                    base,
                } => {
                    let Some(runner) = runner.get() else {
                        app.update(Msg::StartFailed("the data set is not ready yet".into()));
                        continue;
                    };
                    let request = RunRequest::new(&preset, config.clone(), base);
                    let events = tx.clone();
                    let observer = Box::new(move |e: &Event| {
                        let _ = events.blocking_send(Msg::Run(e.clone()));
                    });
                    match runner.start(request, observer) {
                        Ok(handle) => {
                            app.update(Msg::Started {
                                run_id: handle.run_id.clone(),
                                config,
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
        if quitting && handles.is_empty() {
            while let Ok(msg) = rx.try_recv() {
                app.update(msg);
            }
            terminal.draw(|f| views::draw(f, &app))?;
            return Ok(());
        }
    }
    Ok(())
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
