//! The events a run emits, one JSON object a line (DESIGN.md's schema, tagged by `event`).

use crate::config::RunConfig;
use serde::{Deserialize, Serialize};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// All steps done.
    Completed,
    /// Stopped by the user.
    Stopped,
    /// The loss became NaN or infinite.
    Diverged,
    /// An error ended the run early.
    Failed,
}

impl RunStatus {
    /// The status as written in events.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Completed => "completed",
            RunStatus::Stopped => "stopped",
            RunStatus::Diverged => "diverged",
            RunStatus::Failed => "failed",
        }
    }
}

/// One event of a run. Every event carries its run id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Event {
    /// The run began.
    Start {
        /// The run's id (also its folder name).
        run_id: String,
        /// The full configuration.
        config: RunConfig,
        /// Training images per epoch.
        #[serde(default)]
        train_size: usize,
    },
    /// One training step finished.
    Train {
        /// The run's id.
        run_id: String,
        /// Step number, from 1.
        step: usize,
        /// Epochs done, fractional.
        epoch: f64,
        /// Mean cross-entropy of the batch.
        loss: f64,
        /// Accuracy on the batch.
        acc: f64,
        /// Learning rate used.
        lr: f64,
        /// Training throughput over the recent steps.
        samples_per_sec: f64,
    },
    /// An evaluation on the whole test set.
    Eval {
        /// The run's id.
        run_id: String,
        /// Step it was taken after.
        step: usize,
        /// Epochs done, fractional.
        epoch: f64,
        /// Mean cross-entropy over the test set.
        test_loss: f64,
        /// Accuracy over the test set.
        test_acc: f64,
    },
    /// The run is paused (dashboard) or resumed.
    Paused {
        /// The run's id.
        run_id: String,
        /// Step it paused after.
        step: usize,
        /// True when paused, false when resumed.
        paused: bool,
    },
    /// The run ended.
    Done {
        /// The run's id.
        run_id: String,
        /// Last step done.
        step: usize,
        /// How it ended.
        status: RunStatus,
        /// Test accuracy of the last evaluation (0 when none).
        final_test_acc: f64,
        /// Best test accuracy of any evaluation (0 when none).
        best_test_acc: f64,
        /// Training and evaluation time, data loading excluded.
        seconds: f64,
        /// Why the run ended early, when it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl Event {
    /// The id of the run that sent the event.
    pub fn run_id(&self) -> &str {
        match self {
            Event::Start { run_id, .. }
            | Event::Train { run_id, .. }
            | Event::Eval { run_id, .. }
            | Event::Paused { run_id, .. }
            | Event::Done { run_id, .. } => run_id,
        }
    }

    /// The event as one JSON line (no newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("events always serialise")
    }
}

/// Where a session sends its events.
pub trait EventSink {
    /// Takes one event. An error stops the run (e.g. the run store's disk is full).
    fn emit(&mut self, event: &Event) -> crate::Result<()>;
}

impl<F: FnMut(&Event) -> crate::Result<()>> EventSink for F {
    fn emit(&mut self, event: &Event) -> crate::Result<()> {
        self(event)
    }
}
