//! The dashboard driven by key events and run events, without a terminal, and drawn into
//! ratatui's TestBackend.

use super::app::{App, DataState, Effect, Mode, Msg, Status};
use super::view::draw;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use gradboard::config::{PresetDirs, RunConfig};
use gradboard::events::{Event, RunStatus};
use gradboard::session::Command;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::PathBuf;

fn presets(user: &std::path::Path) -> PresetDirs {
    PresetDirs {
        dirs: vec![
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../presets"),
            user.to_path_buf(),
        ],
    }
}

fn ready() -> DataState {
    DataState::Ready {
        source: "tiny.tar.gz".into(),
        train: 1000,
        test: 200,
    }
}

fn app(user: &std::path::Path) -> App {
    let p = presets(user);
    let config = p.find("numpy-mlp").unwrap().config;
    App::new(config, "numpy-mlp".into(), p, ready())
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn chars(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn screen(app: &App, w: u16, h: u16) -> String {
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

fn select(app: &mut App, name: &str) {
    while gradboard::config::KEYS[app.selected].0 != name {
        key(app, KeyCode::Down);
    }
}

fn started_run(app: &mut App) -> String {
    match key(app, KeyCode::Char('r')).as_slice() {
        [Effect::StartRun { run_id, .. }] => run_id.clone(),
        other => panic!("expected a start, got {other:?}"),
    }
}

fn train_event(run_id: &str, step: usize, loss: f64) -> Event {
    Event::Train {
        run_id: run_id.into(),
        step,
        epoch: step as f64 * 0.2,
        loss,
        acc: 0.3,
        lr: 2e-3,
        samples_per_sec: 1234.0,
    }
}

#[test]
fn editing_the_learning_rate_and_restarting_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    select(&mut app, "lr");
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.mode, Mode::Editing { .. }));
    for _ in 0..10 {
        key(&mut app, KeyCode::Backspace);
    }
    chars(&mut app, "5e-3");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.config.lr, 5e-3);
    match key(&mut app, KeyCode::Char('r')).as_slice() {
        [Effect::StartRun { config, .. }] => assert_eq!(config.lr, 5e-3),
        other => panic!("{other:?}"),
    }
    key(&mut app, KeyCode::Char('+'));
    assert_eq!(app.config.lr, 1e-2);
    key(&mut app, KeyCode::Char('-'));
    key(&mut app, KeyCode::Char('-'));
    assert_eq!(app.config.lr, 2.5e-3);
}

#[test]
fn an_invalid_value_shows_an_inline_message_and_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    select(&mut app, "dropout");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Backspace);
    chars(&mut app, "1.5");
    key(&mut app, KeyCode::Enter);
    match &app.mode {
        Mode::Editing { error: Some(e), .. } => {
            assert!(e.contains("dropout") && e.contains("below 1.0"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(app.config.dropout, 0.0);
    let text = screen(&app, 120, 40);
    assert!(text.contains("out of range"), "{text}");
    key(&mut app, KeyCode::Esc);
    assert!(matches!(app.mode, Mode::Normal));
    assert_eq!(app.config.dropout, 0.0);
}

#[test]
fn choices_cycle_and_hidden_is_typed_as_a_list() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    select(&mut app, "optimizer");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.config.optimizer.name(), "momentum");
    // The manual engine only takes SGD: the screen says so and a restart refuses.
    assert!(app.notice.as_ref().unwrap().0.contains("engine = manual"));
    assert!(key(&mut app, KeyCode::Char('r')).is_empty());
    select(&mut app, "engine");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.config.engine.name(), "autograd");
    select(&mut app, "hidden");
    key(&mut app, KeyCode::Enter);
    for _ in 0..5 {
        key(&mut app, KeyCode::Backspace);
    }
    chars(&mut app, "800,400,200,100");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.config.hidden, vec![800, 400, 200, 100]);
    assert!(!key(&mut app, KeyCode::Char('r')).is_empty());
}

use gradboard::config::Choice;

#[test]
fn pause_stop_and_quit_send_commands_and_ask_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    assert_eq!(
        key(&mut app, KeyCode::Char('q')),
        vec![Effect::Quit],
        "nothing running: quit at once"
    );
    let run_id = started_run(&mut app);
    app.update(Msg::Run(train_event(&run_id, 1, 2.3)));
    assert_eq!(
        key(&mut app, KeyCode::Char(' ')),
        vec![Effect::Command(Command::Pause)]
    );
    assert_eq!(app.run.as_ref().unwrap().status, Status::Paused);
    assert_eq!(
        key(&mut app, KeyCode::Char('p')),
        vec![Effect::Command(Command::Resume)]
    );
    assert!(key(&mut app, KeyCode::Char('q')).is_empty());
    assert!(matches!(app.mode, Mode::ConfirmQuit));
    assert!(screen(&app, 100, 30).contains("Quit?"));
    key(&mut app, KeyCode::Char('n'));
    assert!(matches!(app.mode, Mode::Normal));
    assert_eq!(
        key(&mut app, KeyCode::Char('s')),
        vec![Effect::Command(Command::Stop)]
    );
    key(&mut app, KeyCode::Char('q'));
    assert_eq!(key(&mut app, KeyCode::Char('y')), vec![Effect::Quit]);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(app.update(Msg::Key(ctrl_c)), vec![Effect::Quit]);
}

