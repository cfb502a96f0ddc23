//! The live screen: editing settings (live keys reach the running run), restarting, presets,
//! the charts and progress, help, and what the screen says about the data set.

use super::*;
use crate::dashboard::keymap::{help_lines, Context};
use crate::dashboard::msg::{Mode, Screen};
use crate::dashboard::store::Status;
use gradboard::config::Choice;
use gradboard::train::Command;

#[test]
fn editing_the_learning_rate_and_restarting_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    select(&mut app, "lr");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.mode, Mode::Editing);
    // A real text input: the cursor moves, Home/End jump, Delete removes under the cursor.
    key(&mut app, KeyCode::Home);
    key(&mut app, KeyCode::Delete);
    key(&mut app, KeyCode::End);
    for _ in 0..10 {
        key(&mut app, KeyCode::Backspace);
    }
    chars(&mut app, "5e-3");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.live.config.lr, 5e-3);
    match key(&mut app, KeyCode::Char('r')).as_slice() {
        [Effect::Start { config, .. }] => assert_eq!(config.lr, 5e-3),
        other => panic!("{other:?}"),
    }
    key(&mut app, KeyCode::Char('+'));
    assert_eq!(app.live.config.lr, 1e-2);
    key(&mut app, KeyCode::Char('-'));
    key(&mut app, KeyCode::Char('-'));
    assert_eq!(app.live.config.lr, 2.5e-3);
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
    assert!(notice(&app).contains("next step"));
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
    assert!(notice(&app).contains("needs a restart"));
}

#[test]
fn a_live_clip_norm_off_reaches_the_runs_settings() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    choose(&mut app, "engine", "autograd");
    select(&mut app, "clip_norm");
    key(&mut app, KeyCode::Enter);
    for _ in 0..3 {
        key(&mut app, KeyCode::Backspace);
    }
    chars(&mut app, "5");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.live.config.clip_norm, Some(5.0));
    let id = started_run(&mut app, "run-c");
    // The run writes a null for "off": the dashboard's settings follow it, as every reader.
    app.update(Msg::Run(ev(
        &id,
        EventKind::Set {
            step: 3,
            key: "clip_norm".into(),
            value: serde_json::Value::Null,
        },
    )));
    let run = app.run().unwrap();
    assert_eq!(run.config.clip_norm, None);
    assert!(run.refused.is_empty(), "{:?}", run.refused);
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
    assert_eq!(app.mode, Mode::Editing);
    let e = app.live.editor.as_ref().unwrap().error.clone().unwrap();
    assert!(e.contains("dropout") && e.contains("below 1"), "{e}");
    assert_eq!(app.live.config.dropout, 0.0);
    let text = screen(&app, 120, 40);
    assert!(text.contains("out of range"), "{text}");
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.live.config.dropout, 0.0);
}

