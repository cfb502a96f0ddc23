//! The runner on a small data set it writes itself: folders that belong to one run, exactly
//! one `done` however a run ends, divergence caught before its step, live changes, resume and
//! fork from checkpoints, and run folders of older builds.

use gradboard::config::RunConfig;
use gradboard::events::{Event, EventKind, RunStatus};
use gradboard::model::Compute;
use gradboard::runner::{From, RunRequest, Runner};
use gradboard::runs::{list_runs, run_record, ListedStatus, StoredRun, WEIGHTS_FILE};
use gradboard::train::{checkpoint, Command, Fault};
use std::path::Path;
use std::sync::{Arc, Mutex};

#[path = "common/runs.rs"]
mod runs;
use runs::*;

#[test]
fn two_runs_started_together_get_two_complete_folders() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    let config = small("mlp-default", &[]);
    let a = start(
        &runner,
        RunRequest::new("mlp-default", config.clone(), None),
    );
    let b = start(&runner, RunRequest::new("mlp-default", config, None));
    assert_ne!(a.0.run_id, b.0.run_id);
    assert_ne!(a.0.dir, b.0.dir);
    for (handle, rx) in [a, b] {
        let dir = handle.dir.clone();
        let summary = handle.wait();
        assert_eq!(summary.status, RunStatus::Completed);
        let events: Vec<Event> = rx.iter().collect();
        assert_eq!(dones(&events).len(), 1);
        let stored = StoredRun::load(&dir).unwrap();
        assert_eq!(
            stored.events, events,
            "the folder holds exactly its run's events"
        );
        assert!(dir.join(WEIGHTS_FILE).is_file());
    }
}

#[test]
fn a_panic_inside_a_step_ends_the_run_failed_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    let mut request = RunRequest::new("mlp-default", small("mlp-default", &[]), None);
    request.fault = Some(Fault::PanicAtStep(3));
    let (handle, rx) = start(&runner, request);
    let run_dir = handle.dir.clone();
    let summary = handle.wait();
    assert_eq!(summary.status, RunStatus::Failed);
    let events: Vec<Event> = rx.iter().collect();
    let done = dones(&events);
    assert_eq!(done.len(), 1);
    let (status, reason) = status_of(done[0]);
    assert_eq!(status, RunStatus::Failed);
    assert!(reason.contains("panic at step 3"), "{reason}");
    let stored = StoredRun::load(&run_dir).unwrap();
    assert_eq!(dones(&stored.events).len(), 1, "the store has the done too");
    assert_eq!(
        run_record(&run_dir).unwrap().status,
        ListedStatus::Ended(RunStatus::Failed)
    );
}

#[test]
fn an_engine_error_ends_the_run_failed_and_keeps_its_weights() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    let mut request = RunRequest::new("mlp-default", small("mlp-default", &[]), None);
    request.fault = Some(Fault::ErrorAtStep(15));
    let (handle, _rx) = start(&runner, request);
    let run_dir = handle.dir.clone();
    let summary = handle.wait();
    assert_eq!(summary.status, RunStatus::Failed);
    assert_eq!(summary.step, 14);
    assert!(summary.reason.unwrap().contains("error at step 15"));
    assert!(run_dir.join(WEIGHTS_FILE).is_file());
}

fn all_finite(path: &Path) -> bool {
    candle_core::safetensors::load(path, &candle_core::Device::Cpu)
        .unwrap()
        .values()
        .all(|t| {
            t.to_dtype(candle_core::DType::F64)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap()
                .iter()
                .all(|v| v.is_finite())
        })
}

