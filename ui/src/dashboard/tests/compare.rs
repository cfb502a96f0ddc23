//! The compare screen: marked runs overlaid with a legend of what differs, the settings side
//! by side, and a fork drawn leading out of its parent.

use super::*;
use crate::dashboard::msg::Screen;
use gradboard::config::RunConfig;
use gradboard::train::{checkpoint, Command};

#[test]
fn marked_runs_are_loaded_overlaid_diffed_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let base = app.live.config.clone();
    let ids = [
        "20261127-100000-numpy-mlp-aaaa",
        "20261127-100100-numpy-mlp-bbbb",
        "20261127-100200-numpy-mlp-cccc",
    ];
    app.update(Msg::Library(vec![
        record(ids[0], dir.path(), 1e-3, 0.41, &base),
        record(ids[1], dir.path(), 2e-3, 0.45, &base),
        record(ids[2], dir.path(), 4e-3, 0.43, &base),
    ]));
    app.screen = Screen::Runs;
    // Newest first: bbbb, cccc, aaaa. Mark cccc and aaaa: each is asked for in full.
    key(&mut app, KeyCode::Down);
    let effects = key(&mut app, KeyCode::Char(' '));
    assert!(
        matches!(effects.as_slice(), [Effect::Load { .. }]),
        "{effects:?}"
    );
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char(' '));
    assert_eq!(app.shared.marked.len(), 2);
    stored_run(&mut app, ids[2], 4e-3, 0.43, None);
    stored_run(&mut app, ids[0], 1e-3, 0.41, None);
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
    match key(&mut app, KeyCode::Char('E')).as_slice() {
        [Effect::Export(dirs)] => assert_eq!(dirs.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_fork_reads_the_parents_checkpoint_and_compare_draws_it_leading_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let base = app.live.config.clone();
    // A run the live screen trains while the user forks another.
    let training = started_run(&mut app, "run-training");
    let parent = "20261127-100000-numpy-mlp-aaaa";
    let rec = record(parent, dir.path(), 2e-3, 0.45, &base);
    std::fs::create_dir_all(&rec.dir).unwrap();
    app.update(Msg::Library(vec![rec.clone()]));
    app.screen = Screen::Runs;
    // No checkpoint: the worker says so.
    let effects = key(&mut app, KeyCode::Char('f'));
    assert!(
        matches!(effects.as_slice(), [Effect::ReadFork { .. }]),
        "{effects:?}"
    );
    answer(&mut app, effects);
    assert!(app.live.fork.is_none());
    assert!(notice(&app).contains("no checkpoint"));
    // A checkpoint whose settings carry a live change: the fork takes them, not the start's.
    let mut at_step = base.clone();
    at_step.lr = 3e-3;
    let state = checkpoint::CheckpointState {
        run_id: parent.into(),
        step: 300,
        first_step: 0,
        config: at_step,
        sampler: gradboard::data::SamplerPosition {
            epochs_started: 1,
            position: 0,
        },
        optimizer_steps: 0,
        final_test_acc: Some(0.44),
        best_test_acc: Some(0.45),
        final_val_acc: None,
        best_val_acc: None,
        best_step: 200,
        pending_eval: false,
        seconds: 1.0,
        warned: Vec::new(),
        time_to: Default::default(),
    };
    checkpoint::write(&rec.dir.join(checkpoint::LAST), &state, &[], &[]).unwrap();
    press(&mut app, KeyCode::Char('f'));
    assert_eq!(app.screen, Screen::Live);
    assert_eq!(app.live.fork.as_ref().unwrap().run_id, parent);
    assert_eq!(
        app.live.current.as_deref(),
        Some(parent),
        "the parent's charts beside the fork's settings, not the run shown before"
    );
    assert_eq!(app.live.config.lr, 3e-3);
    let s = screen(&app, 140, 40);
    assert!(s.contains("fork of 20261127-100000-numpy-mlp-aaaa"), "{s}");
    assert!(s.contains("fork (* = differs from its parent)"), "{s}");
    assert!(!s.contains("*lr"), "no mark before a change: {s}");
    assert_eq!(app.live.selected_key().name, "lr", "the cursor waits on lr");
    key(&mut app, KeyCode::Char('-'));
    let s = screen(&app, 140, 40);
    assert!(
        s.contains("*lr"),
        "the changed key is marked against the parent: {s}"
    );
    assert_eq!(s.matches('*').count(), 2, "lr only (and the title's): {s}");
    // r replaces the run the screen trained, though the screen shows the parent.
    match key(&mut app, KeyCode::Char('r')).as_slice() {
        [Effect::Send {
            run_id,
            command: Command::Stop,
        }, Effect::Start { config, from, .. }] => {
            assert_eq!(run_id, &training);
            assert_eq!(config.lr, 1.5e-3);
            assert_eq!(*from, gradboard::runner::From::Fork(rec.dir.clone()));
        }
        other => panic!("{other:?}"),
    }
    assert!(app.live.fork.is_none(), "a fork is started once");
    // The child's curve in compare begins with the parent's.
    stored_run(&mut app, parent, 2e-3, 0.45, None);
    stored_run(
        &mut app,
        "20261127-100500-numpy-mlp-dddd",
        1e-3,
        0.47,
        Some((parent, 300)),
    );
    let child = app
        .shared
        .runs
        .get("20261127-100500-numpy-mlp-dddd")
        .unwrap();
    let prefix = app.shared.runs.get(parent);
    let t = crate::dashboard::views::chart_trace(child, prefix, &app.shared.chart);
    assert_eq!(
        t.train.first().map(|p| p.0),
        Some(1.0),
        "starts at the parent's first step"
    );
    assert_eq!(t.train.last().map(|p| p.0), Some(600.0));
}

/// Runs that differ only by seed: g folds them into one row of the runs screen (n, mean ±
/// std), space marks the whole group, and compare draws it as one mean curve with its band.
#[test]
fn a_group_of_seeds_is_one_row_and_one_mean_curve_with_a_band() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let base = app.live.config.clone();
    let seeded = |seed: u64| RunConfig {
        seed,
        ..base.clone()
    };
    let ids = [
        "20261127-100000-numpy-mlp-aaaa",
        "20261127-100100-numpy-mlp-bbbb",
        "20261127-100200-numpy-mlp-cccc",
        "20261127-100300-numpy-mlp-dddd",
    ];
    app.update(Msg::Library(vec![
        record(ids[0], dir.path(), 1e-3, 0.40, &seeded(1)),
        record(ids[1], dir.path(), 1e-3, 0.44, &seeded(2)),
        record(ids[2], dir.path(), 1e-3, 0.42, &seeded(3)),
        record(ids[3], dir.path(), 4e-3, 0.30, &seeded(1)),
    ]));
    app.screen = Screen::Runs;
    key(&mut app, KeyCode::Char('g'));
    let text = screen(&app, 160, 30);
    assert!(text.contains("2 groups"), "{text}");
    assert!(
        text.contains("0.4200 ± 0.0200"),
        "mean ± std of 0.40, 0.42, 0.44:\n{text}"
    );
    assert!(text.contains("+2"), "{text}");
    // Newest first (the listing's start times): the group of three, led by bbbb; then dddd.
    let effects = key(&mut app, KeyCode::Char(' '));
    assert_eq!(
        effects.len(),
        3,
        "each run of the group is loaded: {effects:?}"
    );
    assert_eq!(app.shared.marked.len(), 3);
    for (i, id) in ids[..3].iter().enumerate() {
        let mut config = seeded(i as u64 + 1);
        config.lr = 1e-3;
        stored_run_of(&mut app, id, config, 0.40 + 0.02 * i as f64, None);
    }
    key(&mut app, KeyCode::Char('c'));
    let text = screen(&app, 160, 40);
    assert!(text.contains("(n=3, band min-max)"), "{text}");
    assert!(
        !text.contains("seed="),
        "a group is not named by one member's seed:\n{text}"
    );
    // g again: each run on its own line.
    app.screen = Screen::Runs;
    key(&mut app, KeyCode::Char('g'));
    app.screen = Screen::Compare;
    let text = screen(&app, 160, 40);
    assert!(!text.contains("band min-max"), "{text}");
    assert!(
        text.contains("seed=2"),
        "each run is named by its seed:\n{text}"
    );
}