/// A choice opens a list of its values, each with what it does, the current one under the
/// cursor: adam to sgd is one list, not three presses; Esc leaves the setting as it was.
#[test]
fn choices_open_a_list_and_hidden_is_typed_as_a_list() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    select(&mut app, "optimizer");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.mode, Mode::Choices);
    let text = screen(&app, 160, 45);
    assert!(
        text.contains("optimizer: Enter takes it, Esc closes")
            && text.contains("nesterov")
            && text.contains("Adam with decoupled weight decay"),
        "{text}"
    );
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(
        app.live.config.optimizer.name(),
        "sgd",
        "Esc changes nothing"
    );
    choose(&mut app, "optimizer", "adam");
    assert_eq!(app.live.config.optimizer.name(), "adam");
    // The manual engine only takes SGD: the screen says so and a restart refuses.
    assert!(notice(&app).contains("engine = manual"));
    assert!(key(&mut app, KeyCode::Char('r')).is_empty());
    choose(&mut app, "engine", "autograd");
    assert_eq!(app.live.config.engine.name(), "autograd");
    select(&mut app, "hidden");
    key(&mut app, KeyCode::Enter);
    for _ in 0..5 {
        key(&mut app, KeyCode::Backspace);
    }
    chars(&mut app, "800,400,200,100");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.live.config.hidden, vec![800, 400, 200, 100]);
    assert!(!key(&mut app, KeyCode::Char('r')).is_empty());
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
    assert!(run.curves.train_loss.points().is_empty());
    let old_view = app.shared.runs.get(&old).unwrap();
    assert_eq!(old_view.step, 2);
    assert_eq!(
        old_view.status(),
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
    assert!(
        app.shared.notice.as_ref().unwrap().error,
        "shown as an error"
    );
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
            val_loss: None,
            val_acc: None,
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
        text.contains("loss log10") && text.contains("epoch"),
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
fn help_is_generated_from_the_keymap_for_every_screen_and_popup_keys_are_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    for screen_ in Screen::ALL {
        app.screen = screen_;
        key(&mut app, KeyCode::Char('?'));
        let text = screen(&app, 130, 50);
        for (_, description) in help_lines(Context::Screen(screen_)) {
            let start: String = description.chars().take(40).collect();
            assert!(
                text.contains(&start),
                "{screen_:?} help lacks {description:?}:\n{text}"
            );
        }
        key(&mut app, KeyCode::Char('z'));
        assert_eq!(app.mode, Mode::Normal);
    }
    // Popups take their keys from the same table.
    for context in [
        Context::Presets,
        Context::ConfirmQuit,
        Context::LrFinder,
        Context::Field,
        Context::Form,
    ] {
        assert!(!help_lines(context).is_empty(), "{context:?}");
    }
    app.screen = Screen::Live;
    press(&mut app, KeyCode::Char('l'));
    let text = screen(&app, 140, 40);
    assert!(
        text.contains("Enter take") && text.contains("Esc close"),
        "{text}"
    );
}

#[test]
fn presets_are_read_off_the_screen_thread_then_picked_and_saved() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    // The picker asks for the presets; the update itself reads no file.
    assert_eq!(key(&mut app, KeyCode::Char('l')), vec![Effect::ListPresets]);
    assert!(screen(&app, 140, 40).contains("Reading the presets"));
    let more = app.update(workers::presets_read(&app.shared.presets.clone()));
    assert!(more.is_empty());
    let text = screen(&app, 140, 40);
    assert!(
        text.contains("mlp-best") && text.contains("The report's final MLP"),
        "{text}"
    );
    let picker = app.live.picker.clone().unwrap();
    let target = picker
        .items
        .unwrap()
        .iter()
        .position(|p| p.name == "mlp-best")
        .unwrap();
    while app.live.picker.as_ref().unwrap().selected != target {
        key(&mut app, KeyCode::Down);
    }
    let effects = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::Start { config, preset, .. }] if config.hidden == vec![800, 400, 200, 100] && preset == "mlp-best")
    );
    assert_eq!(app.live.preset, "mlp-best");
    // l in the picker loads a preset into the settings without starting it.
    key(&mut app, KeyCode::Char('l'));
    app.update(workers::presets_read(&app.shared.presets.clone()));
    while app.live.picker.as_ref().unwrap().selected != 0 {
        key(&mut app, KeyCode::Up);
    }
    let first = app.live.picker.as_ref().unwrap().items.as_ref().unwrap()[0].clone();
    assert!(
        key(&mut app, KeyCode::Char('l')).is_empty(),
        "nothing starts"
    );
    assert_eq!(
        (app.mode, app.live.preset.as_str()),
        (Mode::Normal, first.name.as_str())
    );
    assert_eq!(app.live.config, first.config);
    assert!(notice(&app).contains("r starts it"), "{}", notice(&app));
    key(&mut app, KeyCode::Char('w'));
    chars(&mut app, "bad name");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.mode, Mode::SaveName);
    assert!(app.live.save_name.as_ref().unwrap().error.is_some());
    for _ in 0..8 {
        key(&mut app, KeyCode::Backspace);
    }
    chars(&mut app, "mine");
    press(&mut app, KeyCode::Enter);
    assert!(dir.path().join("mine.toml").is_file());
    let saved = presets(dir.path()).find("mine").unwrap();
    assert_eq!(saved.config, app.live.config);
    assert_eq!(app.live.preset, "mine");
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
fn a_crashed_run_opened_from_its_folder_shows_crashed_with_no_eta() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let id = "20261127-100000-numpy-mlp-dead";
    let mut rec = record(id, dir.path(), 2e-3, 0.4, &app.live.config.clone());
    rec.status = gradboard::runs::ListedStatus::Crashed;
    app.update(Msg::Library(vec![rec]));
    app.screen = Screen::Runs;
    let effects = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::Load { .. }]),
        "{effects:?}"
    );
    let mut config = app.live.config.clone();
    config.steps = 300;
    app.update(Msg::Loaded {
        run_id: id.into(),
        events: vec![
            ev(
                id,
                EventKind::Start(Box::new(start_info(config, "numpy-mlp", None))),
            ),
            train_event(id, 1, 2.0),
            train_event(id, 2, 1.9),
        ],
    });
    assert_eq!(app.run().unwrap().status(), Status::Crashed);
    let text = screen(&app, 140, 40);
    assert!(text.contains("status  crashed"), "{text}");
    assert!(text.contains("ETA -"), "{text}");
}