#[test]
fn divergence_is_caught_before_its_step_and_the_saved_weights_are_finite() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    // A real divergence: SGD with a huge learning rate on the default init.
    let config = small(
        "mlp-default",
        &["lr=10", "init_std=default", "steps=300", "eval_every=1000"],
    );
    let (handle, rx) = start(&runner, RunRequest::new("mlp-default", config, None));
    let run_dir = handle.dir.clone();
    let summary = handle.wait();
    assert_eq!(summary.status, RunStatus::Diverged, "{:?}", summary.reason);
    let events: Vec<Event> = rx.iter().collect();
    for e in &events {
        if let EventKind::Train { loss, .. } = e.kind {
            assert!(loss.is_finite(), "a non-finite loss was written: {e:?}");
        }
    }
    assert!(summary.reason.unwrap().contains("before its update"));
    assert!(all_finite(&run_dir.join(WEIGHTS_FILE)));
    // An injected NaN at step 25, after two evaluations: the step is not applied.
    let mut request = RunRequest::new("mlp-default", small("mlp-default", &[]), None);
    request.fault = Some(Fault::NanAtStep(25));
    let (handle, _rx) = start(&runner, request);
    let run_dir = handle.dir.clone();
    let summary = handle.wait();
    assert_eq!(summary.status, RunStatus::Diverged);
    assert_eq!(summary.step, 24);
    assert!(all_finite(&run_dir.join(WEIGHTS_FILE)));
}

#[test]
fn a_live_learning_rate_change_applies_from_the_next_step_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    let config = small("mlp-default", &["steps=30"]);
    let (tx, rx) = std::sync::mpsc::channel();
    let control: Arc<Mutex<Option<Arc<gradboard::train::Control>>>> = Arc::default();
    let seen = control.clone();
    let handle = runner
        .start(
            RunRequest::new("mlp-default", config, None),
            Box::new(move |e: &Event| {
                // The observer runs on the run's thread between steps: the change is sent
                // after step 10 exactly.
                if let EventKind::Train { step: 10, .. } = e.kind {
                    while seen.lock().unwrap().is_none() {
                        std::thread::yield_now();
                    }
                    seen.lock().unwrap().as_ref().unwrap().send(Command::Set {
                        key: "lr".into(),
                        value: "0.004".into(),
                    });
                }
                let _ = tx.send(e.clone());
            }),
        )
        .unwrap();
    *control.lock().unwrap() = Some(handle.control());
    handle.wait();
    let events: Vec<Event> = rx.iter().collect();
    let set = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Set { step, key, value } => Some((*step, key.clone(), value.clone())),
            _ => None,
        })
        .expect("a set event");
    assert_eq!(set, (10, "lr".to_string(), serde_json::json!(0.004)));
    let lr_at = |s: usize| {
        events
            .iter()
            .find_map(|e| match e.kind {
                EventKind::Train { step, lr, .. } if step == s => Some(lr),
                _ => None,
            })
            .unwrap()
    };
    assert_eq!((lr_at(10), lr_at(11), lr_at(30)), (1e-3, 0.004, 0.004));
}

#[test]
fn a_resumed_run_equals_one_that_was_never_interrupted() {
    // Random crops are drawn per step, alternating mirrors follow the epoch; a validation
    // split changes what an epoch is.
    for sets in [
        &["augment=crop-flip"][..],
        &["augment=alt-flip", "val_split=60"][..],
    ] {
        // Every lever that draws random numbers or depends on the step rides along.
        let mut levers = vec![
            "hidden=32,16",
            "schedule=onecycle",
            "label_smoothing=0.1",
            "clip_norm=0.5",
            "norm_bias_lr=10",
            "tta=flip",
        ];
        levers.extend_from_slice(sets);
        resumed_equals_whole("mlp-best", &levers);
    }
}

/// The speedrun's levers: whitening filters from the data, Nesterov momentum, random moves,
/// the triangle schedule and lookahead pulls (whose moving average the checkpoint keeps).
#[test]
fn a_resumed_speedrun_equals_one_that_was_never_interrupted() {
    resumed_equals_whole(
        "speedrun",
        &[
            "net.w1=8",
            "net.w2=8",
            "net.w3=16",
            "lookahead=5",
            "lr=0.05",
            "eval_every=20",
        ],
    );
}

