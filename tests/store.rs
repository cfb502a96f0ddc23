//! What a run leaves on disk however it ends, and how every reader reads it back: a stop keeps
//! its steps, a kill after the last evaluation is finished by a resume, a torn line or a
//! killed writer's temporary is tidied, a link out of the folder is refused, no evaluation is
//! null everywhere, and the one fold of events gives every reader the same settings.

use gradboard::config::KEYS;
use gradboard::events::{Event, EventKind, RunStatus};
use gradboard::model::Compute;
use gradboard::runner::{From, RunRequest, Runner};
use gradboard::runs::{list_runs, ListedStatus, ListingCache, StoredRun, EVENTS_FILE};
use gradboard::train::{checkpoint, Command, Control};
use std::path::Path;
use std::sync::{Arc, Mutex};

#[path = "common/runs.rs"]
mod runs;
use runs::*;

/// Starts a run that gets `commands` once its events pass step `at`.
fn with_commands(
    runner: &Runner,
    request: RunRequest,
    at: Vec<(usize, Vec<Command>)>,
) -> gradboard::runner::RunHandle {
    let control: Arc<Mutex<Option<Arc<Control>>>> = Arc::default();
    let seen = control.clone();
    let handle = runner
        .start(
            request,
            Box::new(move |e: &Event| {
                if let EventKind::Train { step, .. } = e.kind {
                    for (s, commands) in &at {
                        if *s == step {
                            while seen.lock().unwrap().is_none() {
                                std::thread::yield_now();
                            }
                            for c in commands {
                                seen.lock().unwrap().as_ref().unwrap().send(c.clone());
                            }
                        }
                    }
                }
            }),
        )
        .unwrap();
    *control.lock().unwrap() = Some(handle.control());
    handle
}

fn set(key: &str, value: &str) -> Command {
    Command::Set {
        key: key.into(),
        value: value.into(),
    }
}

fn done_json(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join(EVENTS_FILE)).unwrap();
    let line = text
        .lines()
        .rfind(|l| l.contains("\"event\":\"done\""))
        .unwrap();
    serde_json::from_str(line).unwrap()
}

#[test]
fn every_live_key_changed_while_training_reads_the_same_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    let config = small("mlp-best", &["hidden=16", "optimizer=momentum"]);
    let first = vec![
        set("lr", "0.002"),
        set("momentum", "0.5"),
        set("weight_decay", "0.01"),
        set("norm_bias_lr", "3"),
        set("dropout", "0.3"),
        set("label_smoothing", "0.05"),
        set("clip_norm", "2"),
        set("tta", "flip"),
        set("diag_every", "5"),
    ];
    let live: Vec<&str> = KEYS.iter().filter(|k| k.live).map(|k| k.name).collect();
    let mut changed: Vec<String> = first
        .iter()
        .map(|c| match c {
            Command::Set { key, .. } => key.clone(),
            _ => unreachable!(),
        })
        .collect();
    changed.sort();
    let mut every = live.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    every.sort();
    assert_eq!(changed, every, "the test changes every live key");
    let second = vec![set("clip_norm", "off"), set("tta", "flip-shift")];
    let handle = with_commands(
        &runner,
        RunRequest::new("mlp-best", config, None),
        vec![(5, first), (15, second)],
    );
    let run_dir = handle.dir.clone();
    assert_eq!(handle.wait().status, RunStatus::Completed);
    let stored = StoredRun::load(&run_dir).unwrap();
    let state = stored.state();
    assert!(state.refused.is_empty(), "{:?}", state.refused);
    // The session's own settings at its end, as its last checkpoint keeps them.
    let cp = checkpoint::read(&run_dir.join(checkpoint::LAST)).unwrap();
    assert_eq!(state.config, cp.state.config);
    assert_eq!(state.config.clip_norm, None, "off is null in the event");
    assert_eq!(state.config.lr, 0.002);
    assert_eq!(
        gradboard::config::Choice::name(state.config.tta),
        "flip-shift"
    );
    // Analysis evaluates with the settings the run ended with: its figure is the last
    // evaluation's, which the session took with them.
    let data = runner.data().clone();
    let (step, analysis) =
        gradboard::analysis::analyze_run(&run_dir, &data, &Compute::cpu(), &|| false)
            .unwrap()
            .unwrap();
    assert_eq!(step, 40);
    assert_eq!(Some(analysis.accuracy()), state.final_test_acc());
}

