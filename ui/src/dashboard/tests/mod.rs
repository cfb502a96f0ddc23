//! The dashboard driven by key events and run events, without a terminal, drawn into
//! ratatui's TestBackend: one file a screen. The helpers here answer effects as the runtime's
//! workers do, through the same functions.

mod analysis;
mod compare;
mod layers;
mod live;
mod logs;
mod lr_finder;
mod quit;
mod runs;
mod sweep;

use super::app::App;
use super::msg::{DataState, Effect, Mode, Msg};
use super::views::draw;
use super::workers;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use gradboard::config::{PresetDirs, RunConfig};
use gradboard::events::{Event, EventKind, RunStatus, StartInfo};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::{Path, PathBuf};

/// The project's presets, then a user folder.
pub fn presets(user: &Path) -> PresetDirs {
    PresetDirs {
        dirs: vec![
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../presets"),
            user.to_path_buf(),
        ],
    }
}

/// A data set ready to train on.
pub fn ready() -> DataState {
    DataState::Ready {
        source: "tiny.tar.gz".into(),
        train: 1000,
        test: 200,
        shape: gradboard::data::DataShape::CIFAR10,
        format: "cifar-10",
    }
}

/// A dashboard on numpy-mlp with the data ready, 140x40.
pub fn app(user: &Path) -> App {
    let p = presets(user);
    let config = p.find("numpy-mlp").unwrap().config;
    let mut app = App::new(config.clone(), "numpy-mlp".into(), Some(config), p, ready());
    app.update(Msg::Resize(140, 40));
    app.update(Msg::Tick(1_000.0));
    app
}

/// The notice line's text.
pub fn notice(app: &App) -> String {
    app.shared
        .notice
        .as_ref()
        .map(|n| n.text.clone())
        .unwrap_or_default()
}

