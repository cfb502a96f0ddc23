//! The events a run emits, one JSON object a line (DESIGN.md's schema, tagged by `event`).
//! Every event carries its run id and its time; fields added later have defaults, so older
//! run folders still load.

use crate::config::RunConfig;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// Raised when a field changes meaning (3: `done` says null, not 0, when no evaluation ran).
pub const SCHEMA: u32 = 3;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// All steps done (or early stopping ended it).
    Completed,
    /// Stopped by the user (a key, Ctrl-C, SIGTERM).
    Stopped,
    /// The loss, the gradient norm or a test figure became NaN or infinite.
    Diverged,
    /// A panic or an engine error ended the run.
    Failed,
    /// A sweep's pruner stopped the run.
    Pruned,
}

impl RunStatus {
    /// The status as written in events.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Completed => "completed",
            RunStatus::Stopped => "stopped",
            RunStatus::Diverged => "diverged",
            RunStatus::Failed => "failed",
            RunStatus::Pruned => "pruned",
        }
    }
}

/// The data set a run trained on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DataInfo {
    /// Where it was read from.
    pub path: String,
    /// Training images.
    pub train: usize,
    /// Test images.
    pub test: usize,
    /// Its format (`cifar-10`, `cifar-100`, `idx`, `image-folder`); empty in runs written
    /// before data sets other than CIFAR-10.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub format: String,
    /// Its images' [C, H, W].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shape: Vec<usize>,
    /// Its class count.
    #[serde(skip_serializing_if = "is_zero")]
    pub classes: usize,
    /// Its class names, by label.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub class_names: Vec<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The run a fork started from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParentRef {
    /// The parent's id.
    pub run_id: String,
    /// The parent's step the fork starts after.
    pub step: usize,
}

/// A sweep run's place in its sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRef {
    /// The sweep's id.
    pub id: String,
    /// The run's index in the sweep, from 0.
    pub index: usize,
    /// Its configuration's place in the sweep: runs that differ only by seed share it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<usize>,
}

/// Seven quantiles of a tensor's values: min, 5, 25, 50, 75, 95 %, max.
pub type Quantiles = [f64; 7];

/// One parameter tensor's figures at a `layers` event (its weights after the step's update).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamStats {
    /// Its name in `model.safetensors`.
    pub name: String,
    /// L2 norm of the weights.
    pub norm: f64,
    /// L2 norm of the step's gradient.
    pub grad_norm: f64,
    /// Mean absolute gradient.
    #[serde(default)]
    pub grad_mean_abs: f64,
    /// Norm of the step's change over the weights' norm.
    pub update_ratio: f64,
    /// Quantiles of the weights.
    pub q: Quantiles,
    /// Quantiles of the gradient.
    pub grad_q: Quantiles,
}

/// One hidden layer's output on the probe batch, at a `layers` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActStats {
    /// The layer's name.
    pub name: String,
    /// Mean of its outputs.
    pub mean: f64,
    /// Their standard deviation.
    pub std: f64,
    /// Fraction of its units never on the positive side over the probe batch.
    pub dead: f64,
    /// Quantiles of its outputs.
    pub q: Quantiles,
}

/// What a run's `start` event records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartInfo {
    /// The full configuration.
    pub config: RunConfig,
    /// The schema version of these events.
    #[serde(default)]
    pub schema: u32,
    /// gradboard's version.
    #[serde(default)]
    pub version: String,
    /// CPU threads the run trains with.
    #[serde(default)]
    pub threads: usize,
    /// `cpu`, `cuda` or `metal`.
    #[serde(default)]
    pub device: String,
    /// The data set.
    #[serde(default)]
    pub data: DataInfo,
    /// Training images per epoch (also in `data.train`; kept for older readers).
    #[serde(default)]
    pub train_size: usize,
    /// The preset the configuration came from.
    #[serde(default)]
    pub preset: String,
    /// The keys whose values differ from the preset, with their values.
    #[serde(default)]
    pub changed: BTreeMap<String, serde_json::Value>,
    /// The run this one was forked from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentRef>,
    /// The sweep this run belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepRef>,
    /// The network's trainable values (weights, biases, batch norms' scales and shifts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<u64>,
    /// Its FLOP an image, forward (a multiply-add counts two; products only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flops: Option<f64>,
    /// A command sweep's trial: the command it ran, each word as run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
}

/// One event of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
    /// The run's id (also its folder name).
    pub run_id: String,
    /// Unix seconds when it happened.
    #[serde(default)]
    pub time: f64,
}

