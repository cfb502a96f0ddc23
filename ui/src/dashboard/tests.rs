//! The dashboard driven by key events and run events, without a terminal, and drawn into
//! ratatui's TestBackend.

use super::app::{App, DataState, Effect, Mode, Msg};
use super::keymap::Screen;
use super::state::Status;
use super::views::draw;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use gradboard::config::{Choice, PresetDirs, RunConfig};
use gradboard::events::{Event, EventKind, RunStatus, StartInfo};
use gradboard::train::Command;
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
    while app.selected_key().name != name {
        key(app, KeyCode::Down);
    }
}

/// Presses r and answers as the runtime does when the runner starts the run.
fn started_run(app: &mut App, id: &str) -> String {
    let effects = key(app, KeyCode::Char('r'));
    let Some(Effect::Start { config, preset, .. }) = effects.last().cloned() else {
        panic!("expected a start, got {effects:?}")
    };
    app.update(Msg::Started {
        run_id: id.into(),
        config: (*config).clone(),
        preset: preset.clone(),
    });
    let info = StartInfo {
        config: *config,
        schema: gradboard::events::SCHEMA,
        version: "test".into(),
        threads: 1,
        device: "cpu".into(),
        data: Default::default(),
        train_size: 1000,
        preset,
        changed: Default::default(),
        parent: None,
        sweep: None,
    };
    app.update(Msg::Run(ev(id, EventKind::Start(Box::new(info)))));
    id.to_string()
}

fn ev(id: &str, kind: EventKind) -> Event {
    Event::now(id, kind)
}

fn train_event(run_id: &str, step: usize, loss: f64) -> Event {
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

fn done(run_id: &str, step: usize, status: RunStatus, reason: Option<&str>) -> Event {
    ev(
        run_id,
        EventKind::Done {
            step,
            status,
            final_test_acc: 0.4,
            best_test_acc: 0.4,
            seconds: 3.0,
            reason: reason.map(String::from),
        },
    )
}

#[test]
fn editing_the_learning_rate_and_restarting_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    select(&mut app, "lr");
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.mode, Mode::Editing { .. }));
    // A real text input: the cursor moves, Home/End jump, Delete removes under the cursor.
    key(&mut app, KeyCode::Home);
    key(&mut app, KeyCode::Delete);
    key(&mut app, KeyCode::End);
    for _ in 0..10 {
        key(&mut app, KeyCode::Backspace);
    }
    chars(&mut app, "5e-3");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.config.lr, 5e-3);
    match key(&mut app, KeyCode::Char('r')).as_slice() {
        [Effect::Start { config, .. }] => assert_eq!(config.lr, 5e-3),
        other => panic!("{other:?}"),
    }
    key(&mut app, KeyCode::Char('+'));
    assert_eq!(app.config.lr, 1e-2);
    key(&mut app, KeyCode::Char('-'));
    key(&mut app, KeyCode::Char('-'));
    assert_eq!(app.config.lr, 2.5e-3);
}

#[test]
fn a_live_change_goes_to_the_running_run_and_is_marked_on_the_chart() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let id = started_run(&mut app, "run-a");
    for step in 1..=20 {
        app.update(Msg::Run(train_event(&id, step, 2.0)));
    }
    assert_eq!(
        key(&mut app, KeyCode::Char('+')),
        vec![Effect::Send {
            run_id: id.clone(),
            command: Command::Set {
                key: "lr".into(),
                value: "0.004".into()
            }
        }]
    );
    assert!(app.notice.as_ref().unwrap().0.contains("next step"));
    let text = screen(&app, 140, 40);
    assert!(text.contains("*lr"), "not in the run yet:\n{text}");
    app.update(Msg::Run(ev(
        &id,
        EventKind::Set {
            step: 20,
            key: "lr".into(),
            value: serde_json::json!(0.004),
        },
    )));
    let text = screen(&app, 140, 40);
    assert!(
        text.contains("lr=0.004"),
        "the chart marks the change:\n{text}"
    );
    assert!(!text.contains("*lr"), "the run has it now:\n{text}");
    // A key that shapes the network waits for a restart, and the panel says so.
    select(&mut app, "hidden");
    assert!(screen(&app, 140, 40).contains("restart"));
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Backspace);
    chars(&mut app, "50");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert!(app.notice.as_ref().unwrap().0.contains("needs a restart"));
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
            assert!(e.contains("dropout") && e.contains("below 1"), "{e}")
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

