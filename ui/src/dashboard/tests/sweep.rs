//! The sweep screen: the form assembled and checked as the command line does, the queue,
//! results, groups, importance, parallel coordinates with brushes, the scatter, the sweep's
//! commands and forking its best run.

use super::*;
use crate::dashboard::msg::{Mode, Screen};
use gradboard::config::sweep::Objective;
use gradboard::runner::sweep::{
    Budget, GroupRow, QueueEntry, QueueState, SweepCommand, SweepState,
};
use gradboard::search::{Domain, Param, Space};

fn entry(
    index: usize,
    lr: &str,
    state: QueueState,
    best: Option<f64>,
    pruned_at: Option<usize>,
) -> QueueEntry {
    QueueEntry {
        index,
        group: index,
        label: format!("lr={lr}"),
        swept: vec![("lr".into(), lr.into())],
        state,
        step: if best.is_some() { 300 } else { 0 },
        steps: 300,
        curve: best.map(|b| vec![(100, b)]).unwrap_or_default(),
        best,
        value: best,
        best_test_acc: best.map(|b| b - 0.01),
        final_test_acc: best.map(|b| b - 0.02),
        seconds: best.map(|_| 4.0),
        pruner: pruned_at.map(|s| format!("pruned at step {s}: below the median")),
        pruned_at,
        source: "grid".into(),
        ..QueueEntry::default()
    }
}

/// A space of lr (log, 1e-4 to 0.1) and optimizer (sgd, adam).
fn lr_and_optimizer() -> Space {
    Space {
        params: vec![
            Param {
                key: "lr".into(),
                domain: Domain::Number {
                    lo: 1e-4,
                    hi: 1e-1,
                    log: true,
                    int: false,
                },
            },
            Param {
                key: "optimizer".into(),
                domain: Domain::Choice(vec!["sgd".into(), "adam".into()]),
            },
        ],
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
    // grid, ranges, choices, trials, seeds, objective at, set.
    for _ in 0..6 {
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
        pruning: true,
        pruner: "median".into(),
        sampler: "grid".into(),
        seeds: 1,
        objective: Some(Objective::ValAcc),
        ..SweepState::default()
    }));
    let s = screen(&app, 140, 40);
    assert!(s.contains(id), "{s}");
    assert!(s.contains("pruned@100"), "{s}");
    assert!(s.contains("pending"), "{s}");
    assert!(s.contains("results, by best val acc"), "{s}");
    assert!(s.contains("best val acc vs lr"), "{s}");
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
    // The sampler (above the grid), the ranges (below it), then the trials.
    key(&mut app, KeyCode::Up);
    for _ in 0..4 {
        key(&mut app, KeyCode::Backspace);
    }
    chars(&mut app, "random");
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    chars(&mut app, "lr=1e-4..1e-2:log");
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Backspace);
    chars(&mut app, "1000000000");
    press(&mut app, KeyCode::Enter);
    let error = app.sweep.form.as_ref().unwrap().error.clone().unwrap();
    assert!(
        error.contains("1000000000 runs") && error.contains("at most"),
        "{error}"
    );
}