/// Presses a key.
pub fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// Types text.
pub fn chars(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// The screen as text, drawn at `w` x `h`.
pub fn screen(app: &App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| draw(f, app)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Moves the settings cursor to `name`.
pub fn select(app: &mut App, name: &str) {
    while app.live.selected_key().name != name {
        key(app, KeyCode::Down);
    }
}

/// Sets choice setting `name` to `value` as a user does: Enter opens its list, the arrows
/// move to the value, Enter takes it.
pub fn choose(app: &mut App, name: &str, value: &str) {
    select(app, name);
    key(app, KeyCode::Enter);
    assert_eq!(app.mode, Mode::Choices, "{name} opens its list");
    let list = app.live.choices.as_ref().expect("the list");
    assert!(list.values.contains(&value), "{name} has no {value}");
    while app.live.choices.as_ref().map(|l| l.values[l.selected]) != Some(value) {
        key(app, KeyCode::Down);
    }
    key(app, KeyCode::Enter);
}

/// Carries out the effects that read or write files as the runtime's workers do, feeding
/// their messages back; returns the other effects.
pub fn answer(app: &mut App, effects: Vec<Effect>) -> Vec<Effect> {
    let mut rest = Vec::new();
    for effect in effects {
        let presets = app.shared.presets.clone();
        let msg = match effect {
            Effect::ListPresets => workers::presets_read(&presets),
            Effect::ListNets => workers::nets_read(&presets),
            Effect::SavePreset {
                name,
                description,
                config,
            } => workers::preset_saved(&presets, name, &description, &config),
            Effect::ReadFork {
                run_id,
                dir,
                preset,
            } => workers::fork_read(run_id, dir, preset, &presets),
            Effect::CheckSweep(request) => workers::sweep_checked(&request, &presets),
            other => {
                rest.push(other);
                continue;
            }
        };
        let more = app.update(msg);
        rest.extend(answer(app, more));
    }
    rest
}

/// Presses a key and answers its file effects.
pub fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    let effects = key(app, code);
    answer(app, effects)
}

/// What a run's `start` records, for settings `config`.
pub fn start_info(config: RunConfig, preset: &str, parent: Option<(&str, usize)>) -> StartInfo {
    StartInfo {
        config,
        schema: gradboard::events::SCHEMA,
        version: "test".into(),
        threads: 1,
        device: "cpu".into(),
        data: Default::default(),
        train_size: 1000,
        preset: preset.into(),
        changed: Default::default(),
        parent: parent.map(|(p, step)| gradboard::events::ParentRef {
            run_id: p.into(),
            step,
        }),
        sweep: None,
        params: None,
        flops: None,
        command: None,
    }
}

/// Presses r and answers as the runtime does when the runner starts the run.
pub fn started_run(app: &mut App, id: &str) -> String {
    let effects = key(app, KeyCode::Char('r'));
    let Some(Effect::Start { config, preset, .. }) = effects.last().cloned() else {
        panic!("expected a start, got {effects:?}")
    };
    app.update(Msg::Started {
        run_id: id.into(),
        config: (*config).clone(),
        preset: preset.clone(),
    });
    let info = start_info(*config, &preset, None);
    app.update(Msg::Run(ev(id, EventKind::Start(Box::new(info)))));
    id.to_string()
}

/// An event of run `id` at time 1000.
pub fn ev(id: &str, kind: EventKind) -> Event {
    Event {
        kind,
        run_id: id.into(),
        time: 1_000.0,
    }
}

/// A `train` event.
pub fn train_event(run_id: &str, step: usize, loss: f64) -> Event {
    ev(
        run_id,
        EventKind::Train {
            step,
            epoch: step as f64 * 0.2,
            loss,
            acc: 0.3,
            lr: 2e-3,
            samples_per_sec: 1234.0,
            grad_norm: None,
        },
    )
}

/// A `done` event.
pub fn done(run_id: &str, step: usize, status: RunStatus, reason: Option<&str>) -> Event {
    ev(
        run_id,
        EventKind::Done {
            step,
            status,
            final_test_acc: Some(0.4),
            best_test_acc: Some(0.4),
            final_val_acc: None,
            best_val_acc: None,
            seconds: 3.0,
            reason: reason.map(String::from),
            warnings: Vec::new(),
            time_to: Default::default(),
        },
    )
}

/// A listed run with `lr` and a best test accuracy `best`.
pub fn record(
    id: &str,
    dir: &Path,
    lr: f64,
    best: f64,
    config: &RunConfig,
) -> gradboard::runs::RunRecord {
    let mut config = config.clone();
    config.lr = lr;
    gradboard::runs::RunRecord {
        preset: "numpy-mlp".into(),
        net: "mlp 100".into(),
        status: gradboard::runs::ListedStatus::Ended(RunStatus::Completed),
        step: 300,
        final_test_acc: Some(best - 0.01),
        best_test_acc: Some(best),
        seconds: 12.0,
        started: best,
        changed: std::collections::BTreeMap::from([("lr".to_string(), serde_json::json!(lr))]),
        config: Some(config),
        dir: dir.join(id),
        ..gradboard::runs::RunRecord::empty(id)
    }
}

/// The events a stored run of 300 steps gives (start, train, evals, done), read from its folder.
pub fn stored_run(app: &mut App, id: &str, lr: f64, best: f64, parent: Option<(&str, usize)>) {
    let mut config = app.live.config.clone();
    config.lr = lr;
    stored_run_of(app, id, config, best, parent);
}

/// `stored_run` of settings `config` (its steps set to 300).
pub fn stored_run_of(
    app: &mut App,
    id: &str,
    config: RunConfig,
    best: f64,
    parent: Option<(&str, usize)>,
) {
    stored_run_with(app, id, config, (best, parent), |step| {
        2.3 - step as f64 * 0.001
    });
}

/// `stored_run_of` with the train loss `loss` gives at each step.
pub fn stored_run_with(
    app: &mut App,
    id: &str,
    mut config: RunConfig,
    (best, parent): (f64, Option<(&str, usize)>),
    loss: impl Fn(usize) -> f64,
) {
    config.steps = 300;
    let first = parent.map_or(0, |p| p.1);
    let mut events = vec![ev(
        id,
        EventKind::Start(Box::new(start_info(config, "numpy-mlp", parent))),
    )];
    for step in first + 1..=first + 300 {
        events.push(train_event(id, step, loss(step)));
        if step % 100 == 0 {
            events.push(ev(
                id,
                EventKind::Eval {
                    step,
                    epoch: 1.0,
                    test_loss: 1.5,
                    test_acc: best * step as f64 / (first + 300) as f64,
                    val_loss: None,
                    val_acc: None,
                },
            ));
        }
    }
    events.push(done(id, first + 300, RunStatus::Completed, None));
    app.update(Msg::Loaded {
        run_id: id.into(),
        events,
    });
}

#[test]
fn default_config_is_usable() {
    RunConfig::default().validate().unwrap();
}