#[test]
fn pause_stop_and_quit_send_commands_and_quitting_waits_for_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    assert_eq!(
        key(&mut app, KeyCode::Char('q')),
        vec![Effect::Quit],
        "nothing running: quit at once"
    );
    let id = started_run(&mut app, "run-a");
    app.update(Msg::Run(train_event(&id, 1, 2.3)));
    let send = |command| {
        vec![Effect::Send {
            run_id: id.clone(),
            command,
        }]
    };
    assert_eq!(key(&mut app, KeyCode::Char(' ')), send(Command::Pause));
    app.update(Msg::Run(ev(
        &id,
        EventKind::Paused {
            step: 1,
            paused: true,
        },
    )));
    assert_eq!(app.run().unwrap().status, Status::Paused);
    assert_eq!(key(&mut app, KeyCode::Char('p')), send(Command::Resume));
    assert!(key(&mut app, KeyCode::Char('q')).is_empty());
    assert!(matches!(app.mode, Mode::ConfirmQuit));
    assert!(screen(&app, 100, 30).contains("Quit?"));
    key(&mut app, KeyCode::Char('n'));
    assert!(matches!(app.mode, Mode::Normal));
    key(&mut app, KeyCode::Char('q'));
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        vec![Effect::StopAllAndQuit]
    );
    assert!(matches!(app.mode, Mode::Stopping));
    let text = screen(&app, 100, 30);
    assert!(text.contains("Stopping 1 run"), "{text}");
    // Keys wait; the run's done ends the wait.
    assert!(key(&mut app, KeyCode::Char('r')).is_empty());
    app.update(Msg::Run(done(&id, 1, RunStatus::Stopped, None)));
    assert_eq!(app.runs.active_here().count(), 0);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(app.update(Msg::Key(ctrl_c)), vec![Effect::Quit]);
}

#[test]
fn runs_are_kept_by_id_and_a_restart_shows_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let old = started_run(&mut app, "run-old");
    app.update(Msg::Run(train_event(&old, 1, 2.0)));
    let effects = key(&mut app, KeyCode::Char('r'));
    assert_eq!(
        effects[0],
        Effect::Send {
            run_id: old.clone(),
            command: Command::Stop
        },
        "a restart stops the old run first"
    );
    let new = started_run(&mut app, "run-new");
    app.update(Msg::Run(train_event(&old, 2, 9.0)));
    app.update(Msg::Run(done(&old, 2, RunStatus::Stopped, None)));
    let run = app.run().unwrap();
    assert_eq!(run.run_id, new);
    assert_eq!(run.step, 0);
    assert!(run.loss.points().is_empty());
    let old_view = app.runs.get(&old).unwrap();
    assert_eq!(old_view.step, 2);
    assert_eq!(
        old_view.status,
        Status::Ended(RunStatus::Stopped, None),
        "the old run's events still reach its own view"
    );
}

#[test]
fn a_failed_run_says_why_and_the_dashboard_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let id = started_run(&mut app, "run-f");
    app.update(Msg::Run(train_event(&id, 1, 2.0)));
    app.update(Msg::Run(done(
        &id,
        2,
        RunStatus::Failed,
        Some("panic: injected fault: panic at step 3"),
    )));
    let text = screen(&app, 140, 40);
    assert!(text.contains("failed: panic: injected fault"), "{text}");
    assert!(app.notice.as_ref().unwrap().1, "shown as an error");
    assert_eq!(key(&mut app, KeyCode::Char('q')), vec![Effect::Quit]);
    assert!(matches!(
        key(&mut app, KeyCode::Char('r')).as_slice(),
        [Effect::Start { .. }]
    ));
}

#[test]
fn the_screen_shows_progress_charts_and_settings() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let id = started_run(&mut app, "run-s");
    for step in 1..=50 {
        app.update(Msg::Run(train_event(&id, step, 2.3 - step as f64 * 0.01)));
    }
    app.update(Msg::Run(ev(
        &id,
        EventKind::Eval {
            step: 50,
            epoch: 10.0,
            test_loss: 1.9,
            test_acc: 0.4321,
        },
    )));
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
        "0.4321 (step 50)",
        "hidden",
        "batch_size",
        "tiny.tar.gz",
        "r restart",
        "restart: manual = hand-written",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    key(&mut app, KeyCode::Char('g'));
    key(&mut app, KeyCode::Char('x'));
    let text = screen(&app, 140, 40);
    assert!(
        text.contains("loss (log10)") && text.contains("epoch"),
        "{text}"
    );
    app.update(Msg::Run(done(
        &id,
        51,
        RunStatus::Diverged,
        Some("loss is NaN at step 51"),
    )));
    assert!(screen(&app, 140, 40).contains("diverged: loss is NaN at step 51"));
}