fn resumed_equals_whole(preset: &str, levers: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    let config = small(preset, levers);
    let (whole, _) = start(&runner, RunRequest::new(preset, config.clone(), None));
    let whole_dir = whole.dir.clone();
    whole.wait();
    // The same run stopped after step 23, between evaluations: the stop writes a checkpoint
    // where it stopped, so the resume loses none of its steps.
    let (tx, rx) = std::sync::mpsc::channel();
    let control: Arc<Mutex<Option<Arc<gradboard::train::Control>>>> = Arc::default();
    let seen = control.clone();
    let cut = runner
        .start(
            RunRequest::new(preset, config, None),
            Box::new(move |e: &Event| {
                if let EventKind::Train { step: 23, .. } = e.kind {
                    while seen.lock().unwrap().is_none() {
                        std::thread::yield_now();
                    }
                    seen.lock().unwrap().as_ref().unwrap().send(Command::Stop);
                }
                let _ = tx.send(e.clone());
            }),
        )
        .unwrap();
    *control.lock().unwrap() = Some(cut.control());
    let cut_dir = cut.dir.clone();
    assert_eq!(cut.wait().status, RunStatus::Stopped);
    drop(rx);
    let mut request = RunRequest::new(preset, RunConfig::default(), None);
    request.from = From::Resume(cut_dir.clone());
    let (resumed, _) = start(&runner, request);
    assert_eq!(
        resumed.run_id,
        cut_dir.file_name().unwrap().to_str().unwrap()
    );
    assert_eq!(resumed.wait().status, RunStatus::Completed);
    let a = StoredRun::load(&whole_dir).unwrap();
    let b = StoredRun::load(&cut_dir).unwrap();
    assert!(b
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Resume { step: 23 })));
    assert_eq!(
        eval_curve(&a.history()),
        eval_curve(&b.history()),
        "same seed, same curve"
    );
    let train = |r: &StoredRun| -> Vec<f64> {
        r.history()
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::Train { loss, .. } => Some(loss),
                _ => None,
            })
            .collect()
    };
    assert_eq!(train(&a), train(&b));
    assert_eq!(val_curve(&a.history()), val_curve(&b.history()));
    assert_eq!(
        dones(&b.history().into_iter().cloned().collect::<Vec<_>>()).len(),
        1
    );
}

/// (step, validation accuracy) of each evaluation that has one.
fn val_curve(events: &[&Event]) -> Vec<(usize, f64)> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Eval {
                step,
                val_acc: Some(v),
                ..
            } => Some((step, v)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_validation_split_is_held_out_of_training_and_evaluated_beside_the_test_set() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    let config = small("mlp-default", &["val_split=150", "batch_size=10"]);
    let (handle, rx) = start(&runner, RunRequest::new("mlp-default", config, None));
    assert_eq!(handle.wait().status, RunStatus::Completed);
    let events: Vec<Event> = rx.try_iter().collect();
    let EventKind::Start(info) = &events[0].kind else {
        panic!("first event {:?}", events[0]);
    };
    assert_eq!(info.train_size, 50, "200 training images, 150 held out");
    let epochs: Vec<f64> = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Train { step: 5, epoch, .. } => Some(epoch),
            _ => None,
        })
        .collect();
    assert_eq!(epochs, [1.0], "an epoch is the 50 images left");
    assert_eq!(val_curve(&events.iter().collect::<Vec<_>>()).len(), 4);
    let done = dones(&events)[0];
    let EventKind::Done {
        best_val_acc,
        final_val_acc,
        ..
    } = done.kind
    else {
        unreachable!()
    };
    assert!(best_val_acc.is_some() && final_val_acc.is_some());
    // time_to: the levels the validation accuracy reached, each at its first evaluation's
    // seconds, later levels no sooner, none past the run's end.
    let EventKind::Done {
        time_to, seconds, ..
    } = &done.kind
    else {
        unreachable!()
    };
    let best = best_val_acc.unwrap();
    assert!(
        best >= 0.5,
        "the small set's validation reaches 0.5: {best}"
    );
    for level in gradboard::events::TIME_TO_LEVELS {
        let at: f64 = level.parse().unwrap();
        assert_eq!(
            time_to.contains_key(level),
            best >= at,
            "{level}: best {best}"
        );
    }
    let times: Vec<f64> = time_to.values().copied().collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]) && times.iter().all(|t| t <= seconds));
    let listed = list_runs(&dir.path().join("runs")).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(&listed[0].time_to, time_to, "the listing carries it");
    // A split that leaves less than a batch is one line before any folder is made.
    let bad = small("mlp-default", &["val_split=190", "batch_size=20"]);
    let e = runner
        .start(RunRequest::new("mlp-default", bad, None), Box::new(|_| {}))
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("val_split: holding 190 of the 200 training images out leaves 10, fewer than a batch of 20"), "{e}");
    assert_eq!(list_runs(&dir.path().join("runs")).unwrap().len(), 1);
}