/// Reads a float that an older build may have written as `null` (NaN): it reads back as NaN
/// instead of making the whole line unreadable.
fn float_or_nan<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// The kinds of events and their fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum EventKind {
    /// The run began.
    Start(Box<StartInfo>),
    /// One training step finished.
    Train {
        /// Step number, from 1.
        step: usize,
        /// Epochs done, fractional.
        epoch: f64,
        /// Mean loss of the batch.
        #[serde(deserialize_with = "float_or_nan")]
        loss: f64,
        /// Accuracy on the batch.
        acc: f64,
        /// Learning rate used.
        lr: f64,
        /// Training throughput over the recent steps.
        samples_per_sec: f64,
        /// Global norm of the gradient before the update, where the trainer computes it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grad_norm: Option<f64>,
    },
    /// An evaluation on the whole test set.
    Eval {
        /// Step it was taken after.
        step: usize,
        /// Epochs done, fractional.
        epoch: f64,
        /// Mean cross-entropy over the test set.
        #[serde(deserialize_with = "float_or_nan")]
        test_loss: f64,
        /// Accuracy over the test set.
        #[serde(deserialize_with = "float_or_nan")]
        test_acc: f64,
        /// Mean cross-entropy over the held-out training images (with a `val_split`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        val_loss: Option<f64>,
        /// Accuracy over the held-out training images (with a `val_split`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        val_acc: Option<f64>,
    },
    /// A setting changed while the run trains; it applies from step `step + 1`.
    Set {
        /// Steps done when it changed.
        step: usize,
        /// The key.
        key: String,
        /// The new value (numbers as numbers).
        value: serde_json::Value,
    },
    /// The run paused (dashboard) or went on.
    Paused {
        /// Step it paused after.
        step: usize,
        /// True when paused, false when resumed.
        paused: bool,
    },
    /// The run was resumed from a checkpoint after `step`, in the same folder.
    Resume {
        /// The checkpoint's step.
        step: usize,
    },
    /// A sweep's pruner stopped the run.
    Prune {
        /// Step of the evaluation that decided.
        step: usize,
        /// Why.
        reason: String,
    },
    /// Per-layer statistics after step `step` (every `diag_every` steps).
    Layers {
        /// The step they were taken after.
        step: usize,
        /// One a parameter tensor, in the order of the network (input to output).
        params: Vec<ParamStats>,
        /// One a hidden layer's output on the probe batch, input to output.
        acts: Vec<ActStats>,
    },
    /// Figures another program reported (a command sweep's trial), by name, at its step.
    Metrics {
        /// The step the program gave (or the count of its reports).
        step: usize,
        /// Each metric's value (finite only).
        values: BTreeMap<String, f64>,
    },
    /// Something the user can act on, written once a kind and layer.
    Warning {
        /// The step it was noticed at.
        step: usize,
        /// What: `update_ratio`, `vanishing`, `exploding`, `dead`.
        kind: String,
        /// The layer (a parameter's or a hidden layer's name).
        layer: String,
        /// In words, with what to try.
        message: String,
    },
    /// The run ended.
    Done {
        /// Last step done.
        step: usize,
        /// How it ended.
        status: RunStatus,
        /// Test accuracy of the last evaluation; null when no evaluation ran (schema 3; older
        /// runs wrote 0).
        final_test_acc: Option<f64>,
        /// Best test accuracy of any evaluation; null when none ran.
        best_test_acc: Option<f64>,
        /// Validation accuracy of the last evaluation (with a `val_split`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        final_val_acc: Option<f64>,
        /// Best validation accuracy of any evaluation (with a `val_split`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        best_val_acc: Option<f64>,
        /// Training and evaluation time, data loading and pauses excluded.
        seconds: f64,
        /// Why the run ended early, when it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// Its per-layer warnings, `kind layer` each (the `warning` events').
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
        /// The seconds (training and evaluation, pauses excluded) at which its evaluated
        /// accuracy (validation with a split, else test) first reached each of
        /// `TIME_TO_LEVELS`, by level (`"0.8"`); levels never reached are absent.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        time_to: BTreeMap<String, f64>,
    },
}

/// The accuracies whose first time a run's `done` records (`time_to`).
pub const TIME_TO_LEVELS: [&str; 8] = ["0.5", "0.6", "0.7", "0.8", "0.85", "0.9", "0.93", "0.94"];

/// Records in `time_to` the levels of `TIME_TO_LEVELS` that `accuracy` reaches for the first
/// time, at `seconds`.
pub fn reach(time_to: &mut BTreeMap<String, f64>, accuracy: f64, seconds: f64) {
    for level in TIME_TO_LEVELS {
        let at: f64 = level.parse().expect("a level is a number");
        if accuracy >= at && !time_to.contains_key(level) {
            time_to.insert(level.to_string(), seconds);
        }
    }
}

