//! Pausing, stopping and quitting: commands reach the run, quitting (a key, Ctrl-C, SIGTERM,
//! SIGHUP, the terminal gone) waits for every run's `done`, and a failed helper thread ends
//! what waited on it with one line.

use super::*;
use crate::dashboard::msg::{Job, Mode, Screen};
use crate::dashboard::screens::analysis::AnalysisScreen;
use crate::dashboard::store::Status;
use gradboard::train::Command;

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
    assert_eq!(app.run().unwrap().status(), Status::Paused);
    assert_eq!(key(&mut app, KeyCode::Char('p')), send(Command::Resume));
    assert!(key(&mut app, KeyCode::Char('q')).is_empty());
    assert_eq!(app.mode, Mode::ConfirmQuit);
    assert!(screen(&app, 100, 30).contains("Quit?"));
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(app.mode, Mode::Normal);
    key(&mut app, KeyCode::Char('q'));
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        vec![Effect::StopAllAndQuit]
    );
    assert_eq!(app.mode, Mode::Stopping);
    let text = screen(&app, 100, 30);
    assert!(text.contains("Stopping 1 run"), "{text}");
    // Keys wait; the run's done ends the wait.
    assert!(key(&mut app, KeyCode::Char('r')).is_empty());
    app.update(Msg::Run(done(&id, 1, RunStatus::Stopped, None)));
    assert_eq!(app.shared.runs.active_here().count(), 0);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(app.update(Msg::Key(ctrl_c)), vec![Effect::Quit]);
}

#[test]
fn a_signal_or_a_lost_terminal_stops_every_run_as_quitting_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let id = started_run(&mut app, "run-t");
    app.update(Msg::Run(train_event(&id, 1, 2.3)));
    assert_eq!(app.update(Msg::Terminate), vec![Effect::StopAllAndQuit]);
    assert_eq!(app.run().unwrap().status(), Status::Stopping);
    assert_eq!(app.mode, Mode::Stopping);
}

#[test]
fn a_helper_thread_that_fails_ends_what_waited_on_it_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    app.update(Msg::Library(vec![record(
        "run-x",
        dir.path(),
        1e-3,
        0.4,
        &app.live.config.clone(),
    )]));
    app.screen = Screen::Runs;
    let effects = key(&mut app, KeyCode::Char('a'));
    assert!(matches!(effects.as_slice(), [Effect::Analyze { .. }]));
    assert!(matches!(app.analysis, AnalysisScreen::Running(_)));
    app.update(Msg::WorkerFailed(
        Job::Analysis,
        "Analysis failed: index out of bounds".into(),
    ));
    assert!(matches!(app.analysis, AnalysisScreen::Failed(_)));
    let text = screen(&app, 140, 40);
    assert!(
        text.contains("The analysis failed: Analysis failed: index out of bounds"),
        "{text}"
    );
    // The data loader too: the screen says the data set failed instead of loading forever.
    app.update(Msg::Data(DataState::Loading("x".into())));
    app.update(Msg::WorkerFailed(Job::Data, "Data failed: boom".into()));
    assert!(matches!(app.shared.data, DataState::Failed(_)));
}

#[test]
fn a_runs_folder_that_cannot_be_listed_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    app.update(Msg::LibraryFailed(
        "cannot list runs: runs.txt: not a folder".into(),
    ));
    app.screen = Screen::Runs;
    let text = screen(&app, 140, 40);
    assert!(text.contains("runs.txt: not a folder"), "{text}");
    assert!(!text.contains("reading the runs folder"), "{text}");
}