#[test]
fn a_folder_whose_name_is_not_its_run_id_still_shows_its_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let folder = "copied-run";
    let mut rec = record(folder, dir.path(), 2e-3, 0.4, &app.live.config.clone());
    rec.status = gradboard::runs::ListedStatus::Ended(RunStatus::Completed);
    app.update(Msg::Library(vec![rec]));
    app.screen = Screen::Runs;
    key(&mut app, KeyCode::Enter);
    // The events carry the id the run was written under; the dashboard keys them by folder.
    let original = "20261127-100000-numpy-mlp-beef";
    app.update(Msg::Loaded {
        run_id: folder.into(),
        events: vec![
            ev(
                original,
                EventKind::Start(Box::new(start_info(
                    app.live.config.clone(),
                    "numpy-mlp",
                    None,
                ))),
            ),
            train_event(original, 1, 2.0),
            done(original, 1, RunStatus::Completed, None),
        ],
    });
    let text = screen(&app, 140, 40);
    assert!(!text.contains("Reading the run's events"), "{text}");
    assert!(text.contains("completed"), "{text}");
    // An empty events file still ends the wait.
    app.update(Msg::Library(vec![record(
        "empty",
        dir.path(),
        1e-3,
        0.1,
        &app.live.config.clone(),
    )]));
    app.screen = Screen::Runs;
    key(&mut app, KeyCode::Enter);
    app.update(Msg::Loaded {
        run_id: "empty".into(),
        events: vec![],
    });
    assert!(!screen(&app, 140, 40).contains("Reading the run's events"));
}

/// The architecture panel: the nets are read off the screen thread, the selected one's layers,
/// parameters, FLOP and memory are shown, its variables change with + and -, and Enter puts it
/// in the settings that r starts.
#[test]
fn the_architecture_panel_picks_a_net_and_its_variables() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    assert_eq!(key(&mut app, KeyCode::Char('N')), vec![Effect::ListNets]);
    assert!(screen(&app, 160, 45).contains("Reading the nets"));
    let more = app.update(workers::nets_read(&app.shared.presets.clone()));
    assert!(more.is_empty());
    let target = app
        .live
        .nets
        .as_ref()
        .and_then(|p| p.items.as_ref())
        .unwrap()
        .iter()
        .position(|n| n.name == "resnet-small")
        .unwrap();
    while app.live.nets.as_ref().unwrap().selected != target {
        key(&mut app, KeyCode::Down);
    }
    let text = screen(&app, 160, 45);
    assert!(
        text.contains("resnet-small")
            && text.contains("variables: w1=32  w2=64  w3=128")
            && text.contains("696,618 parameters")
            && text.contains("[128, 8, 8]"),
        "{text}"
    );
    // The second variable doubled: the summary follows.
    key(&mut app, KeyCode::Right);
    key(&mut app, KeyCode::Char('+'));
    let text = screen(&app, 160, 45);
    assert!(text.contains("w2=128"), "{text}");
    assert!(
        !text.contains("696,618 parameters"),
        "the count follows the variable"
    );
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.mode, Mode::Normal);
    let net = app.live.config.net.clone().unwrap();
    assert_eq!(
        (net.name.as_str(), net.var("w2")),
        ("resnet-small", Some(128.0))
    );
    assert!(
        notice(&app).contains("r starts a run with it"),
        "{}",
        notice(&app)
    );
    let effects = key(&mut app, KeyCode::Char('r'));
    assert!(
        matches!(effects.last(), Some(Effect::Start { config, .. }) if config.model == gradboard::config::ModelKind::Net),
        "{effects:?}"
    );
    // Esc closes without touching the settings.
    key(&mut app, KeyCode::Char('N'));
    app.update(workers::nets_read(&app.shared.presets.clone()));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.live.config.net.as_ref().unwrap().var("w2"), Some(128.0));
}

