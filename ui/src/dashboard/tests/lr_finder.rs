//! The learning-rate finder's popup: its curve as it ramps, its suggestion into the settings,
//! and which model it copies.

use super::*;
use crate::dashboard::msg::Mode;
use gradboard::train::lr_find::LrFinding;

#[test]
fn the_lr_finder_fills_its_popup_and_its_suggestion_goes_to_the_settings() {
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
    assert_eq!(app.live.config.lr, 0.0031);
    assert_eq!(app.mode, Mode::Normal);
    // Esc while it runs stops it.
    key(&mut app, KeyCode::Char('L'));
    assert_eq!(key(&mut app, KeyCode::Esc), vec![Effect::StopLrFind]);

    // With a run on the live screen, the finder copies it while the settings keep its network.
    let id = started_run(&mut app, "20261127-120000-numpy-mlp-dddd");
    app.update(Msg::Library(vec![record(
        &id,
        dir.path(),
        app.live.config.lr,
        0.4,
        &app.live.config.clone(),
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
    assert_ne!(app.live.config.hidden, app.run().unwrap().config.hidden);
    let effects = key(&mut app, KeyCode::Char('L'));
    assert!(
        matches!(effects.first(), Some(Effect::LrFind { from: None, .. })),
        "{effects:?}"
    );
}
