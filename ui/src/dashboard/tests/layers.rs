//! The layers screen: the lab's lesson drawn (the last hidden layer's spread without batch
//! norm orders of magnitude below the same network's with it), the statistic cycled, the
//! cursor moved back in steps, the warning shown here and on the live screen, and a run
//! without per-layer statistics saying so.

use super::*;
use crate::dashboard::msg::Screen;
use gradboard::events::{ActStats, ParamStats};

fn param(name: &str, ratio: f64) -> ParamStats {
    ParamStats {
        name: name.into(),
        norm: 2.0,
        grad_norm: 0.5,
        grad_mean_abs: 1e-4,
        update_ratio: ratio,
        q: [-1.0, -0.5, -0.1, 0.0, 0.1, 0.5, 1.0],
        grad_q: [-0.1, -0.05, -0.01, 0.0, 0.01, 0.05, 0.1],
    }
}

fn act(name: &str, std: f64) -> ActStats {
    ActStats {
        name: name.into(),
        mean: std / 2.0,
        std,
        dead: 0.1,
        q: [0.0, 0.0, 0.0, std / 2.0, std, 2.0 * std, 3.0 * std],
    }
}

/// A stored run of mlp-best's widths whose hidden layers' spreads are `stds` at steps 100
/// and 200, with a warning when `warn`.
fn layered_run(app: &mut App, id: &str, stds: [f64; 4], warn: bool) {
    let mut events = vec![ev(
        id,
        EventKind::Start(Box::new(start_info(
            app.live.config.clone(),
            "mlp-best",
            None,
        ))),
    )];
    for step in [100, 200] {
        events.push(train_event(id, step, 2.0));
        events.push(ev(
            id,
            EventKind::Layers {
                step,
                params: ["fc1", "fc2", "fc3", "fc4", "out"]
                    .iter()
                    .map(|n| param(&format!("{n}.weight"), 1e-3 * step as f64 / 100.0))
                    .collect(),
                acts: ["fc1", "fc2", "fc3", "fc4"]
                    .iter()
                    .zip(stds)
                    .map(|(n, s)| act(n, s * step as f64 / 100.0))
                    .collect(),
            },
        ));
    }
    if warn {
        events.push(ev(
            id,
            EventKind::Warning {
                step: 100,
                kind: "vanishing".into(),
                layer: "fc4".into(),
                message: "activations vanish layer after layer: std 5.4e0 at fc1 down to 1.4e-3 at fc4; try batch norm or a larger init (init_std)".into(),
            },
        ));
    }
    app.update(Msg::Loaded {
        run_id: id.into(),
        events,
    });
}

#[test]
fn the_layers_screen_draws_the_lesson_of_batch_norm() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    layered_run(&mut app, "plain", [5.4, 2e-2, 1e-4, 1.4e-3], true);
    layered_run(&mut app, "normed", [0.6, 0.6, 0.58, 0.74], false);
    app.shared.listing.records = vec![
        record("plain", dir.path(), 1e-4, 0.3, &app.live.config.clone()),
        record("normed", dir.path(), 1e-4, 0.5, &app.live.config.clone()),
    ];
    // From the runs screen: y opens the run under the cursor.
    app.screen = Screen::Runs;
    app.runs.refresh(&app.shared.listing);
    let first = app
        .runs
        .current(&app.shared.listing)
        .unwrap()
        .run_id
        .clone();
    key(&mut app, KeyCode::Char('y'));
    assert_eq!(app.screen, Screen::Layers);
    assert_eq!(app.layers.run.as_deref(), Some(first.as_str()));
    let s = screen(&app, 150, 45);
    assert!(s.contains("update ratio (log; 1e-3 healthy)"), "{s}");
    assert!(s.contains("fc1.weight") && s.contains("2.0e-3"), "{s}");
    assert!(s.contains("gradient flow at step 200"), "{s}");
    // v three times: the activations' spread.
    for _ in 0..3 {
        key(&mut app, KeyCode::Char('v'));
    }
    let shown = |app: &mut App, id: &str| {
        app.layers.run = Some(id.into());
        screen(app, 150, 45)
    };
    let plain = shown(&mut app, "plain");
    assert!(plain.contains("activation std (log)"), "{plain}");
    // The last hidden layer at step 200: 2.8e-3 without batch norm, 1.5 with it.
    let fc4 = |s: &str| s.lines().find(|l| l.contains("fc4 ")).unwrap().to_string();
    assert!(fc4(&plain).contains("2.8e-3"), "{plain}");
    let normed = shown(&mut app, "normed");
    assert!(fc4(&normed).contains("1.5e0"), "{normed}");
    // One fixed scale for both runs, its healthy band marked in the legend; the map's rows
    // are drawn taller to fill the panel.
    for s in [&plain, &normed] {
        assert!(
            s.contains("1e-3 .. 1e3, healthy 1e-1 .. 1e1 (━ healthy)"),
            "{s}"
        );
        assert!(
            s.lines().any(|l| l.contains("scale") && l.contains('━')),
            "{s}"
        );
    }
    let map_lines = plain
        .lines()
        .take_while(|l| !l.contains("scale"))
        .filter(|l| l.contains('│') && !l.contains("fc"))
        .count();
    assert!(map_lines >= 4, "rows repeated to fill the panel: {plain}");
    // The warning is listed; the cursor moves back a step.
    assert!(
        plain.contains("activations vanish layer after layer"),
        "{plain}"
    );
    app.layers.run = Some("plain".into());
    key(&mut app, KeyCode::Left);
    let back = screen(&app, 150, 45);
    assert!(
        fc4(&back).contains("1.4e-3") && back.contains("cursor at step 100"),
        "{back}"
    );
    // The live screen flags it too.
    app.live.current = Some("plain".into());
    app.screen = Screen::Live;
    let live = screen(&app, 150, 45);
    assert!(live.contains("⚠ activations vanish"), "{live}");
}

#[test]
fn a_run_without_layers_events_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    stored_run(&mut app, "old", 1e-3, 0.4, None);
    app.layers.run = Some("old".into());
    app.screen = Screen::Layers;
    let s = screen(&app, 120, 30);
    assert!(s.contains("has no layers events"), "{s}");
}