#[test]
fn help_is_generated_from_the_keymap() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    for screen_ in Screen::ALL {
        app.screen = screen_;
        key(&mut app, KeyCode::Char('?'));
        let text = screen(&app, 130, 50);
        for (_, description) in super::keymap::help_lines(screen_) {
            let start: String = description.chars().take(40).collect();
            assert!(
                text.contains(&start),
                "{screen_:?} help lacks {description:?}:\n{text}"
            );
        }
        key(&mut app, KeyCode::Char('z'));
        assert!(matches!(app.mode, Mode::Normal));
    }
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
        matches!(effects.as_slice(), [Effect::Start { config, preset, .. }] if config.hidden == vec![800, 400, 200, 100] && preset == "mlp-best")
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

fn record(
    id: &str,
    dir: &std::path::Path,
    lr: f64,
    best: f64,
    config: &RunConfig,
) -> gradboard::runs::RunRecord {
    let mut config = config.clone();
    config.lr = lr;
    gradboard::runs::RunRecord {
        run_id: id.into(),
        preset: "numpy-mlp".into(),
        status: gradboard::runs::ListedStatus::Ended(RunStatus::Completed),
        step: 300,
        final_test_acc: Some(best - 0.01),
        best_test_acc: Some(best),
        seconds: 12.0,
        started: best,
        changed: std::collections::BTreeMap::from([("lr".to_string(), serde_json::json!(lr))]),
        parent: None,
        sweep: None,
        reason: None,
        config: Some(config),
        dir: dir.join(id),
    }
}

/// The events a stored run of 300 steps would give: start, train, evals, done.
fn stored_run(app: &mut App, id: &str, lr: f64, best: f64, parent: Option<(&str, usize)>) {
    let mut config = app.config.clone();
    config.lr = lr;
    config.steps = 300;
    let first = parent.map_or(0, |p| p.1);
    let info = StartInfo {
        config,
        schema: gradboard::events::SCHEMA,
        version: "test".into(),
        threads: 1,
        device: "cpu".into(),
        data: Default::default(),
        train_size: 1000,
        preset: "numpy-mlp".into(),
        changed: Default::default(),
        parent: parent.map(|(p, step)| gradboard::events::ParentRef {
            run_id: p.into(),
            step,
        }),
        sweep: None,
    };
    app.update(Msg::Run(ev(id, EventKind::Start(Box::new(info)))));
    for step in first + 1..=first + 300 {
        app.update(Msg::Run(train_event(id, step, 2.3 - step as f64 * 0.001)));
        if step % 100 == 0 {
            app.update(Msg::Run(ev(
                id,
                EventKind::Eval {
                    step,
                    epoch: 1.0,
                    test_loss: 1.5,
                    test_acc: best * step as f64 / (first + 300) as f64,
                },
            )));
        }
    }
    app.update(Msg::Run(done(id, first + 300, RunStatus::Completed, None)));
}