/// A TPE sweep of three seeds each: the groups, what mattered, the parallel coordinates (a log
/// axis, a choice axis, the objective), a brush that keeps the best run, and F forking the
/// best group's best run.
#[test]
fn groups_importance_parallel_coordinates_brushes_and_forking_the_best() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    app.screen = Screen::Sweep;
    let ended = |n: usize| QueueState::Ended {
        run_id: format!("run-{n}"),
        status: RunStatus::Completed,
        reason: None,
    };
    let run = |index: usize, group: usize, lr: &str, opt: &str, best: f64| QueueEntry {
        group,
        label: format!("lr={lr} optimizer={opt} seed={index}"),
        swept: vec![
            ("lr".into(), lr.into()),
            ("optimizer".into(), opt.into()),
            ("seed".into(), index.to_string()),
        ],
        source: "tpe".into(),
        ..entry(index, lr, ended(index), Some(best), None)
    };
    let queue = vec![
        run(0, 0, "0.001", "adam", 0.50),
        run(1, 0, "0.001", "adam", 0.52),
        run(2, 1, "0.03", "sgd", 0.30),
        run(3, 1, "0.03", "sgd", 0.28),
    ];
    let group = |g: usize, label: &str, mean: f64, runs: Vec<usize>| GroupRow {
        group: g,
        label: label.into(),
        runs,
        n: 2,
        best_mean: Some(mean),
        best_std: Some(0.0141),
        value_mean: Some(mean),
        value_std: Some(0.0141),
        final_mean: Some(mean - 0.02),
        final_std: Some(0.01),
        ..GroupRow::default()
    };
    app.update(Msg::Sweep(SweepState {
        id: "20261129-120000-sweep-tpe-abcd".into(),
        name: "tpe".into(),
        sampler: "tpe".into(),
        pruner: "asha (eta 4, first rung at 100 steps)".into(),
        seeds: 2,
        objective: Some(Objective::ValAcc),
        swept_keys: vec!["lr".into(), "optimizer".into()],
        axes: lr_and_optimizer(),
        groups: vec![
            group(0, "lr=0.001 optimizer=adam", 0.51, vec![0, 1]),
            group(1, "lr=0.03 optimizer=sgd", 0.29, vec![2, 3]),
        ],
        importance: vec![("lr".into(), 0.8), ("optimizer".into(), 0.2)],
        budget: Budget {
            steps_spent: 900,
            steps_unpruned: 1200,
            seconds_spent: 30.0,
            seconds_unpruned: 40.0,
        },
        pruning: true,
        finished: true,
        queue,
        ..SweepState::default()
    }));
    let s = screen(&app, 160, 50);
    assert!(s.contains("900 of 1200 steps (75"), "the budget: {s}");
    assert!(s.contains("groups of seeds, by mean best val acc"), "{s}");
    assert!(s.find("0.5100").unwrap() < s.find("0.2900").unwrap(), "{s}");
    assert!(s.contains("what mattered"), "{s}");
    assert!(s.contains("lr (log)"), "the log axis is named: {s}");
    assert!(s.contains("adam") && s.contains("val_acc"), "{s}");
    // Brush the objective axis (the last): the top third keeps the best group's runs only.
    key(&mut app, KeyCode::Left);
    assert_eq!(app.sweep.axis, 2);
    key(&mut app, KeyCode::Char('b'));
    let s = screen(&app, 160, 50);
    assert!(s.contains("2 of 4 runs inside"), "{s}");
    assert!(s.contains("2 runs inside the brushes"), "{s}");
    // Moved down to the bottom, it keeps the other group.
    for _ in 0..10 {
        key(&mut app, KeyCode::Char('['));
    }
    let s = screen(&app, 160, 50);
    assert!(s.contains("2 of 4 runs inside"), "{s}");
    assert!(s.contains("lr=0.03"), "{s}");
    key(&mut app, KeyCode::Char('b'));
    assert!(!app.sweep.brushing());
    // F forks the best group's best run, found in the runs folder's listing.
    let config = gradboard::config::RunConfig::default();
    app.shared.listing.records = vec![record("run-1", dir.path(), 1e-3, 0.52, &config)];
    let effects = key(&mut app, KeyCode::Char('F'));
    assert!(
        matches!(effects.as_slice(), [Effect::ReadFork { run_id, .. }] if run_id == "run-1"),
        "{effects:?}"
    );
}

/// A sweep another process runs is read from its folder and followed while the sweep screen
/// shows it; `,` and `.` step to the older and newer sweeps of the runs folder.
#[test]
fn sweeps_of_the_runs_folder_are_followed_and_stepped_through() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    app.screen = Screen::Sweep;
    let sweeps: Vec<std::path::PathBuf> = ["a", "b", "c"]
        .iter()
        .map(|n| dir.path().join("runs/sweeps").join(n))
        .collect();
    let read = |state: QueueState, dir: &std::path::Path| crate::dashboard::msg::SweepRead {
        state: SweepState {
            id: dir.file_name().unwrap().to_string_lossy().to_string(),
            status: gradboard::runner::sweep::SweepStatus::Running,
            queue: vec![entry(0, "1e-3", state, None, None)],
            ..SweepState::default()
        },
        dir: dir.to_path_buf(),
        sweeps: sweeps.clone(),
    };
    app.update(Msg::SweepRead(Box::new(read(
        QueueState::Running { run_id: "r".into() },
        &sweeps[2],
    ))));
    assert!(screen(&app, 140, 40).contains("from its folder"));
    // S cancels it wherever it runs (its folder marked; scancel for a cluster's).
    assert_eq!(
        key(&mut app, KeyCode::Char('S')),
        vec![Effect::CancelSweep(sweeps[2].clone())]
    );
    // Followed: asked again every two seconds while it runs.
    let effects = app.update(Msg::Tick(1000.0));
    assert_eq!(effects, vec![Effect::ReadSweep(Some(sweeps[2].clone()))]);
    assert!(app.update(Msg::Tick(1001.0)).is_empty());
    assert_eq!(app.update(Msg::Tick(1002.5)).len(), 1);
    // , steps to the older sweep; . back; past the newest, a notice.
    assert_eq!(
        key(&mut app, KeyCode::Char(',')),
        vec![Effect::ReadSweep(Some(sweeps[1].clone()))]
    );
    app.update(Msg::SweepRead(Box::new(read(
        QueueState::Pending,
        &sweeps[1],
    ))));
    assert_eq!(
        key(&mut app, KeyCode::Char('.')),
        vec![Effect::ReadSweep(Some(sweeps[2].clone()))]
    );
    app.update(Msg::SweepRead(Box::new(read(
        QueueState::Pending,
        &sweeps[2],
    ))));
    assert!(key(&mut app, KeyCode::Char('.')).is_empty());
    assert!(notice(&app).contains("no newer sweep"), "{}", notice(&app));
}