#[test]
fn a_stop_between_evaluations_keeps_its_steps_and_no_evaluation_is_null() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    let config = small("mlp-default", &["hidden=16"]);
    let handle = stop_after(
        &runner,
        RunRequest::new("mlp-default", config.clone(), None),
        3,
    );
    let run_dir = handle.dir.clone();
    let summary = handle.wait();
    assert_eq!(summary.status, RunStatus::Stopped);
    assert_eq!(summary.final_test_acc, None);
    // The stop wrote a checkpoint where it stopped, before any evaluation.
    let cp = checkpoint::read(&run_dir.join(checkpoint::LAST)).unwrap();
    assert_eq!(cp.state.step, 3);
    let done = done_json(&run_dir);
    assert!(
        done["final_test_acc"].is_null() && done["best_test_acc"].is_null(),
        "{done}"
    );
    let summary_file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap())
            .unwrap();
    assert!(summary_file["final_test_acc"].is_null(), "{summary_file}");
    let listed = list_runs(&dir.path().join("runs")).unwrap();
    assert_eq!(listed[0].final_test_acc, None);
    // It forks and it resumes.
    let mut fork = RunRequest::new("mlp-default", config, None);
    fork.from = From::Fork(run_dir.clone());
    let (fork, _) = start(&runner, fork);
    assert_eq!(fork.wait().step, 43);
    let mut resume = RunRequest::new("mlp-default", Default::default(), None);
    resume.from = From::Resume(run_dir.clone());
    let (resumed, _) = start(&runner, resume);
    let summary = resumed.wait();
    assert_eq!((summary.status, summary.step), (RunStatus::Completed, 40));
    let stored = StoredRun::load(&run_dir).unwrap();
    let steps: Vec<usize> = stored
        .history()
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Train { step, .. } => Some(step),
            _ => None,
        })
        .collect();
    assert_eq!(
        steps,
        (1..=40).collect::<Vec<_>>(),
        "no step lost or repeated"
    );
}

#[test]
fn a_stop_during_an_evaluation_is_evaluated_first_when_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    let config = small("mlp-default", &["hidden=16"]);
    let (whole, _) = start(
        &runner,
        RunRequest::new("mlp-default", config.clone(), None),
    );
    let whole_dir = whole.dir.clone();
    whole.wait();
    // Step 10 has an evaluation: the stop arrives before it runs.
    let cut = stop_after(&runner, RunRequest::new("mlp-default", config, None), 10);
    let cut_dir = cut.dir.clone();
    let summary = cut.wait();
    assert!(
        summary.reason.unwrap().contains("during the evaluation"),
        "the stop came during the evaluation"
    );
    let cp = checkpoint::read(&cut_dir.join(checkpoint::LAST)).unwrap();
    assert!(cp.state.pending_eval && cp.state.step == 10);
    let mut resume = RunRequest::new("mlp-default", Default::default(), None);
    resume.from = From::Resume(cut_dir.clone());
    let (resumed, _) = start(&runner, resume);
    resumed.wait();
    let a = StoredRun::load(&whole_dir).unwrap();
    let b = StoredRun::load(&cut_dir).unwrap();
    assert_eq!(eval_curve(&a.history()), eval_curve(&b.history()));
}

#[test]
fn a_run_killed_after_its_last_evaluation_is_finished_by_resume_and_its_leftovers_tidied() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    let config = small("mlp-default", &["hidden=16"]);
    let (handle, _) = start(&runner, RunRequest::new("mlp-default", config, None));
    let run_dir = handle.dir.clone();
    handle.wait();
    // As a SIGKILL right after the last checkpoint leaves it: no model, no summary, no done,
    // a killed writer's temporary, and a last line cut short.
    std::fs::remove_file(run_dir.join("model.safetensors")).unwrap();
    std::fs::remove_file(run_dir.join("summary.json")).unwrap();
    let events = std::fs::read_to_string(run_dir.join(EVENTS_FILE)).unwrap();
    let kept: Vec<&str> = events.lines().filter(|l| !l.contains("\"done\"")).collect();
    let torn = format!("{}\n{{\"event\":\"train\",\"st", kept.join("\n"));
    std::fs::write(run_dir.join(EVENTS_FILE), torn).unwrap();
    let temporary = run_dir.join(".checkpoint-last.tmp-999999-0.safetensors");
    std::fs::write(&temporary, b"half a checkpoint").unwrap();
    let listed = list_runs(&dir.path().join("runs")).unwrap();
    assert_eq!(listed[0].status, ListedStatus::Crashed);
    let mut resume = RunRequest::new("mlp-default", Default::default(), None);
    resume.from = From::Resume(run_dir.clone());
    let (resumed, rx) = start(&runner, resume);
    let summary = resumed.wait();
    assert_eq!((summary.status, summary.step), (RunStatus::Completed, 40));
    assert!(summary.final_test_acc.is_some());
    let new: Vec<Event> = rx.iter().collect();
    assert!(
        !new.iter()
            .any(|e| matches!(e.kind, EventKind::Train { .. })),
        "nothing left to train"
    );
    assert!(run_dir.join("model.safetensors").is_file());
    assert!(!temporary.exists(), "the killed writer's temporary is gone");
    let stored = StoredRun::load(&run_dir).unwrap();
    assert_eq!(stored.unreadable, 1, "only the torn line itself");
    assert!(matches!(
        stored.events.last().unwrap().kind,
        EventKind::Done {
            status: RunStatus::Completed,
            ..
        }
    ));
}