#[test]
fn a_restart_ignores_events_of_the_old_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let old = started_run(&mut app);
    app.update(Msg::Run(train_event(&old, 1, 2.0)));
    let new = started_run(&mut app);
    assert_ne!(old, new);
    app.update(Msg::Run(train_event(&old, 2, 9.0)));
    app.update(Msg::Run(Event::Done {
        run_id: old.clone(),
        step: 2,
        status: RunStatus::Stopped,
        final_test_acc: 0.0,
        best_test_acc: 0.0,
        seconds: 1.0,
        reason: None,
    }));
    let run = app.run.as_ref().unwrap();
    assert_eq!(run.run_id, new);
    assert_eq!(run.step, 0);
    assert!(run.loss.points().is_empty());
    assert_eq!(run.status, Status::Starting);
}

#[test]
fn the_screen_shows_progress_charts_and_settings() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let run_id = started_run(&mut app);
    app.update(Msg::Run(Event::Start {
        run_id: run_id.clone(),
        config: app.config.clone(),
        train_size: 1000,
    }));
    for step in 1..=50 {
        app.update(Msg::Run(train_event(
            &run_id,
            step,
            2.3 - step as f64 * 0.01,
        )));
    }
    app.update(Msg::Run(Event::Eval {
        run_id: run_id.clone(),
        step: 50,
        epoch: 10.0,
        test_loss: 1.9,
        test_acc: 0.4321,
    }));
    let text = screen(&app, 140, 40);
    for expected in [
        "loss",
        "accuracy",
        "train loss",
        "test acc",
        "step    50 / 1500",
        "running",
        "samples/s",
        "lr",
        "0.4321",
        "hidden",
        "batch_size",
        "tiny.tar.gz",
        "r restart",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    // Log scale and epochs change the axes.
    key(&mut app, KeyCode::Char('g'));
    key(&mut app, KeyCode::Char('x'));
    let text = screen(&app, 140, 40);
    assert!(
        text.contains("loss (log10)") && text.contains("epoch"),
        "{text}"
    );
    // A diverged run says why.
    app.update(Msg::Run(Event::Done {
        run_id,
        step: 51,
        status: RunStatus::Diverged,
        final_test_acc: 0.43,
        best_test_acc: 0.43,
        seconds: 3.0,
        reason: Some("loss is NaN at step 51".into()),
    }));
    assert!(screen(&app, 140, 40).contains("diverged: loss is NaN at step 51"));
}

#[test]
fn help_is_generated_from_the_keymap() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    key(&mut app, KeyCode::Char('?'));
    let text = screen(&app, 120, 40);
    for (_, _, description) in super::keymap::KEYMAP {
        assert!(text.contains(description), "help lacks {description:?}");
    }
    key(&mut app, KeyCode::Char('z'));
    assert!(matches!(app.mode, Mode::Normal));
}

#[test]
fn presets_are_picked_and_saved() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    key(&mut app, KeyCode::Char('l'));
    let text = screen(&app, 140, 40);
    assert!(
        text.contains("mlp-best") && text.contains("The report's final MLP"),
        "{text}"
    );
    let Mode::Presets { items, .. } = &app.mode else {
        panic!()
    };
    let target = items.iter().position(|p| p.name == "mlp-best").unwrap();
    while !matches!(&app.mode, Mode::Presets { selected, .. } if *selected == target) {
        key(&mut app, KeyCode::Down);
    }
    let effects = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::StartRun { config, .. }] if config.hidden == vec![800, 400, 200, 100])
    );
    assert_eq!(app.preset, "mlp-best");
    key(&mut app, KeyCode::Char('w'));
    chars(&mut app, "bad name");
    key(&mut app, KeyCode::Enter);
    assert!(matches!(&app.mode, Mode::SaveName { error: Some(_), .. }));
    for _ in 0..8 {
        key(&mut app, KeyCode::Backspace);
    }
    chars(&mut app, "mine");
    key(&mut app, KeyCode::Enter);
    assert!(dir.path().join("mine.toml").is_file());
    let saved = presets(dir.path()).find("mine").unwrap();
    assert_eq!(saved.config, app.config);
}

#[test]
fn a_small_terminal_gets_a_message_and_data_problems_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let text = screen(&app, 60, 20);
    assert!(
        text.contains("Terminal too small: 60x20") && text.contains("80x24"),
        "{text}"
    );
    app.update(Msg::Data(DataState::Downloading {
        done: 50_000_000,
        total: Some(170_000_000),
    }));
    let text = screen(&app, 100, 30);
    assert!(
        text.contains("Downloading") && text.contains("50.0 / 170.0 MB"),
        "{text}"
    );
    assert!(
        key(&mut app, KeyCode::Char('r')).is_empty(),
        "no run before the data is ready"
    );
    app.update(Msg::Data(DataState::Failed(
        "download failed: connection refused".into(),
    )));
    let text = screen(&app, 100, 30);
    assert!(
        text.contains("connection refused") && text.contains("GRADBOARD_DATA"),
        "{text}"
    );
}

#[test]
fn default_config_is_usable() {
    RunConfig::default().validate().unwrap();
}