#[test]
fn a_fork_starts_from_its_parent_and_counts_on_from_its_step() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    let parent_config = small("mlp-default", &["steps=30"]);
    let (parent, _) = start(
        &runner,
        RunRequest::new("mlp-default", parent_config.clone(), None),
    );
    let parent_dir = parent.dir.clone();
    let parent_id = parent.run_id.clone();
    parent.wait();
    let mut child_config = parent_config.clone();
    child_config.apply_override("lr=5e-4").unwrap();
    child_config.apply_override("steps=20").unwrap();
    let mut request = RunRequest::new("mlp-default", child_config, Some(preset("mlp-default")));
    request.from = From::Fork(parent_dir.clone());
    let (child, rx) = start(&runner, request);
    assert_eq!(child.wait().status, RunStatus::Completed);
    let events: Vec<Event> = rx.iter().collect();
    let EventKind::Start(info) = &events[0].kind else {
        panic!("{:?}", events[0])
    };
    let parent_ref = info.parent.clone().unwrap();
    assert_eq!(
        (parent_ref.run_id.as_str(), parent_ref.step),
        (parent_id.as_str(), 30)
    );
    assert_eq!(info.changed.get("lr"), Some(&serde_json::json!(5e-4)));
    let steps: Vec<usize> = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Train { step, .. } => Some(step),
            _ => None,
        })
        .collect();
    assert_eq!(steps.first(), Some(&31));
    assert_eq!(steps.last(), Some(&50));
    // Its first loss continues the parent's, not a fresh network's (about ln 10 = 2.30).
    let first_loss = events
        .iter()
        .find_map(|e| match e.kind {
            EventKind::Train { loss, .. } => Some(loss),
            _ => None,
        })
        .unwrap();
    let parent_last = StoredRun::load(&parent_dir)
        .unwrap()
        .events
        .iter()
        .rev()
        .find_map(|e| match e.kind {
            EventKind::Train { loss, .. } => Some(loss),
            _ => None,
        })
        .unwrap();
    assert!(
        (first_loss - parent_last).abs() < 0.5 && first_loss < 2.2,
        "{first_loss} after {parent_last}"
    );
    // A fork keeps its parent's network.
    let mut bad = parent_config;
    bad.apply_override("hidden=50").unwrap();
    let mut request = RunRequest::new("mlp-default", bad, None);
    request.from = From::Fork(parent_dir);
    let e = runner
        .start(request, Box::new(|_| {}))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("keeps its parent's network: hidden"), "{e}");
}

/// A fork stopped part way resumes to its own last step (its parent's step plus its
/// steps), with its schedule counted from where it began.
#[test]
fn a_stopped_fork_resumes_to_its_own_last_step() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    let parent_config = small("mlp-default", &["steps=30"]);
    let (parent, _) = start(
        &runner,
        RunRequest::new("mlp-default", parent_config.clone(), None),
    );
    let parent_dir = parent.dir.clone();
    parent.wait();
    let mut child_config = parent_config;
    for s in ["steps=30", "schedule=cosine"] {
        child_config.apply_override(s).unwrap();
    }
    let fork = |from: From| {
        let mut request = RunRequest::new("mlp-default", child_config.clone(), None);
        request.from = from;
        request
    };
    let (whole, _) = start(&runner, fork(From::Fork(parent_dir.clone())));
    let whole_dir = whole.dir.clone();
    whole.wait();
    let cut = stop_after(&runner, fork(From::Fork(parent_dir)), 44);
    let cut_dir = cut.dir.clone();
    assert_eq!(cut.wait().status, RunStatus::Stopped);
    let mut request = RunRequest::new("mlp-default", RunConfig::default(), None);
    request.from = From::Resume(cut_dir.clone());
    let (resumed, _) = start(&runner, request);
    let summary = resumed.wait();
    assert_eq!((summary.status, summary.step), (RunStatus::Completed, 60));
    let lrs = |dir: &Path| -> Vec<(usize, f64)> {
        StoredRun::load(dir)
            .unwrap()
            .history()
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::Train { step, lr, .. } => Some((step, lr)),
                _ => None,
            })
            .collect()
    };
    let (a, b) = (lrs(&whole_dir), lrs(&cut_dir));
    assert_eq!(a, b, "the resumed fork follows the same schedule");
    assert_eq!(
        a.first().unwrap().1,
        1e-3 * (1.0 + (std::f64::consts::PI / 30.0).cos()) / 2.0
    );
    assert!(
        a.last().unwrap().1.abs() < 1e-12,
        "cosine ends at 0 at step 60"
    );
}

