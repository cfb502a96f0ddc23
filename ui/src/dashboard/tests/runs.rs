//! The runs screen: the table sorted, filtered and marked; resuming only what can resume.

use super::*;
use crate::dashboard::msg::Screen;
use gradboard::runs::ListedStatus;

fn three(app: &mut App, dir: &Path) {
    let base = app.live.config.clone();
    app.update(Msg::Library(vec![
        record("20261127-100000-numpy-mlp-aaaa", dir, 1e-3, 0.41, &base),
        record("20261127-100100-numpy-mlp-bbbb", dir, 2e-3, 0.45, &base),
        record("20261127-100200-numpy-mlp-cccc", dir, 4e-3, 0.43, &base),
    ]));
}

#[test]
fn the_runs_screen_sorts_filters_and_marks() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    three(&mut app, dir.path());
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.screen, Screen::Runs);
    let text = screen(&app, 150, 30);
    for expected in [
        "3 of 3 shown",
        "1:run ▼",
        "3:net",
        "mlp 100",
        "lr=0.002",
        "completed",
        "0.4500",
        "c compare",
    ] {
        assert!(text.contains(expected), "missing {expected:?}:\n{text}");
    }
    let current = |app: &App| {
        app.runs
            .current(&app.shared.listing)
            .unwrap()
            .run_id
            .clone()
    };
    // Sort by best (column 6): the best run first; again reverses.
    key(&mut app, KeyCode::Char('7'));
    assert_eq!(current(&app), "20261127-100100-numpy-mlp-bbbb");
    assert!(screen(&app, 150, 30).contains("7:best test ▼"));
    key(&mut app, KeyCode::Char('7'));
    assert_eq!(current(&app), "20261127-100000-numpy-mlp-aaaa");
    // Filter by typing.
    key(&mut app, KeyCode::Char('/'));
    chars(&mut app, "cccc");
    assert_eq!(app.runs.visible(&app.shared.listing).len(), 1);
    assert!(screen(&app, 150, 30).contains("filter: cccc"));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.runs.visible(&app.shared.listing).len(), 3);
    // A new scan keeps the cursor on its run.
    key(&mut app, KeyCode::Down);
    let at = current(&app);
    three(&mut app, dir.path());
    assert_eq!(current(&app), at);
}

/// `o` sorts by any setting and shows it as a column; `/` takes comparisons; N, t, A and z
/// label the run under the cursor through the store, named runs show their name, sweep and
/// parent columns appear for runs that have them, and D deletes only when pressed twice.
#[test]
fn the_runs_screen_sorts_by_any_setting_and_labels_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let base = app.live.config.clone();
    let mut named = record(
        "20261127-100200-numpy-mlp-cccc",
        dir.path(),
        4e-3,
        0.43,
        &base,
    );
    named.labels.name = Some("wide lr".into());
    named.labels.tags.insert("keep".into());
    named.parent = Some(gradboard::events::ParentRef {
        run_id: "20261127-100000-numpy-mlp-aaaa".into(),
        step: 300,
    });
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
        named,
    ]));
    app.screen = Screen::Runs;
    let text = screen(&app, 160, 30);
    assert!(text.contains("wide lr · cccc"), "{text}");
    assert!(
        text.contains("parent") && text.contains("numpy-mlp-aaaa@300"),
        "{text}"
    );
    key(&mut app, KeyCode::Char('o'));
    assert!(screen(&app, 160, 30).contains("sort by"));
    chars(&mut app, "-lr");
    key(&mut app, KeyCode::Enter);
    let text = screen(&app, 160, 30);
    assert!(text.contains("o:lr ▼"), "{text}");
    let order: Vec<String> = app
        .runs
        .visible(&app.shared.listing)
        .iter()
        .map(|r| r.run_id.clone())
        .collect();
    assert!(
        order[0].ends_with("cccc") && order[2].ends_with("aaaa"),
        "{order:?}"
    );
    // An unknown field is one line naming the fields.
    key(&mut app, KeyCode::Char('o'));
    for _ in 0..3 {
        key(&mut app, KeyCode::Backspace);
    }
    chars(&mut app, "lrr");
    key(&mut app, KeyCode::Enter);
    assert!(
        notice(&app).contains("unknown field \"lrr\""),
        "{}",
        notice(&app)
    );
    // Comparisons filter.
    key(&mut app, KeyCode::Char('/'));
    chars(&mut app, "lr<0.003 tag:keep");
    assert_eq!(app.runs.visible(&app.shared.listing).len(), 0);
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('/'));
    chars(&mut app, "lr>=0.002");
    assert_eq!(app.runs.visible(&app.shared.listing).len(), 2);
    key(&mut app, KeyCode::Esc);
    // Labels go to the store as effects.
    key(&mut app, KeyCode::Char('t'));
    chars(&mut app, "best -old");
    let effects = key(&mut app, KeyCode::Enter);
    match effects.as_slice() {
        [Effect::Label { dir: d, edit }] => {
            assert!(d.ends_with("20261127-100200-numpy-mlp-cccc"));
            assert_eq!(
                *edit,
                gradboard::runs::LabelEdit::Tags {
                    add: vec!["best".into()],
                    remove: vec!["old".into()]
                }
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        key(&mut app, KeyCode::Char('z')).as_slice(),
        [Effect::Label {
            edit: gradboard::runs::LabelEdit::Archived(true),
            ..
        }]
    ));
    // D once warns; another key forgets it; D twice deletes.
    assert!(key(&mut app, KeyCode::Char('D')).is_empty());
    assert!(notice(&app).contains("D again deletes"), "{}", notice(&app));
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Up);
    assert!(key(&mut app, KeyCode::Char('D')).is_empty());
    assert!(matches!(
        key(&mut app, KeyCode::Char('D')).as_slice(),
        [Effect::Trash(d)] if d.ends_with("20261127-100200-numpy-mlp-cccc")
    ));
}

#[test]
fn only_stopped_pruned_or_crashed_runs_resume() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(dir.path());
    let base = app.live.config.clone();
    let mut crashed = record("run-crashed", dir.path(), 1e-3, 0.4, &base);
    crashed.status = ListedStatus::Crashed;
    let completed = record("run-completed", dir.path(), 1e-3, 0.5, &base);
    app.update(Msg::Library(vec![completed, crashed]));
    app.screen = Screen::Runs;
    // Newest first: run-completed (started 0.5) above run-crashed (0.4).
    assert!(key(&mut app, KeyCode::Char('R')).is_empty());
    assert!(notice(&app).contains("only stopped"));
    key(&mut app, KeyCode::Down);
    match key(&mut app, KeyCode::Char('R')).as_slice() {
        [Effect::Start { from, .. }] => assert_eq!(
            *from,
            gradboard::runner::From::Resume(dir.path().join("run-crashed"))
        ),
        other => panic!("{other:?}"),
    }
}
