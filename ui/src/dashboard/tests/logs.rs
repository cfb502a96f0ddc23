//! The logs screen (`--logdir`): other programs' runs as the watcher reads them, a tag picked
//! from its prefix group, marked runs overlaid with the settings that differ.

use super::{app, key, screen};
use crate::dashboard::msg::{Msg, Screen};
use crossterm::event::KeyCode;
use gradboard::logs::{LogRun, Point, Source};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn run(id: &str, lr: f64, tags: &[(&str, &[f64])]) -> LogRun {
    let mut settings = serde_json::Map::new();
    settings.insert("lr".into(), serde_json::json!(lr));
    settings.insert("batch_size".into(), serde_json::json!(64));
    let scalars: BTreeMap<String, Vec<Point>> = tags
        .iter()
        .map(|(t, values)| {
            let points = values
                .iter()
                .enumerate()
                .map(|(i, &value)| Point {
                    step: i as i64 + 1,
                    value,
                    wall_time: 0.0,
                })
                .collect();
            (t.to_string(), points)
        })
        .collect();
    LogRun {
        id: id.into(),
        path: PathBuf::from("logs").join(id),
        source: Source::Tensorboard,
        settings,
        scalars,
        skipped: if id == "b" { 2 } else { 0 },
    }
}

#[test]
fn the_logs_screen_lists_the_runs_groups_tags_by_prefix_and_compares_marked_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    app.logs.dir = Some(PathBuf::from("logs"));
    app.screen = Screen::Logs;
    let losses: &[f64] = &[2.3, 1.9, 1.5];
    app.update(Msg::Logs(Ok(vec![
        run(
            "a",
            0.1,
            &[("train/loss", losses), ("val/acc", &[0.3, 0.4])],
        ),
        run(
            "b",
            0.01,
            &[("train/loss", &[2.3, 2.2]), ("val/acc", &[0.2])],
        ),
    ])));
    let text = screen(&app, 160, 45);
    assert!(text.contains("logs: 2 runs (followed live"), "{text}");
    assert!(text.contains("tensorboard"), "{text}");
    assert!(
        text.contains("train/: loss"),
        "tags grouped by prefix: {text}"
    );
    assert!(text.contains("val/: acc"), "{text}");
    assert!(
        text.contains("train/loss (1 run)"),
        "the first tag of the run under the cursor: {text}"
    );
    // One run: all its settings.
    assert!(
        text.contains("batch_size") && text.contains("0.1"),
        "{text}"
    );

    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Right);
    let text = screen(&app, 160, 45);
    assert!(text.contains("val/acc (2 runs)"), "{text}");
    assert!(
        text.contains("settings that differ between the 2 runs"),
        "{text}"
    );
    assert!(
        text.contains("lr") && !text.contains("batch_size"),
        "only lr differs: {text}"
    );

    // A new read keeps the marks of the runs still there and the chosen tag.
    app.update(Msg::Logs(Ok(vec![run(
        "b",
        0.01,
        &[("val/acc", &[0.2, 0.25])],
    )])));
    assert_eq!(app.logs.marked, vec!["b".to_string()]);
    let text = screen(&app, 100, 30);
    assert!(text.contains("val/acc (1 run)"), "{text}");

    app.update(Msg::Logs(Err("logs: Permission denied".into())));
    let text = screen(&app, 160, 45);
    assert!(text.contains("Permission denied"), "{text}");
}

#[test]
fn without_a_log_folder_the_logs_screen_says_how_to_open_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    app.screen = Screen::Logs;
    let text = screen(&app, 100, 30);
    assert!(text.contains("--logdir DIR"), "{text}");
}

#[test]
fn runs_that_differ_only_by_seed_fold_into_one_curve_with_its_band() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    app.logs.dir = Some(PathBuf::from("logs"));
    app.screen = Screen::Logs;
    let seeded = |id: &str, lr: f64, seed: u64, acc: &[f64]| {
        let mut r = run(id, lr, &[("val/acc", acc)]);
        r.settings.insert("seed".into(), serde_json::json!(seed));
        r
    };
    app.update(Msg::Logs(Ok(vec![
        seeded("lr0.1-s0", 0.1, 0, &[0.3, 0.5]),
        seeded("lr0.1-s1", 0.1, 1, &[0.4, 0.6]),
        seeded("lr0.01-s0", 0.01, 0, &[0.2, 0.3]),
    ])));
    for _ in 0..3 {
        key(&mut app, KeyCode::Char(' '));
        key(&mut app, KeyCode::Down);
    }
    key(&mut app, KeyCode::Char('G'));
    let text = screen(&app, 160, 45);
    assert!(
        text.contains("val/acc (3 runs in 2 groups: mean, min-max band"),
        "{text}"
    );
    assert!(text.contains("lr0.1-s0 +1 seeds (n=2)"), "{text}");
    let shown = app.logs.shown();
    let groups = crate::dashboard::screens::logs::seed_groups(&shown);
    assert_eq!(
        groups
            .iter()
            .map(|g| g.iter().map(|r| r.id.as_str()).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
        vec![vec!["lr0.1-s0", "lr0.1-s1"], vec!["lr0.01-s0"]]
    );
    key(&mut app, KeyCode::Char('G'));
    assert!(screen(&app, 160, 45).contains("val/acc (3 runs)"));
}