#[test]
fn resume_refuses_an_events_file_that_links_outside_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    let handle = stop_after(
        &runner,
        RunRequest::new("mlp-default", small("mlp-default", &["hidden=16"]), None),
        12,
    );
    let run_dir = handle.dir.clone();
    handle.wait();
    let outside = dir.path().join("outside.jsonl");
    std::fs::rename(run_dir.join(EVENTS_FILE), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, run_dir.join(EVENTS_FILE)).unwrap();
    let before = std::fs::read(&outside).unwrap();
    let mut resume = RunRequest::new("mlp-default", Default::default(), None);
    resume.from = From::Resume(run_dir.clone());
    let e = runner
        .start(resume, Box::new(|_| {}))
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("symbolic link") && !e.contains('\n'), "{e}");
    assert_eq!(std::fs::read(&outside).unwrap(), before, "nothing appended");
}

#[test]
fn a_broken_run_folder_is_listed_as_crashed_with_the_reason_by_every_listing() {
    let dir = tempfile::tempdir().unwrap();
    let runs_dir = dir.path().join("runs");
    let events_dir = runs_dir.join("20261127-100000-numpy-mlp-aaaa");
    std::fs::create_dir_all(events_dir.join(EVENTS_FILE)).unwrap();
    std::fs::write(
        events_dir.join("summary.json"),
        r#"{"event":"done","step":5,"status":"completed","final_test_acc":0.4,"best_test_acc":0.4,"seconds":1.0,"run_id":"x","time":1.0}"#,
    )
    .unwrap();
    let no_events = runs_dir.join("20261127-100100-numpy-mlp-bbbb");
    std::fs::create_dir_all(&no_events).unwrap();
    std::fs::write(no_events.join("config.toml"), "").unwrap();
    std::fs::create_dir_all(runs_dir.join("not-a-run")).unwrap();
    let listed = list_runs(&runs_dir).unwrap();
    let cached = ListingCache::new().scan(&runs_dir).unwrap().unwrap();
    for records in [&listed, &cached] {
        assert_eq!(records.len(), 2, "{records:?}");
        let reasons: Vec<(ListedStatus, String)> = records
            .iter()
            .map(|r| (r.status, r.reason.clone().unwrap_or_default()))
            .collect();
        assert!(reasons.contains(&(
            ListedStatus::Crashed,
            "events.jsonl is not a file".to_string()
        )));
        assert!(reasons.contains(&(ListedStatus::Crashed, "events.jsonl is missing".to_string())));
    }
    // A runs folder that is a file is one line.
    let file = dir.path().join("runs.txt");
    std::fs::write(&file, "").unwrap();
    let e = list_runs(&file).unwrap_err().to_string();
    assert!(e.contains("not a folder"), "{e}");
}

#[test]
fn a_run_without_saved_weights_is_analysed_from_its_newest_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    let handle = stop_after(
        &runner,
        RunRequest::new("mlp-default", small("mlp-default", &["hidden=16"]), None),
        14,
    );
    let run_dir = handle.dir.clone();
    handle.wait();
    // As a run still training (or killed) has it: checkpoints, no model yet.
    std::fs::remove_file(run_dir.join("model.safetensors")).unwrap();
    let data = runner.data().clone();
    let (step, analysis) =
        gradboard::analysis::analyze_run(&run_dir, &data, &Compute::cpu(), &|| false)
            .unwrap()
            .unwrap();
    assert_eq!(step, 14);
    assert_eq!(analysis.count(), 50);
}

