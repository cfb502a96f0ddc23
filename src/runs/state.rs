//! A run's state as its events tell it: the one fold of events that every reader applies
//! (the listing, the reader, curves and export, the dashboard, a sweep's observer), so that
//! none can disagree with another about a run's settings, figures or status.

use super::series::Series;
use crate::config::{key, RunConfig};
use crate::events::{
    ActStats, Event, EventKind, ParamStats, ParentRef, RunStatus, StartInfo, SweepRef,
};
use std::collections::BTreeMap;

/// A point: step and value.
pub type Point = (f64, f64);

/// Points kept per train series before pairs are averaged (a million steps).
pub const SERIES_CAPACITY: usize = 1 << 20;

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

/// A setting changed while the run trained, with the value it had before.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LiveChange {
    /// Steps done when it changed (it applies from the next).
    pub step: usize,
    /// The key.
    pub key: String,
    /// Its value before, as text.
    pub from: String,
    /// Its value after, as text.
    pub to: String,
}

impl LiveChange {
    /// "lr 0.001 -> 0.003 @244", as every table writes it.
    pub fn text(&self) -> String {
        format!("{} {} -> {} @{}", self.key, self.from, self.to, self.step)
    }
}

/// Everything a chart of one run draws.
#[derive(Debug, Clone, PartialEq)]
pub struct Curves {
    /// Train loss by step.
    pub train_loss: Series,
    /// Train batch accuracy by step.
    pub train_acc: Series,
    /// Learning rate by step.
    pub lr: Series,
    /// Unix time of each train step, for a wall-time axis.
    pub clock: Series,
    /// Test loss at each evaluation.
    pub test_loss: Vec<Point>,
    /// Test accuracy at each evaluation.
    pub test_acc: Vec<Point>,
    /// Validation loss at each evaluation (with a `val_split`).
    pub val_loss: Vec<Point>,
    /// Validation accuracy at each evaluation (with a `val_split`).
    pub val_acc: Vec<Point>,
    /// Live changes.
    pub sets: Vec<SetMark>,
}

impl Default for Curves {
    fn default() -> Self {
        Curves {
            train_loss: Series::new(SERIES_CAPACITY),
            train_acc: Series::new(SERIES_CAPACITY),
            lr: Series::new(SERIES_CAPACITY),
            clock: Series::new(SERIES_CAPACITY),
            test_loss: Vec::new(),
            test_acc: Vec::new(),
            val_loss: Vec::new(),
            val_acc: Vec::new(),
            sets: Vec::new(),
        }
    }
}

impl Curves {
    /// Drops everything after `step` (a resumed run replaces it).
    fn truncate_after(&mut self, step: usize) {
        let x = step as f64;
        for s in [
            &mut self.train_loss,
            &mut self.train_acc,
            &mut self.lr,
            &mut self.clock,
        ] {
            s.truncate_after(x);
        }
        self.test_loss.retain(|p| p.0 <= x);
        self.test_acc.retain(|p| p.0 <= x);
        self.val_loss.retain(|p| p.0 <= x);
        self.val_acc.retain(|p| p.0 <= x);
        self.sets.retain(|s| s.step <= step);
    }

    /// The best test accuracy and its step.
    pub fn best_test_acc(&self) -> Option<Point> {
        best_point(&self.test_acc)
    }

    /// The best validation accuracy and its step.
    pub fn best_val_acc(&self) -> Option<Point> {
        best_point(&self.val_acc)
    }
}

/// The highest finite value and its step (the first of equals).
fn best_point(points: &[Point]) -> Option<Point> {
    points
        .iter()
        .copied()
        .filter(|p| p.1.is_finite())
        .fold(None, |best: Option<Point>, p| match best {
            Some(b) if b.1 >= p.1 => Some(b),
            _ => Some(p),
        })
}

/// One `layers` event: the figures of each parameter and hidden layer after a step.
#[derive(Debug, Clone, PartialEq)]
pub struct LayersPoint {
    /// The step.
    pub step: usize,
    /// Each parameter tensor's figures, input to output.
    pub params: Vec<ParamStats>,
    /// Each hidden layer's output's figures, input to output.
    pub acts: Vec<ActStats>,
}

/// A warning a run wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct RunWarning {
    /// The step it was noticed at.
    pub step: usize,
    /// Its kind.
    pub kind: String,
    /// The layer.
    pub layer: String,
    /// In words.
    pub message: String,
}