#[test]
fn the_data_picker_reads_a_typed_path_shows_its_summary_then_trains_on_it() {
    use crate::dashboard::msg::OpenedData;
    use gradboard::data::synthetic::{records, write_idx};
    use gradboard::data::{resample, Dataset, Split};
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    assert_eq!(key(&mut app, KeyCode::Char('D')), vec![Effect::ListData]);
    app.update(Msg::DataSources(vec![
        dir.path().join("cifar-10-binary.tar.gz"),
        PathBuf::from("tiny.tar.gz"),
    ]));
    let text = screen(&app, 140, 45);
    assert!(
        text.contains("CIFAR-10's download: the default") && text.contains("tiny.tar.gz  (in use)"),
        "{text}"
    );
    // A typed path (letters that are keys elsewhere go into the field), then Enter reads it.
    let idx = dir.path().join("digits");
    chars(&mut app, &idx.display().to_string());
    let effects = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(&effects[..], [Effect::OpenData { path, .. }] if *path == idx),
        "{effects:?}"
    );
    // What the worker reads: a small idx set.
    let r = records(30, 1);
    let (images, labels): (Vec<u8>, Vec<u8>) = (
        r.chunks_exact(3073).flat_map(|c| c[1..].to_vec()).collect(),
        r.chunks_exact(3073).map(|c| c[0]).collect(),
    );
    let grey = resample::split(
        &Split::from_images(&images, &labels),
        (3, 32, 32),
        (1, 32, 32),
    );
    write_idx(&idx, &grey, &grey, (32, 32), false).unwrap();
    let data = Dataset::load(&idx).unwrap();
    let report = gradboard::data::inspect::inspect(&data);
    let thumbnails = gradboard::data::inspect::thumbnails(&data, 8, 16);
    app.update(Msg::DataOpened(Ok(Box::new(OpenedData {
        path: idx.clone(),
        data: std::sync::Arc::new(data),
        report,
        thumbnails,
    }))));
    let text = screen(&app, 140, 45);
    assert!(
        text.contains("idx 1x32x32, 10 classes; train 30 images, test 30")
            && text.contains("30 test image(s) copy a training image")
            && text.contains("Enter trains on it"),
        "{text}"
    );
    let effects = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(&effects[..], [Effect::UseData(o)] if o.path == idx),
        "{effects:?}"
    );
    assert_eq!(app.mode, Mode::Normal);
    // A path that cannot be read: the reason in the picker, which stays open.
    key(&mut app, KeyCode::Char('D'));
    chars(&mut app, "/nowhere");
    key(&mut app, KeyCode::Enter);
    app.update(Msg::DataOpened(Err(
        "/nowhere: no such file or folder".into()
    )));
    assert!(screen(&app, 140, 45).contains("/nowhere: no such file or folder"));
    assert_eq!(app.mode, Mode::Data);
}

/// A fork's progress says its steps are extra: they go on from its parent's.
#[test]
fn a_forks_progress_says_its_steps_go_on_from_its_parents() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let id = "20261127-100100-numpy-mlp-bbbb";
    stored_run(
        &mut app,
        id,
        1e-3,
        0.4,
        Some(("20261127-100000-numpy-mlp-aaaa", 300)),
    );
    app.live.current = Some(id.into());
    app.screen = Screen::Live;
    let text = screen(&app, 160, 45);
    assert!(
        text.contains("step    600 / 600") && text.contains("fork 301-600"),
        "{text}"
    );
}