#[test]
fn the_runs_screen_sorts_filters_marks_and_compares() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let base = app.config.clone();
    app.update(Msg::Library(vec![
        record(
            "20261127-100000-numpy-mlp-aaaa",
            dir.path(),
            1e-3,
            0.41,
            &base,
        ),
        record(
            "20261127-100100-numpy-mlp-bbbb",
            dir.path(),
            2e-3,
            0.45,
            &base,
        ),
        record(
            "20261127-100200-numpy-mlp-cccc",
            dir.path(),
            4e-3,
            0.43,
            &base,
        ),
    ]));
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.screen, Screen::Runs);
    let text = screen(&app, 150, 30);
    for expected in [
        "3 of 3 shown",
        "1:run ▼",
        "lr=0.002",
        "completed",
        "0.4500",
        "c compare",
    ] {
        assert!(text.contains(expected), "missing {expected:?}:\n{text}");
    }
    // Sort by best (column 6): the best run first; again reverses.
    key(&mut app, KeyCode::Char('6'));
    assert_eq!(
        app.library.current().unwrap().run_id,
        "20261127-100100-numpy-mlp-bbbb"
    );
    let text = screen(&app, 150, 30);
    assert!(text.contains("6:best ▼"), "{text}");
    key(&mut app, KeyCode::Char('6'));
    assert_eq!(
        app.library.current().unwrap().run_id,
        "20261127-100000-numpy-mlp-aaaa"
    );
    // Filter by typing.
    key(&mut app, KeyCode::Char('/'));
    chars(&mut app, "cccc");
    assert_eq!(app.library.visible().len(), 1);
    assert!(screen(&app, 150, 30).contains("filter: cccc"));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.library.visible().len(), 3);
    // Mark two runs: each is asked for in full.
    let effects = key(&mut app, KeyCode::Char(' '));
    assert!(
        matches!(effects.as_slice(), [Effect::Load(_)]),
        "{effects:?}"
    );
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char(' '));
    assert_eq!(app.library.marked.len(), 2);
    stored_run(&mut app, "20261127-100000-numpy-mlp-aaaa", 1e-3, 0.41, None);
    stored_run(&mut app, "20261127-100200-numpy-mlp-cccc", 4e-3, 0.43, None);
    key(&mut app, KeyCode::Char('c'));
    assert_eq!(app.screen, Screen::Compare);
    let text = screen(&app, 150, 40);
    assert!(
        text.contains("aaaa lr=0.001") && text.contains("cccc lr=0.004"),
        "legend:\n{text}"
    );
    key(&mut app, KeyCode::Char('d'));
    let text = screen(&app, 150, 40);
    assert!(
        text.contains("the 1 keys that differ") && text.contains("0.004"),
        "{text}"
    );
    assert!(!text.contains("batch_size"), "only what differs:\n{text}");
    // Export the marked runs.
    match key(&mut app, KeyCode::Char('E')).as_slice() {
        [Effect::Export(dirs)] => assert_eq!(dirs.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_fork_from_the_runs_screen_starts_from_the_parent_and_compare_draws_it_leading_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let base = app.config.clone();
    let parent = "20261127-100000-numpy-mlp-aaaa";
    let rec = record(parent, dir.path(), 2e-3, 0.45, &base);
    std::fs::create_dir_all(&rec.dir).unwrap();
    app.update(Msg::Library(vec![rec.clone()]));
    app.screen = Screen::Runs;
    // No checkpoint: refused with the reason.
    key(&mut app, KeyCode::Char('f'));
    assert!(app.fork.is_none() && app.notice.as_ref().unwrap().0.contains("no checkpoint"));
    std::fs::write(rec.dir.join("checkpoint-last.safetensors"), b"").unwrap();
    key(&mut app, KeyCode::Char('f'));
    assert_eq!(app.screen, Screen::Live);
    assert_eq!(app.fork.as_ref().unwrap().run_id, parent);
    assert!(screen(&app, 140, 40).contains("fork of 20261127-100000-numpy-mlp-aaaa"));
    assert_eq!(app.selected_key().name, "lr", "the cursor waits on lr");
    key(&mut app, KeyCode::Char('-'));
    match key(&mut app, KeyCode::Char('r')).as_slice() {
        [Effect::Start { config, from, .. }] => {
            assert_eq!(config.lr, 1e-3);
            assert_eq!(*from, gradboard::runner::From::Fork(rec.dir.clone()));
        }
        other => panic!("{other:?}"),
    }
    assert!(app.fork.is_none(), "a fork is started once");
    // The child's curve in compare begins with the parent's.
    stored_run(&mut app, parent, 2e-3, 0.45, None);
    stored_run(
        &mut app,
        "20261127-100500-numpy-mlp-dddd",
        1e-3,
        0.47,
        Some((parent, 300)),
    );
    let child = app.runs.get("20261127-100500-numpy-mlp-dddd").unwrap();
    let prefix = app.runs.get(parent);
    let t = super::views::chart_trace(child, prefix, &app.chart);
    assert_eq!(
        t.train.first().map(|p| p.0),
        Some(1.0),
        "starts at the parent's first step"
    );
    assert_eq!(t.train.last().map(|p| p.0), Some(600.0));
}

fn entry(
    index: usize,
    lr: &str,
    state: gradboard::runner::sweep::QueueState,
    best: Option<f64>,
    pruned_at: Option<usize>,
) -> gradboard::runner::sweep::QueueEntry {
    gradboard::runner::sweep::QueueEntry {
        index,
        label: format!("lr={lr}"),
        swept: vec![("lr".into(), lr.into())],
        state,
        step: if best.is_some() { 300 } else { 0 },
        steps: 300,
        curve: best.map(|b| vec![(100, b)]).unwrap_or_default(),
        best_test_acc: best,
        final_test_acc: best,
        seconds: best.map(|_| 4.0),
        expected: None,
        pruner: pruned_at.map(|s| format!("pruned at step {s}: below the median")),
        pruned_at,
    }
}

#[test]
fn a_sweep_starts_from_the_form_and_its_queue_results_and_scatter_are_shown() {
    use gradboard::runner::sweep::{QueueState, SweepCommand, SweepState};
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Char('n'));
    assert!(matches!(app.mode, Mode::SweepForm(_)));
    assert!(screen(&app, 120, 40).contains("new sweep"));
    // The cursor starts in the grid field; an empty sweep is refused with the reason.
    key(&mut app, KeyCode::Enter);
    assert!(screen(&app, 120, 40).contains("nothing to sweep"));
    chars(&mut app, "lr=1e-3,2e-3,4e-3");
    for _ in 0..3 {
        key(&mut app, KeyCode::Down);
    }
    chars(&mut app, "steps=300");
    let effects = key(&mut app, KeyCode::Enter);
    let Some(Effect::StartSweep(spec)) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(spec.grid[0].1.len(), 3);
    assert_eq!(spec.set, vec!["steps=300"]);
    assert!(spec.prune.is_some());
    assert_eq!(app.screen, Screen::Sweep);
    let id = "20261127-120000-sweep-dashboard-abcd";
    let run = |n: usize| QueueState::Ended {
        run_id: format!("run-{n}"),
        status: if n == 1 {
            RunStatus::Pruned
        } else {
            RunStatus::Completed
        },
        reason: None,
    };
    app.update(Msg::Sweep(SweepState {
        id: id.into(),
        name: "dashboard".into(),
        swept_keys: vec!["lr".into()],
        queue: vec![
            entry(0, "1e-3", run(0), Some(0.41), None),
            entry(1, "2e-3", run(1), Some(0.33), Some(100)),
            entry(2, "4e-3", QueueState::Pending, None, None),
        ],
        paused: false,
        finished: false,
        pruning: true,
    }));
    let s = screen(&app, 140, 40);
    assert!(s.contains(id), "{s}");
    assert!(s.contains("pruned@100"), "{s}");
    assert!(s.contains("pending"), "{s}");
    assert!(s.contains("results, best test accuracy first"), "{s}");
    assert!(s.contains("best test accuracy against lr"), "{s}");
    assert!(
        s.contains("pruner: no decision yet"),
        "the selected run's detail: {s}"
    );
    let results_row = s.lines().find(|l| l.contains("0.4100")).unwrap();
    assert!(
        s.find("0.4100").unwrap() < s.rfind("0.3300").unwrap(),
        "{results_row}"
    );
    // Cancel the queued run, pause the sweep, stop it.
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    assert_eq!(
        key(&mut app, KeyCode::Char('x')),
        vec![Effect::Sweep(SweepCommand::Cancel(2))]
    );
    key(&mut app, KeyCode::Up);
    assert!(
        key(&mut app, KeyCode::Char('x')).is_empty(),
        "only queued runs"
    );
    assert_eq!(
        key(&mut app, KeyCode::Char('p')),
        vec![Effect::Sweep(SweepCommand::Pause)]
    );
    assert_eq!(
        key(&mut app, KeyCode::Char('S')),
        vec![Effect::Sweep(SweepCommand::StopAll)]
    );
    // Quitting with the sweep unfinished asks first.
    key(&mut app, KeyCode::Char('q'));
    assert!(matches!(app.mode, Mode::ConfirmQuit));
}