#[test]
fn weights_that_are_not_finite_are_refused_by_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    let (handle, _) = start(
        &runner,
        RunRequest::new("mlp-default", small("mlp-default", &["hidden=16"]), None),
    );
    let run_dir = handle.dir.clone();
    handle.wait();
    let weights = run_dir.join("model.safetensors");
    let mut tensors = gradboard::model::read_safetensors(&weights).unwrap();
    let w = tensors.get("fc1.weight").unwrap();
    let nan = (w * f64::NAN).unwrap();
    tensors.insert("fc1.weight".into(), nan);
    let named: Vec<(String, candle_core::Tensor)> = tensors.into_iter().collect();
    gradboard::model::write_safetensors(&named, &weights).unwrap();
    let config = StoredRun::load(&run_dir).unwrap().state().config;
    let e = gradboard::train::load_network(
        &config,
        gradboard::data::DataShape::CIFAR10,
        &weights,
        &Compute::cpu(),
    )
    .err()
    .expect("refused")
    .to_string();
    assert!(e.contains("not finite"), "{e}");
    let data = runner.data().clone();
    assert!(gradboard::analysis::analyze_run(&run_dir, &data, &Compute::cpu(), &|| false).is_err());
}

/// A run's labels live beside its events: every listing shows them (the cached one as soon as
/// they change), an empty edit removes the file, a bad tag changes nothing; deleting moves the
/// folder to `.trash` (a second run of the same id does not overwrite the first) and a run
/// still training is refused.
#[test]
fn labels_are_listed_and_a_deleted_run_goes_to_the_trash() {
    use gradboard::runs::{edit_labels, trash_run, LabelEdit, RunLabels};
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    let handle = runner
        .start(
            RunRequest::new("mlp-default", small("mlp-default", &["hidden=16"]), None),
            Box::new(|_| {}),
        )
        .unwrap();
    let run_dir = handle.dir.clone();
    handle.wait();
    let runs_dir = run_dir.parent().unwrap().to_path_buf();
    let mut cache = ListingCache::new();
    assert!(cache.scan(&runs_dir).unwrap().unwrap()[0].labels.is_empty());
    edit_labels(&run_dir, &LabelEdit::Name("baseline".into())).unwrap();
    edit_labels(&run_dir, &LabelEdit::tags_from_words("keep lr")).unwrap();
    let labels = edit_labels(&run_dir, &LabelEdit::tags_from_words("-lr")).unwrap();
    assert_eq!(labels.tags_text(), "keep");
    let e = edit_labels(&run_dir, &LabelEdit::tags_from_words("a b\tc d\u{3000}x"));
    assert!(e.is_ok(), "words split on any space");
    let e = edit_labels(&run_dir, &LabelEdit::Note("two\nlines".into())).unwrap_err();
    assert!(e.to_string().contains("one line"), "{e}");
    let cached = cache.scan(&runs_dir).unwrap().expect("labels changed");
    assert_eq!(cached[0].labels.name.as_deref(), Some("baseline"));
    assert_eq!(
        list_runs(&runs_dir).unwrap()[0].labels,
        RunLabels::read(&run_dir)
    );
    edit_labels(&run_dir, &LabelEdit::Name(String::new())).unwrap();
    edit_labels(
        &run_dir,
        &LabelEdit::tags_from_words("-keep -a -b -c -d -x"),
    )
    .unwrap();
    assert!(
        !run_dir.join("labels.json").exists(),
        "nothing said, no file"
    );
    // Deleting.
    let lock = std::fs::File::open(run_dir.join("run.lock")).unwrap();
    lock.try_lock().unwrap();
    let e = trash_run(&run_dir).unwrap_err().to_string();
    assert!(e.contains("still training"), "{e}");
    drop(lock);
    let to = trash_run(&run_dir).unwrap();
    assert!(to.starts_with(runs_dir.join(".trash")));
    assert!(to.join("events.jsonl").is_file() && !run_dir.exists());
    assert!(list_runs(&runs_dir).unwrap().is_empty(), ".trash is no run");
    std::fs::create_dir_all(&run_dir).unwrap();
    std::fs::write(run_dir.join("events.jsonl"), "").unwrap();
    let again = trash_run(&run_dir).unwrap();
    assert_ne!(again, to, "the first deleted copy stays");
    assert!(trash_run(&runs_dir.join("nosuch")).is_err());
    // A `.trash` that is a file is one line; the run stays.
    std::fs::remove_dir_all(runs_dir.join(".trash")).unwrap();
    std::fs::write(runs_dir.join(".trash"), "").unwrap();
    std::fs::create_dir_all(&run_dir).unwrap();
    std::fs::write(run_dir.join("events.jsonl"), "").unwrap();
    let e = trash_run(&run_dir).unwrap_err().to_string();
    assert!(e.contains("not a folder") && run_dir.is_dir(), "{e}");
}
