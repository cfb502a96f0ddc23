//! What the dashboard knows of runs: one `RunView` a run, by id, each changed only by
//! `Runs::apply` from the run's events. Times come from the events, so a run read back from
//! its folder redraws exactly like one watched live.

use super::series::Series;
use gradboard::config::RunConfig;
use gradboard::events::{Event, EventKind, ParentRef, RunStatus};
use std::collections::HashMap;

/// Points kept per chart series before pairs are averaged (a million steps).
pub const SERIES_CAPACITY: usize = 1 << 20;

/// A run's state as the dashboard shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Started, before its first event.
    Starting,
    /// Training.
    Running,
    /// Paused by the user.
    Paused,
    /// Asked to stop, not yet ended.
    Stopping,
    /// Ended with this status and reason.
    Ended(RunStatus, Option<String>),
}

impl Status {
    /// Whether the run can still send events.
    pub fn is_active(&self) -> bool {
        !matches!(self, Status::Ended(..))
    }

    /// A short label with the reason, if any.
    pub fn label(&self) -> String {
        match self {
            Status::Starting => "starting".into(),
            Status::Running => "running".into(),
            Status::Paused => "paused".into(),
            Status::Stopping => "stopping".into(),
            Status::Ended(s, Some(r))
                if matches!(
                    s,
                    RunStatus::Diverged | RunStatus::Failed | RunStatus::Pruned
                ) =>
            {
                format!("{}: {r}", s.as_str())
            }
            Status::Ended(s, _) => s.as_str().into(),
        }
    }
}

/// A setting changed while the run trained: drawn as a vertical line at `step`.
#[derive(Debug, Clone, PartialEq)]
pub struct SetMark {
    /// Steps done when it changed (it applies from the next).
    pub step: usize,
    /// The key.
    pub key: String,
    /// The new value, as text.
    pub value: String,
}

/// Everything the screens show of one run.
#[derive(Debug, Clone)]
pub struct RunView {
    /// Its id.
    pub run_id: String,
    /// Its settings, with live changes applied as they arrive.
    pub config: RunConfig,
    /// The preset it came from.
    pub preset: String,
    /// Its state.
    pub status: Status,
    /// The step it started after (a fork's parent step), 0 otherwise.
    pub first_step: usize,
    /// Its parent, for a fork.
    pub parent: Option<ParentRef>,
    /// Last step done.
    pub step: usize,
    /// Epochs done.
    pub epoch: f64,
    /// Training images per epoch.
    pub train_size: usize,
    /// Learning rate of the last step.
    pub lr: f64,
    /// Throughput.
    pub samples_per_sec: f64,
    /// Train loss by step.
    pub loss: Series,
    /// Train batch accuracy by step.
    pub acc: Series,
    /// Test loss at each evaluation.
    pub test_loss: Vec<(f64, f64)>,
    /// Test accuracy at each evaluation.
    pub test_acc: Vec<(f64, f64)>,
    /// Unix time of each step (downsampled like the curves), for a wall-time axis.
    pub clock: Series,
    /// Live changes.
    pub sets: Vec<SetMark>,
    /// Unix time of its start (or resume).
    pub started: f64,
    /// Unix time of its latest event.
    pub last_time: f64,
    /// Seconds spent paused, and since when it is paused.
    pub paused_seconds: f64,
    /// Unix time it paused at, while paused.
    pub paused_since: Option<f64>,
    /// Seconds from its `done` event.
    pub final_seconds: Option<f64>,
    /// Whether this dashboard started it (and can send it commands).
    pub local: bool,
}

impl RunView {
    /// A run known before its first event (just started from this dashboard).
    pub fn new(run_id: &str, config: RunConfig, preset: &str, now: f64) -> Self {
        RunView {
            run_id: run_id.to_string(),
            lr: config.lr,
            config,
            preset: preset.to_string(),
            status: Status::Starting,
            first_step: 0,
            parent: None,
            step: 0,
            epoch: 0.0,
            train_size: 0,
            samples_per_sec: 0.0,
            loss: Series::new(SERIES_CAPACITY),
            acc: Series::new(SERIES_CAPACITY),
            test_loss: Vec::new(),
            test_acc: Vec::new(),
            clock: Series::new(SERIES_CAPACITY),
            sets: Vec::new(),
            started: now,
            last_time: now,
            paused_seconds: 0.0,
            paused_since: None,
            final_seconds: None,
            local: false,
        }
    }

    /// Training time at Unix time `now`, pauses excluded.
    pub fn elapsed(&self, now: f64) -> f64 {
        if let Some(s) = self.final_seconds {
            return s;
        }
        let end = self.paused_since.unwrap_or(now);
        (end - self.started - self.paused_seconds).max(0.0)
    }

    /// Estimated seconds to the last step.
    pub fn eta(&self, now: f64) -> Option<f64> {
        let done = self.step.saturating_sub(self.first_step);
        if done == 0 || !self.status.is_active() {
            return None;
        }
        let per_step = self.elapsed(now) / done as f64;
        Some(per_step * self.last_step().saturating_sub(self.step) as f64)
    }