/// Unix seconds now.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Event {
    /// An event of `run_id` happening now.
    pub fn now(run_id: &str, kind: EventKind) -> Self {
        Event {
            kind,
            run_id: run_id.to_string(),
            time: unix_now(),
        }
    }

    /// The id of the run that sent the event.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The step the event belongs to (0 for `start`).
    pub fn step(&self) -> usize {
        match &self.kind {
            EventKind::Start(_) => 0,
            EventKind::Train { step, .. }
            | EventKind::Eval { step, .. }
            | EventKind::Set { step, .. }
            | EventKind::Paused { step, .. }
            | EventKind::Resume { step }
            | EventKind::Prune { step, .. }
            | EventKind::Layers { step, .. }
            | EventKind::Warning { step, .. }
            | EventKind::Metrics { step, .. }
            | EventKind::Done { step, .. } => *step,
        }
    }

    /// The event's name as written in the `event` field.
    pub fn name(&self) -> &'static str {
        match &self.kind {
            EventKind::Start(_) => "start",
            EventKind::Train { .. } => "train",
            EventKind::Eval { .. } => "eval",
            EventKind::Set { .. } => "set",
            EventKind::Paused { .. } => "paused",
            EventKind::Resume { .. } => "resume",
            EventKind::Prune { .. } => "prune",
            EventKind::Layers { .. } => "layers",
            EventKind::Warning { .. } => "warning",
            EventKind::Metrics { .. } => "metrics",
            EventKind::Done { .. } => "done",
        }
    }

    /// The event as one JSON line (no newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("events always serialise")
    }
}

/// Where a session sends its events.
pub trait EventSink {
    /// Takes one event. An error ends the run (e.g. the run store's disk is full).
    fn emit(&mut self, event: &Event) -> crate::Result<()>;
}

impl<F: FnMut(&Event) -> crate::Result<()>> EventSink for F {
    fn emit(&mut self, event: &Event) -> crate::Result<()> {
        self(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_to_keeps_the_first_time_each_level_is_reached() {
        let mut t = BTreeMap::new();
        reach(&mut t, 0.55, 10.0);
        reach(&mut t, 0.52, 20.0);
        reach(&mut t, 0.86, 30.0);
        reach(&mut t, 0.935, 40.0);
        let got: Vec<(&str, f64)> = t.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(
            got,
            vec![
                ("0.5", 10.0),
                ("0.6", 30.0),
                ("0.7", 30.0),
                ("0.8", 30.0),
                ("0.85", 30.0),
                ("0.9", 40.0),
                ("0.93", 40.0)
            ]
        );
    }

    #[test]
    fn the_event_tag_comes_first_and_time_and_run_id_are_on_every_event() {
        let e = Event {
            kind: EventKind::Eval {
                step: 5,
                epoch: 0.5,
                test_loss: 1.0,
                test_acc: 0.5,
                val_loss: None,
                val_acc: None,
            },
            run_id: "r".into(),
            time: 12.5,
        };
        let text = e.to_json();
        assert!(text.starts_with(r#"{"event":"eval","step":5"#), "{text}");
        assert!(text.ends_with(r#""run_id":"r","time":12.5}"#), "{text}");
        assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), e);
    }

    #[test]
    fn an_old_start_line_without_new_keys_and_a_null_loss_still_load() {
        let start = r#"{"event":"start","run_id":"old","config":{"engine":"manual","model":"mlp","hidden":[100],"norm":"none","dropout":0.0,"neg_slope":0.02,"optimizer":"sgd","lr":0.002,"momentum":0.0,"weight_decay":0.0,"batch_size":200,"steps":10,"eval_every":5,"seed":1},"train_size":500}"#;
        let e: Event = serde_json::from_str(start).unwrap();
        match e.kind {
            EventKind::Start(info) => {
                assert_eq!(info.config.steps, 10);
                assert_eq!(info.train_size, 500);
                assert_eq!(info.schema, 0);
            }
            other => panic!("{other:?}"),
        }
        let eval = r#"{"event":"eval","run_id":"old","step":5,"epoch":0.1,"test_loss":null,"test_acc":0.1}"#;
        let e: Event = serde_json::from_str(eval).unwrap();
        match e.kind {
            EventKind::Eval { test_loss, .. } => assert!(test_loss.is_nan()),
            other => panic!("{other:?}"),
        }
    }
}