/// `m` cycles the plot beside the parallel coordinates: the figure against a key (a choice on
/// a categorical axis, in the space's order), the optimisation history, the intermediate
/// values with the pruned marked, a contour over two keys and the timeline in lanes; `b`
/// starts a brush around the runs' values and the title says its range in the axis's units;
/// the importance panel names its method and what it was measured on.
#[test]
fn the_plot_panel_cycles_through_optunas_plots_and_brushes_say_their_range() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    app.screen = Screen::Sweep;
    let run =
        |index: usize, lr: &str, opt: &str, best: f64, pruned: Option<usize>, span: (f64, f64)| {
            let state = QueueState::Ended {
                run_id: format!("run-{index}"),
                status: if pruned.is_some() {
                    RunStatus::Pruned
                } else {
                    RunStatus::Completed
                },
                reason: None,
            };
            QueueEntry {
                swept: vec![("lr".into(), lr.into()), ("optimizer".into(), opt.into())],
                label: format!("lr={lr} optimizer={opt}"),
                curve: vec![(100, best - 0.1), (200, best)],
                span: Some(span),
                ..entry(index, lr, state, Some(best), pruned)
            }
        };
    let queue = vec![
        run(0, "0.001", "sgd", 0.30, None, (0.0, 10.0)),
        run(1, "0.01", "adam", 0.50, None, (0.0, 12.0)),
        run(2, "0.03", "sgd", 0.20, Some(200), (10.0, 14.0)),
        run(3, "0.003", "adam", 0.45, None, (12.0, 20.0)),
    ];
    let state = SweepState {
        id: "20261205-120000-sweep-tpe-abcd".into(),
        sampler: "tpe".into(),
        seeds: 1,
        objective: Some(Objective::ValAcc),
        swept_keys: vec!["lr".into(), "optimizer".into()],
        axes: lr_and_optimizer(),
        importance: vec![("lr".into(), 0.9), ("optimizer".into(), 0.1)],
        importance_basis: "4 complete configurations: few for a forest, read with care".into(),
        importance_method: "fANOVA (random forest, 64 trees)".into(),
        finished: true,
        queue,
        ..SweepState::default()
    };
    assert_eq!(
        state.best_so_far(),
        vec![(0.0, 0.30), (1.0, 0.50), (2.0, 0.50), (3.0, 0.50)]
    );
    assert_eq!(
        crate::dashboard::views::sweep_plots::lanes(&state).runs,
        vec![(0, 0), (1, 1), (2, 0), (3, 1)],
        "two at once: the third takes the first's lane"
    );
    // Runs of two workers (two cluster tasks) get lanes of their own, each worker named.
    let mut two = state.clone();
    for e in two.queue.iter_mut() {
        e.worker = Some(format!("task 7_{}@node", e.index % 2));
    }
    let lanes = crate::dashboard::views::sweep_plots::lanes(&two);
    assert_eq!(lanes.runs, vec![(0, 0), (2, 0), (1, 1), (3, 1)]);
    assert_eq!(
        lanes.workers,
        vec![
            (0, "task 7_0@node".to_string()),
            (1, "task 7_1@node".to_string())
        ]
    );
    app.update(Msg::Sweep(state));
    let s = screen(&app, 160, 50);
    assert!(s.contains("what mattered (fANOVA)"), "{s}");
    assert!(
        s.contains("by fANOVA (random forest, 64 trees) on 4"),
        "{s}"
    );
    assert!(s.contains("few for a forest, read with care"), "{s}");
    assert!(s.contains("best val acc vs lr (log)"), "{s}");
    key(&mut app, KeyCode::Char('v'));
    let s = screen(&app, 160, 50);
    assert!(s.contains("vs optimizer"), "{s}");
    assert!(
        s.find("sgd").is_some() && s.contains("adam"),
        "choices as labels: {s}"
    );
    for title in [
        "history: best val acc by trial",
        "intermediate val acc by step; • 1 pruned",
        "best val acc over",
        "timeline: 4 trials, 20 s, 1 worker(s), 2 lane(s)",
        "best val acc vs",
    ] {
        key(&mut app, KeyCode::Char('m'));
        let s = screen(&app, 160, 50);
        assert!(s.contains(title), "{title}: {s}");
    }
    // A brush on lr starts around the runs' values and says its range in lr's units.
    key(&mut app, KeyCode::Char('b'));
    let s = screen(&app, 160, 50);
    assert!(s.contains("brushed 0.0"), "{s}");
    let inside = app
        .sweep
        .brushed(&gradboard::runner::sweep::parallel::Parallel::of(
            app.sweep.state.as_ref().unwrap(),
        ));
    assert!(!inside.is_empty() && inside.len() < 4, "{inside:?}");
}