    /// The step the run ends at.
    pub fn last_step(&self) -> usize {
        self.first_step + self.config.steps
    }

    /// Seconds of training at `step` (wall time from the start, pauses included), from the
    /// clock: the nearest recorded step at or after it.
    pub fn seconds_at(&self, step: f64) -> f64 {
        let pts = self.clock.points();
        let i = pts
            .partition_point(|p| p.0 < step)
            .min(pts.len().saturating_sub(1));
        pts.get(i).map_or(0.0, |p| (p.1 - self.started).max(0.0))
    }

    /// Best test accuracy so far and its step.
    pub fn best_test(&self) -> Option<(f64, f64)> {
        self.test_acc
            .iter()
            .copied()
            .fold(None, |b: Option<(f64, f64)>, p| match b {
                Some(b) if b.1 >= p.1 => Some(b),
                _ => Some(p),
            })
    }

    /// Applies one of its events.
    fn apply(&mut self, event: &Event) {
        self.last_time = self.last_time.max(event.time);
        match &event.kind {
            EventKind::Start(info) => {
                self.config = info.config.clone();
                self.lr = info.config.lr;
                self.train_size = info.train_size.max(info.data.train);
                if !info.preset.is_empty() {
                    self.preset = info.preset.clone();
                }
                self.parent = info.parent.clone();
                self.first_step = info.parent.as_ref().map_or(0, |p| p.step);
                self.step = self.first_step;
                self.started = event.time;
                if self.status == Status::Starting {
                    self.status = Status::Running;
                }
            }
            EventKind::Resume { step } => {
                let step = *step as f64;
                self.loss.truncate_after(step);
                self.acc.truncate_after(step);
                self.clock.truncate_after(step);
                self.test_loss.retain(|p| p.0 <= step);
                self.test_acc.retain(|p| p.0 <= step);
                self.sets.retain(|s| s.step as f64 <= step);
                self.step = step as usize;
                self.final_seconds = None;
                self.status = Status::Running;
            }
            EventKind::Train {
                step,
                epoch,
                loss,
                acc,
                lr,
                samples_per_sec,
                ..
            } => {
                self.step = *step;
                self.epoch = *epoch;
                self.lr = *lr;
                self.samples_per_sec = *samples_per_sec;
                self.loss.push(*step as f64, *loss);
                self.acc.push(*step as f64, *acc);
                self.clock.push(*step as f64, event.time);
                if self.status == Status::Starting {
                    self.status = Status::Running;
                }
            }
            EventKind::Eval {
                step,
                test_loss,
                test_acc,
                ..
            } => {
                self.test_loss.push((*step as f64, *test_loss));
                self.test_acc.push((*step as f64, *test_acc));
            }
            EventKind::Set { step, key, value } => {
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let _ = self.config.set(key, &text);
                self.sets.push(SetMark {
                    step: *step,
                    key: key.clone(),
                    value: text,
                });
            }
            EventKind::Paused { paused, .. } => {
                if *paused {
                    self.paused_since.get_or_insert(event.time);
                    self.status = Status::Paused;
                } else {
                    if let Some(since) = self.paused_since.take() {
                        self.paused_seconds += event.time - since;
                    }
                    self.status = Status::Running;
                }
            }
            EventKind::Prune { .. } => {}
            EventKind::Done {
                step,
                status,
                seconds,
                reason,
                ..
            } => {
                self.step = *step;
                self.paused_since = None;
                self.final_seconds = Some(*seconds);
                self.status = Status::Ended(*status, reason.clone());
            }
        }
    }
}

/// Every run the dashboard knows, by id.
#[derive(Debug, Clone, Default)]
pub struct Runs {
    by_id: HashMap<String, RunView>,
}

impl Runs {
    /// The one reducer: applies an event to its run, creating the run on its `start`.
    pub fn apply(&mut self, event: &Event) {
        if let Some(run) = self.by_id.get_mut(&event.run_id) {
            run.apply(event);
        } else if let EventKind::Start(info) = &event.kind {
            let mut run =
                RunView::new(&event.run_id, info.config.clone(), &info.preset, event.time);
            run.apply(event);
            self.by_id.insert(event.run_id.clone(), run);
        }
    }

    /// Registers a run this dashboard started, before its first event.
    pub fn insert(&mut self, mut run: RunView) {
        run.local = true;
        self.by_id
            .entry(run.run_id.clone())
            .and_modify(|r| r.local = true)
            .or_insert(run);
    }

    /// A run by id.
    pub fn get(&self, run_id: &str) -> Option<&RunView> {
        self.by_id.get(run_id)
    }

    /// A run by id, to mark it (e.g. stopping).
    pub fn get_mut(&mut self, run_id: &str) -> Option<&mut RunView> {
        self.by_id.get_mut(run_id)
    }

    /// Runs this dashboard started that can still send events.
    pub fn active_here(&self) -> impl Iterator<Item = &RunView> {
        self.by_id
            .values()
            .filter(|r| r.local && r.status.is_active())
    }
}