/// `layers` events kept a run before every other one is dropped (the curve keeps its span).
pub const LAYERS_CAPACITY: usize = 2048;

/// How a run ended, from its `done`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    /// Its status.
    pub status: RunStatus,
    /// Why it ended early, when it did.
    pub reason: Option<String>,
    /// Training seconds, pauses excluded.
    pub seconds: f64,
    /// Its per-layer warnings, `kind layer` each.
    pub warnings: Vec<String>,
    /// When its evaluated accuracy first reached each level (`done`'s `time_to`).
    pub time_to: BTreeMap<String, f64>,
}

/// A run as its events so far tell it.
#[derive(Debug, Clone)]
pub struct RunState {
    /// Its id.
    pub run_id: String,
    /// What its `start` recorded.
    pub start: Option<StartInfo>,
    /// Its settings with every live change so far applied.
    pub config: RunConfig,
    /// The step it started after (a fork's parent step), 0 otherwise.
    pub first_step: usize,
    /// Last step done.
    pub step: usize,
    /// Epochs done.
    pub epoch: f64,
    /// Learning rate of the last step.
    pub lr: f64,
    /// Throughput of the last step.
    pub samples_per_sec: f64,
    /// Its curves.
    pub curves: Curves,
    /// Unix time of its start.
    pub started: f64,
    /// Unix time of its latest event.
    pub last_time: f64,
    /// Seconds spent paused so far.
    pub paused_seconds: f64,
    /// Unix time it paused at, while paused.
    pub paused_since: Option<f64>,
    /// Its end, once it has one.
    pub ended: Option<Ending>,
    /// Test accuracy of the last evaluation, where its `done` says so without its evaluations
    /// having been read (a listing reads only the first and last lines of an ended run).
    done_final: Option<f64>,
    /// Best test accuracy, likewise.
    done_best: Option<f64>,
    /// Validation accuracy of the last evaluation, likewise.
    done_val_final: Option<f64>,
    /// Best validation accuracy, likewise.
    done_val_best: Option<f64>,
    /// The step at which a sweep's pruner stopped it.
    pub pruned_at: Option<usize>,
    /// Live changes that could not be applied to its settings, with why (an event written by
    /// another version, or damaged): kept, never dropped in silence.
    pub refused: Vec<String>,
    /// Every live change as its event wrote it, to replay after a resume.
    changes: Vec<(usize, String, serde_json::Value)>,
    /// Its `layers` events (every other one dropped past `LAYERS_CAPACITY`).
    pub layers: Vec<LayersPoint>,
    /// Its warnings.
    pub warnings: Vec<RunWarning>,
    /// Figures another program reported (`metrics` events): by name, (step, value).
    pub scalars: BTreeMap<String, Vec<(usize, f64)>>,
}

impl RunState {
    /// A run known by id before its first event.
    pub fn new(run_id: &str, config: RunConfig) -> Self {
        RunState {
            run_id: run_id.to_string(),
            start: None,
            lr: config.lr,
            config,
            first_step: 0,
            step: 0,
            epoch: 0.0,
            samples_per_sec: 0.0,
            curves: Curves::default(),
            started: 0.0,
            last_time: 0.0,
            paused_seconds: 0.0,
            paused_since: None,
            ended: None,
            done_final: None,
            done_best: None,
            done_val_final: None,
            done_val_best: None,
            pruned_at: None,
            refused: Vec::new(),
            changes: Vec::new(),
            layers: Vec::new(),
            warnings: Vec::new(),
            scalars: BTreeMap::new(),
        }
    }