/// A run whose loss climbed to about 900 beside a healthy one: with outliers ignored (the
/// default) the healthy curve keeps the chart and the clipped run says so; `o` shows every
/// point, the axis reaching the hundreds. Step ticks are whole numbers.
#[test]
fn a_blown_up_run_is_marked_clipped_and_o_shows_all_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let base = app.live.config.clone();
    let ids = [
        "20261127-100000-numpy-mlp-aaaa",
        "20261127-100100-numpy-mlp-bbbb",
    ];
    app.update(Msg::Library(vec![
        record(ids[0], dir.path(), 1e-3, 0.41, &base),
        record(ids[1], dir.path(), 5e-2, 0.10, &base),
    ]));
    app.screen = Screen::Runs;
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char(' '));
    stored_run(&mut app, ids[0], 1e-3, 0.41, None);
    let mut blown = base.clone();
    blown.lr = 5e-2;
    stored_run_with(&mut app, ids[1], blown, (0.1, None), |step| {
        2.3 + 0.01 * (step * step) as f64
    });
    key(&mut app, KeyCode::Char('c'));
    assert_eq!(app.screen, Screen::Compare);
    let numbers = |text: &str| -> Vec<f64> {
        text.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e'))
            .filter_map(|t| t.parse::<f64>().ok())
            .collect()
    };
    for (w, h) in [(160, 45), (100, 30)] {
        let text = screen(&app, w, h);
        // The title says so: with the way back where there is room.
        let said = if w >= 160 {
            "· o shows all"
        } else {
            "· clipped"
        };
        assert!(text.contains(said), "{w}x{h}:\n{text}");
        assert!(text.contains("bbbb lr=0.05 (clipped)"), "{w}x{h}:\n{text}");
        assert!(!text.contains("aaaa lr=0.001 (clipped)"), "{text}");
        assert!(
            !text.contains("150.50") && !text.contains("300.00"),
            "whole steps:\n{text}"
        );
    }
    key(&mut app, KeyCode::Char('o'));
    let text = screen(&app, 160, 45);
    assert!(
        !text.contains("(clipped)") && !text.contains("o shows all"),
        "{text}"
    );
    assert!(
        numbers(&text).iter().any(|v| (800.0..1000.0).contains(v)),
        "the loss axis reaches the blown-up run:\n{text}"
    );
}