#[test]
fn the_analysis_screen_shows_the_matrix_the_classes_and_the_cells_images() {
    use gradboard::analysis::Analysis;
    use gradboard::data::synthetic::{files, write_folder};
    use gradboard::train::Prediction;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path(), &files(10, 40)).unwrap();
    let data = Arc::new(gradboard::data::Cifar10::load(dir.path()).unwrap());
    // Every cat (3) predicted dog (5), the rest right.
    let predictions: Vec<Prediction> = data
        .test
        .labels()
        .iter()
        .enumerate()
        .map(|(i, &label)| Prediction {
            index: i as u32,
            label,
            predicted: if label == 3 { 5 } else { label },
            confidence: 0.5 + i as f32 / 100.0,
        })
        .collect();
    let analysis = Arc::new(Analysis::from_predictions(predictions));
    let mut app = app(dir.path());
    app.update(Msg::Analyzed(Ok(Box::new(
        super::analysis::AnalysisView::new("run-a".into(), analysis, data),
    ))));
    app.screen = Screen::Analysis;
    let s = screen(&app, 140, 45);
    assert!(
        s.contains("run run-a: test accuracy 0.9000 on 40 images"),
        "{s}"
    );
    assert!(s.contains("true \\ pred"), "{s}");
    assert!(s.contains("per class"), "{s}");
    // The cursor starts on the most confused cell: cats predicted dogs.
    assert!(s.contains("4 cat images predicted dog (wrong)"), "{s}");
    assert!(s.contains("cat→dog"), "{s}");
    assert_eq!(s.matches('▀').count() % (32 * 16), 0);
    assert!(s.matches('▀').count() >= 32 * 16, "images drawn");
    // Move to the cats predicted cat: none.
    key(&mut app, KeyCode::Left);
    key(&mut app, KeyCode::Left);
    let s = screen(&app, 140, 45);
    assert!(s.contains("0 cat images predicted cat (right)"), "{s}");
    assert_eq!(s.matches('▀').count(), 0);
    // Too small for images: a message instead.
    let s = screen(&app, 100, 24);
    assert!(s.contains("Enlarge the terminal"), "{s}");
}