/// Early stopping ends the run `completed` with its reason once `early_stop` evaluations
/// bring no better test accuracy, and the saved model is the best evaluation's.
#[test]
fn early_stopping_ends_completed_and_keeps_the_best_weights() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    // The tiny set's classes are single colours: test accuracy reaches 1.0 within a few
    // evaluations and cannot beat it, while the weights keep changing.
    let config = small(
        "mlp-default",
        &["steps=400", "eval_every=5", "lr=0.01", "early_stop=3"],
    );
    let (h, rx) = start(&runner, RunRequest::new("mlp-default", config, None));
    let run_dir = h.dir.clone();
    let summary = h.wait();
    let events: Vec<Event> = rx.iter().collect();
    let evals = eval_curve(&events.iter().collect::<Vec<_>>());
    assert_eq!(summary.status, RunStatus::Completed);
    assert!(summary.step < 400, "stopped early, at {}", summary.step);
    let reason = summary.reason.unwrap_or_default();
    assert!(reason.contains("early stop"), "{reason}");
    let best_step = evals
        .iter()
        .fold((0, -1.0), |b, e| if e.2 > b.1 { (e.0, e.2) } else { b })
        .0;
    assert_eq!(
        summary.step,
        best_step + 3 * 5,
        "three evaluations after the best"
    );
    let saved = gradboard::model::read_safetensors(&run_dir.join(WEIGHTS_FILE)).unwrap();
    let best = checkpoint::read(&run_dir.join(checkpoint::BEST)).unwrap();
    let last = checkpoint::read(&run_dir.join(checkpoint::LAST)).unwrap();
    assert_eq!(best.state.step, best_step);
    let values = |t: &candle_core::Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let mut differs_from_last = false;
    for (name, tensor) in &saved {
        assert_eq!(values(tensor), values(&best.model[name]), "{name}");
        differs_from_last |= values(tensor) != values(&last.model[name]);
    }
    assert!(
        differs_from_last,
        "the final weights were not the ones saved"
    );
}

