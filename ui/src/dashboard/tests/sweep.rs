//! The sweep screen: the form assembled and checked as the command line does, the queue,
//! results and scatter, and the sweep's commands.

use super::*;
use crate::dashboard::msg::{Mode, Screen};
use gradboard::runner::sweep::{QueueEntry, QueueState, SweepCommand, SweepState};

fn entry(
    index: usize,
    lr: &str,
    state: QueueState,
    best: Option<f64>,
    pruned_at: Option<usize>,
) -> QueueEntry {
    QueueEntry {
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
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(app.mode, Mode::SweepForm);
    assert!(screen(&app, 120, 40).contains("new sweep"));
    // The cursor starts in the grid field; an empty sweep is refused with the reason (found
    // by the worker that assembles it, as the command line would).
    let effects = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::CheckSweep(_)]),
        "{effects:?}"
    );
    assert!(screen(&app, 120, 40).contains("checking the sweep"));
    answer(&mut app, effects);
    assert!(screen(&app, 120, 40).contains("nothing to sweep"));
    chars(&mut app, "lr=1e-3,2e-3,4e-3");
    for _ in 0..3 {
        key(&mut app, KeyCode::Down);
    }
    chars(&mut app, "steps=300");
    let effects = press(&mut app, KeyCode::Enter);
    let Some(Effect::StartSweep(spec)) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(spec.grid[0].1.len(), 3);
    assert_eq!(spec.set, vec!["steps=300"]);
    assert!(spec.prune.is_some());
    assert_eq!(app.screen, Screen::Sweep);
    assert_eq!(app.mode, Mode::Normal);
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
    assert!(
        s.find("0.4100").unwrap() < s.rfind("0.3300").unwrap(),
        "{s}"
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
    // A second sweep waits for this one; quitting with it unfinished asks first.
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(app.mode, Mode::Normal);
    key(&mut app, KeyCode::Char('q'));
    assert_eq!(app.mode, Mode::ConfirmQuit);
}

#[test]
fn an_absurd_count_in_the_form_is_one_line_not_a_full_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    app.screen = Screen::Sweep;
    key(&mut app, KeyCode::Char('n'));
    // ranges, then count.
    key(&mut app, KeyCode::Down);
    chars(&mut app, "lr=1e-4..1e-2:log");
    key(&mut app, KeyCode::Down);
    for _ in 0..3 {
        key(&mut app, KeyCode::Backspace);
    }
    chars(&mut app, "1000000000");
    press(&mut app, KeyCode::Enter);
    let error = app.sweep.form.as_ref().unwrap().error.clone().unwrap();
    assert!(
        error.contains("1000000000 runs") && error.contains("at most"),
        "{error}"
    );
}