#[test]
fn the_lr_finder_fills_its_popup_and_its_suggestion_goes_to_the_settings() {
    use gradboard::train::lr_find::LrFinding;
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let effects = key(&mut app, KeyCode::Char('L'));
    assert!(
        matches!(effects.first(), Some(Effect::LrFind { from: None, .. })),
        "no run yet: a fresh model, {effects:?}"
    );
    for i in 0..20 {
        app.update(Msg::LrStep(1e-7 * 2f64.powi(i), 2.3 - i as f64 * 0.01));
    }
    let s = screen(&app, 120, 40);
    assert!(s.contains("learning-rate finder"), "{s}");
    assert!(s.contains("a fresh model of these settings"), "{s}");
    assert!(s.contains("ramping: 20 steps"), "{s}");
    // The axes fit the ramp so far: decades 1e-7 to 0.1, the loss from under its lowest
    // (2.11) to half its fall above the first (2.3).
    assert!(s.contains("1e-7") && s.contains("0.1"), "{s}");
    assert!(s.contains("2.091") && s.contains("2.395"), "{s}");
    assert!(
        key(&mut app, KeyCode::Char('a')).is_empty(),
        "nothing to apply yet"
    );
    app.update(Msg::LrFound(Ok(LrFinding {
        points: vec![],
        smoothed: vec![],
        suggestion: Some(0.003127),
        diverged: true,
    })));
    let s = screen(&app, 120, 40);
    assert!(s.contains("suggested lr 0.0031"), "{s}");
    key(&mut app, KeyCode::Char('a'));
    assert_eq!(app.config.lr, 0.0031);
    assert!(matches!(app.mode, Mode::Normal));
    // Esc while it runs stops it.
    key(&mut app, KeyCode::Char('L'));
    assert_eq!(key(&mut app, KeyCode::Esc), vec![Effect::StopLrFind]);

    // With a run on the live screen, the finder copies it while the settings keep its network.
    let id = started_run(&mut app, "20261127-120000-numpy-mlp-dddd");
    app.update(Msg::Library(vec![record(
        &id,
        dir.path(),
        app.config.lr,
        0.4,
        &app.config.clone(),
    )]));
    let effects = key(&mut app, KeyCode::Char('L'));
    let Some(Effect::LrFind {
        from: Some((run, folder)),
        ..
    }) = effects.first()
    else {
        panic!("expected a finder on a copy of the run, got {effects:?}")
    };
    assert_eq!((run.as_str(), folder), (id.as_str(), &dir.path().join(&id)));
    app.update(Msg::LrSource(format!("a copy of run {id} at step 300")));
    let s = screen(&app, 140, 40);
    assert!(
        s.contains("a copy of run 20261127-120000-numpy-mlp-dddd at step 300"),
        "{s}"
    );
    key(&mut app, KeyCode::Esc);
    // Another network in the settings: a fresh model.
    select(&mut app, "hidden");
    key(&mut app, KeyCode::Enter);
    chars(&mut app, "0");
    key(&mut app, KeyCode::Enter);
    assert_ne!(app.config.hidden, app.run().unwrap().config.hidden);
    let effects = key(&mut app, KeyCode::Char('L'));
    assert!(
        matches!(effects.first(), Some(Effect::LrFind { from: None, .. })),
        "{effects:?}"
    );
}