    /// The state after `events`, in order, of the run `run_id`.
    pub fn from_events<'a>(run_id: &str, events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut state = RunState::new(run_id, RunConfig::default());
        for e in events {
            state.apply(e);
        }
        state
    }

    /// The preset its settings came from (empty when its start names none).
    pub fn preset(&self) -> &str {
        self.start.as_ref().map_or("", |s| s.preset.as_str())
    }

    /// The run it was forked from.
    pub fn parent(&self) -> Option<&ParentRef> {
        self.start.as_ref().and_then(|s| s.parent.as_ref())
    }

    /// Its sweep.
    pub fn sweep(&self) -> Option<&SweepRef> {
        self.start.as_ref().and_then(|s| s.sweep.as_ref())
    }

    /// Training images per epoch.
    pub fn train_size(&self) -> usize {
        self.start.as_ref().map_or(0, |s| {
            if s.train_size > 0 {
                s.train_size
            } else {
                s.data.train
            }
        })
    }

    /// The step it ends at when it trains to the end.
    pub fn last_step(&self) -> usize {
        self.first_step + self.config.steps
    }

    /// Test accuracy of its last evaluation; `None` when none ran.
    pub fn final_test_acc(&self) -> Option<f64> {
        self.curves.test_acc.last().map(|p| p.1).or(self.done_final)
    }

    /// Best test accuracy of any evaluation; `None` when none ran.
    pub fn best_test_acc(&self) -> Option<f64> {
        self.curves.best_test_acc().map(|p| p.1).or(self.done_best)
    }

    /// Validation accuracy of its last evaluation; `None` without a split or an evaluation.
    pub fn final_val_acc(&self) -> Option<f64> {
        self.curves
            .val_acc
            .last()
            .map(|p| p.1)
            .or(self.done_val_final)
    }

    /// Best validation accuracy of any evaluation; `None` without a split or an evaluation.
    pub fn best_val_acc(&self) -> Option<f64> {
        self.curves
            .best_val_acc()
            .map(|p| p.1)
            .or(self.done_val_best)
    }

    /// Training images it holds out for validation.
    pub fn val_split(&self) -> usize {
        self.config.val_split
    }

    /// Its live changes in order, each with the value it replaced (the start's, or the
    /// change before it).
    pub fn live_changes(&self) -> Vec<LiveChange> {
        let Some(start) = &self.start else {
            return Vec::new();
        };
        let mut config = start.config.clone();
        let mut out = Vec::new();
        for (step, name, value) in &self.changes {
            let Ok(spec) = key(name) else { continue };
            let from = spec.get(&config);
            if spec.set_json(&mut config, value).is_ok() {
                out.push(LiveChange {
                    step: *step,
                    key: name.clone(),
                    from,
                    to: spec.get(&config),
                });
            }
        }
        out
    }

    /// A setting as tables write it: its value, or with live changes the start's value and
    /// each change (`0.001 -> 0.003 @244`).
    pub fn setting_text(&self, key: &str) -> String {
        let changes: Vec<LiveChange> = self
            .live_changes()
            .into_iter()
            .filter(|c| c.key == key)
            .collect();
        match changes.first() {
            None => self.config.get(key).unwrap_or_default(),
            Some(first) => std::iter::once(first.from.clone())
                .chain(changes.iter().map(|c| format!("-> {} @{}", c.to, c.step)))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    /// Its per-layer warnings so far, `kind layer` each.
    pub fn warning_names(&self) -> Vec<String> {
        match &self.ended {
            Some(end) if !end.warnings.is_empty() => end.warnings.clone(),
            _ => self
                .warnings
                .iter()
                .map(|w| format!("{} {}", w.kind, w.layer))
                .collect(),
        }
    }

    /// Whether it is paused.
    pub fn paused(&self) -> bool {
        self.paused_since.is_some() && self.ended.is_none()
    }

    /// Training seconds at Unix time `now`, pauses excluded (its `done`'s figure once ended).
    pub fn elapsed(&self, now: f64) -> f64 {
        if let Some(e) = &self.ended {
            return e.seconds;
        }
        let end = self.paused_since.unwrap_or(now);
        (end - self.started - self.paused_seconds).max(0.0)
    }

    /// Applies one of its events.
    pub fn apply(&mut self, event: &Event) {
        self.last_time = self.last_time.max(event.time);
        match &event.kind {
            EventKind::Start(info) => {
                self.config = info.config.clone();
                self.lr = info.config.lr;
                self.first_step = info.parent.as_ref().map_or(0, |p| p.step);
                self.step = self.first_step;
                self.started = event.time;
                self.start = Some((**info).clone());
            }
            EventKind::Resume { step } => self.resume(*step),
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
                let x = *step as f64;
                self.curves.train_loss.push(x, *loss);
                self.curves.train_acc.push(x, *acc);
                self.curves.lr.push(x, *lr);
                self.curves.clock.push(x, event.time);
            }
            EventKind::Eval {
                step,
                epoch,
                test_loss,
                test_acc,
                val_loss,
                val_acc,
            } => {
                self.step = self.step.max(*step);
                self.epoch = self.epoch.max(*epoch);
                let x = *step as f64;
                self.curves.test_loss.push((x, *test_loss));
                self.curves.test_acc.push((x, *test_acc));
                if let (Some(loss), Some(acc)) = (val_loss, val_acc) {
                    self.curves.val_loss.push((x, *loss));
                    self.curves.val_acc.push((x, *acc));
                }
            }
            EventKind::Set { step, key, value } => self.set(*step, key, value),
            EventKind::Paused { paused, .. } => {
                if *paused {
                    self.paused_since.get_or_insert(event.time);
                } else if let Some(since) = self.paused_since.take() {
                    self.paused_seconds += event.time - since;
                }
            }
            EventKind::Prune { step, .. } => self.pruned_at = Some(*step),
            EventKind::Metrics { step, values } => {
                self.step = self.step.max(*step);
                for (name, value) in values {
                    self.scalars
                        .entry(name.clone())
                        .or_default()
                        .push((*step, *value));
                }
            }
            EventKind::Layers { step, params, acts } => {
                if self.layers.len() >= LAYERS_CAPACITY {
                    let mut keep = false;
                    self.layers.retain(|_| {
                        keep = !keep;
                        keep
                    });
                }
                self.layers.push(LayersPoint {
                    step: *step,
                    params: params.clone(),
                    acts: acts.clone(),
                });
            }
            EventKind::Warning {
                step,
                kind,
                layer,
                message,
            } => self.warnings.push(RunWarning {
                step: *step,
                kind: kind.clone(),
                layer: layer.clone(),
                message: message.clone(),
            }),
            EventKind::Done {
                step,
                status,
                final_test_acc,
                best_test_acc,
                final_val_acc,
                best_val_acc,
                seconds,
                reason,
                warnings,
                time_to,
            } => {
                self.step = *step;
                self.paused_since = None;
                // Builds before schema 3 wrote 0 for "no evaluation"; no run ends at exactly 0.
                let figure = |v: Option<f64>| v.filter(|_| best_test_acc.is_some_and(|b| b > 0.0));
                self.done_final = figure(*final_test_acc);
                self.done_best = figure(*best_test_acc);
                self.done_val_final = *final_val_acc;
                self.done_val_best = *best_val_acc;
                self.ended = Some(Ending {
                    status: *status,
                    reason: reason.clone(),
                    seconds: *seconds,
                    warnings: warnings.clone(),
                    time_to: time_to.clone(),
                });
            }
        }
    }

    /// A live change, applied to the settings by the key's one rule (`KeySpec::set_json`).
    fn set(&mut self, step: usize, name: &str, value: &serde_json::Value) {
        let text = crate::config::json_text(value);
        self.apply_change(step, name, value);
        self.changes.push((step, name.to_string(), value.clone()));
        if name == "lr" {
            if let Some(lr) = value.as_f64() {
                self.lr = lr;
            }
        }
        self.curves.sets.push(SetMark {
            step,
            key: name.to_string(),
            value: text,
        });
    }

    /// The run goes on from its checkpoint at `step`: what the interrupted run wrote after it
    /// is replaced, and its settings are those of that step again.
    fn resume(&mut self, step: usize) {
        self.curves.truncate_after(step);
        self.layers.retain(|l| l.step <= step);
        self.warnings.retain(|w| w.step <= step);
        for points in self.scalars.values_mut() {
            points.retain(|p| p.0 <= step);
        }
        self.step = step;
        self.ended = None;
        self.done_final = None;
        self.done_best = None;
        self.done_val_final = None;
        self.done_val_best = None;
        self.paused_since = None;
        if self.pruned_at.is_some_and(|p| p > step) {
            self.pruned_at = None;
        }
        self.changes.retain(|c| c.0 <= step);
        if let Some(start) = &self.start {
            self.config = start.config.clone();
            self.refused.clear();
            for (step, name, value) in std::mem::take(&mut self.changes) {
                self.apply_change(step, &name, &value);
                self.changes.push((step, name, value));
            }
        }
        self.lr = self.curves.lr.last().map_or(self.config.lr, |p| p.1);
    }

    /// Applies a change to the settings, or records why it could not be.
    fn apply_change(&mut self, step: usize, name: &str, value: &serde_json::Value) {
        if let Err(e) = key(name).and_then(|spec| spec.set_json(&mut self.config, value)) {
            let text = crate::config::json_text(value);
            self.refused
                .push(format!("step {step}: set {name} = {text}: {e}"));
        }
    }
}