#[test]
fn a_checkpoint_is_whole_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    let (h, _) = start(
        &runner,
        RunRequest::new("mlp-default", small("mlp-default", &[]), None),
    );
    let run_dir = h.dir.clone();
    h.wait();
    let path = run_dir.join(checkpoint::LAST);
    let cp = checkpoint::read(&path).unwrap();
    assert_eq!(cp.state.step, 40);
    // A file cut short, as a kill in the middle of a plain write would leave it, is refused.
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = checkpoint::read(&cut).unwrap_err().to_string();
    assert!(e.contains("not a usable checkpoint"), "{e}");
    // Writes go to a temporary file renamed into place: no temporary is left behind and a
    // failing write leaves the old file as it was.
    let leftovers: Vec<_> = std::fs::read_dir(&run_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty());
    let result = gradboard::runs::write_atomically(&path, |tmp| {
        std::fs::write(tmp, b"half").unwrap();
        Err(gradboard::Error::Other("killed".into()))
    });
    assert!(result.is_err());
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[test]
fn listing_shows_status_and_old_run_folders_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    // A folder as an earlier build wrote it: no time, no schema, a config without newer keys,
    // a NaN written as null, and no done (its process is gone: crashed).
    let old = runs.join("20260101-120000-numpy-mlp-00ab");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(
        old.join("config.toml"),
        "engine = \"manual\"\nmodel = \"mlp\"\nhidden = [100]\nlr = 0.002\nsteps = 10\n",
    )
    .unwrap();
    std::fs::write(
        old.join("events.jsonl"),
        concat!(
            r#"{"event":"start","run_id":"20260101-120000-numpy-mlp-00ab","config":{"engine":"manual","model":"mlp","hidden":[100],"norm":"none","dropout":0.0,"neg_slope":0.02,"optimizer":"sgd","lr":0.002,"momentum":0.0,"weight_decay":0.0,"batch_size":200,"steps":10,"eval_every":5,"seed":1},"train_size":500}"#,
            "\n",
            r#"{"event":"train","run_id":"20260101-120000-numpy-mlp-00ab","step":1,"epoch":0.4,"loss":2.3,"acc":0.1,"lr":0.002,"samples_per_sec":100.0}"#,
            "\n",
            r#"{"event":"eval","run_id":"20260101-120000-numpy-mlp-00ab","step":5,"epoch":2.0,"test_loss":null,"test_acc":0.25}"#,
            "\n",
            r#"{"event":"train","run_id":"20260101-12"#,
        ),
    )
    .unwrap();
    let stored = StoredRun::load(&old).unwrap();
    assert_eq!(stored.events.len(), 3);
    assert_eq!(stored.unreadable, 1, "the line cut by a kill");
    assert!(stored.start().is_some(), "the start line still loads");
    let record = run_record(&old).unwrap();
    assert_eq!(record.status, ListedStatus::Crashed);
    assert_eq!(record.preset, "numpy-mlp");
    assert_eq!(record.final_test_acc, Some(0.25));
    // A finished run and one still training, side by side.
    let runner = Runner::new(
        data(dir.path()).0,
        Path::new("tiny.tar.gz"),
        &runs,
        Compute::cpu(),
        1,
    );
    let (done, _) = start(
        &runner,
        RunRequest::new(
            "mlp-default",
            small("mlp-default", &[]),
            Some(preset("mlp-default")),
        ),
    );
    done.wait();
    let (running, _) = start(
        &runner,
        RunRequest::new(
            "mlp-default",
            small("mlp-default", &["steps=10000000"]),
            None,
        ),
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let listed = list_runs(&runs).unwrap();
    assert_eq!(listed.len(), 3);
    let by_status: Vec<&str> = listed.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(
        by_status,
        vec!["running", "completed", "crashed"],
        "newest first"
    );
    assert_eq!(listed[1].changed.get("lr"), Some(&serde_json::json!(1e-3)));
    running.send(Command::Stop);
    assert_eq!(running.wait().status, RunStatus::Stopped);
    assert_eq!(list_runs(&runs).unwrap()[0].status.as_str(), "stopped");
}

/// A run folder renamed while the run trains: the run fails, and its `done` still carries what
/// it measured (its evaluations and its seconds), as the summary does.
#[test]
fn a_run_whose_folder_is_renamed_keeps_its_figures() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path());
    let request = RunRequest::new("mlp-default", small("mlp-default", &[]), None);
    let (tx, rx) = std::sync::mpsc::channel();
    let runs_dir = runner.runs_dir().to_path_buf();
    let handle = runner
        .start(
            request,
            Box::new(move |e: &Event| {
                if let EventKind::Eval { step: 10, .. } = e.kind {
                    let from = runs_dir.join(&e.run_id);
                    std::fs::rename(&from, from.with_extension("moved")).unwrap();
                }
                drop(tx.send(e.clone()));
            }),
        )
        .unwrap();
    let summary = handle.wait();
    let events: Vec<Event> = rx.iter().collect();
    let measured = eval_curve(&events.iter().collect::<Vec<_>>());
    assert!(!measured.is_empty());
    assert_eq!(summary.status, RunStatus::Failed, "{summary:?}");
    assert_eq!(summary.final_test_acc, Some(measured.last().unwrap().2));
    assert!(summary.seconds > 0.0, "{summary:?}");
    let done = dones(&events);
    assert_eq!(done.len(), 1);
    match &done[0].kind {
        EventKind::Done { final_test_acc, .. } => {
            assert_eq!(*final_test_acc, summary.final_test_acc)
        }
        _ => unreachable!(),
    }
}
