//! Helpers of the tests that train runs through the runner on a small data set they write.
// Each test crate that includes this uses some of the helpers.
#![allow(dead_code)]

use gradboard::config::{PresetDirs, RunConfig};
use gradboard::data::synthetic::{files, write_archive};
use gradboard::data::Dataset;
use gradboard::events::{Event, EventKind, RunStatus};
use gradboard::model::Compute;
use gradboard::runner::{RunRequest, Runner};
use gradboard::train::Command;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

/// A data set of 40 training and 50 test images written in `dir`.
pub fn data(dir: &Path) -> (Arc<Dataset>, PathBuf) {
    let path = dir.join("tiny.tar.gz");
    write_archive(&path, &files(40, 50)).unwrap();
    (Arc::new(Dataset::load(&path).unwrap()), path)
}

/// A runner on `data`, writing into `dir/runs`, one thread.
pub fn runner(dir: &Path) -> Runner {
    let (data, path) = data(dir);
    Runner::new(data, &path, &dir.join("runs"), Compute::cpu(), 1)
}

/// A shipped preset's settings.
pub fn preset(name: &str) -> RunConfig {
    PresetDirs {
        dirs: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("presets")],
    }
    .find(name)
    .unwrap()
    .config
}

/// A preset made small: 40 steps of 20, evaluations every 10, then `sets`.
pub fn small(name: &str, sets: &[&str]) -> RunConfig {
    let mut c = preset(name);
    for s in ["steps=40", "eval_every=10", "batch_size=20", "lr=1e-3"]
        .iter()
        .chain(sets)
    {
        c.apply_override(s).unwrap();
    }
    c
}

/// Starts a run whose events come back on a channel.
pub fn start(
    runner: &Runner,
    request: RunRequest,
) -> (gradboard::runner::RunHandle, Receiver<Event>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = runner
        .start(request, Box::new(move |e| drop(tx.send(e.clone()))))
        .unwrap();
    (handle, rx)
}

/// The `done` events.
pub fn dones(events: &[Event]) -> Vec<&Event> {
    events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Done { .. }))
        .collect()
}

/// A `done`'s status and reason.
pub fn status_of(e: &Event) -> (RunStatus, String) {
    match &e.kind {
        EventKind::Done { status, reason, .. } => (*status, reason.clone().unwrap_or_default()),
        other => panic!("not a done: {other:?}"),
    }
}

/// (step, test loss, test accuracy) of each evaluation.
pub fn eval_curve(events: &[&Event]) -> Vec<(usize, f64, f64)> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Eval {
                step,
                test_loss,
                test_acc,
                ..
            } => Some((step, test_loss, test_acc)),
            _ => None,
        })
        .collect()
}

/// Stops `handle`'s run once its events pass `step`.
pub fn stop_after(
    runner: &Runner,
    request: RunRequest,
    step: usize,
) -> gradboard::runner::RunHandle {
    let control: Arc<Mutex<Option<Arc<gradboard::train::Control>>>> = Arc::default();
    let seen = control.clone();
    let handle = runner
        .start(
            request,
            Box::new(move |e: &Event| {
                if matches!(e.kind, EventKind::Train { step: s, .. } if s == step) {
                    while seen.lock().unwrap().is_none() {
                        std::thread::yield_now();
                    }
                    seen.lock().unwrap().as_ref().unwrap().send(Command::Stop);
                }
            }),
        )
        .unwrap();
    *control.lock().unwrap() = Some(handle.control());
    handle
}