/// Three runs that differ in five keys: each legend leads with what sets its run apart from
/// the others (the third run differs from the second in lr alone, which the legend shows
/// first instead of cutting it off behind the keys it shares).
#[test]
fn legends_lead_with_what_sets_each_run_apart() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let base = app.live.config.clone();
    let ids = [
        "20261127-100000-numpy-mlp-aaaa",
        "20261127-100100-numpy-mlp-bbbb",
        "20261127-100200-numpy-mlp-cccc",
    ];
    let mut b = base.clone();
    for s in [
        "hidden=256,128",
        "weight_decay=0.001",
        "lr=0.004",
        "clip_norm=5",
    ] {
        b.apply_override(s).unwrap();
    }
    let mut c = b.clone();
    c.apply_override("lr=0.003").unwrap();
    app.update(Msg::Library(vec![
        record(ids[0], dir.path(), 1e-3, 0.41, &base),
        record(ids[1], dir.path(), 4e-3, 0.45, &b),
        record(ids[2], dir.path(), 3e-3, 0.43, &c),
    ]));
    app.screen = Screen::Runs;
    for _ in 0..3 {
        key(&mut app, KeyCode::Char(' '));
        key(&mut app, KeyCode::Down);
    }
    for (id, config) in ids.iter().zip([base, b, c]) {
        stored_run_of(&mut app, id, config, 0.4, None);
    }
    key(&mut app, KeyCode::Char('c'));
    let text = screen(&app, 160, 45);
    assert!(text.contains("cccc lr=0.003 "), "{text}");
    assert!(text.contains("aaaa hidden=100 "), "{text}");
}
