//! What the dashboard knows of runs: one `RunView` a run, by the id the runs folder lists it
//! under, each changed only by applying the run's events through the engine's one fold
//! (`RunState::apply`). Times come from the events, so a run read back from its folder redraws
//! exactly like one watched live.

use gradboard::config::RunConfig;
use gradboard::events::{Event, RunStatus};
use gradboard::runs::{ListedStatus, RunState};
use std::collections::HashMap;
use std::ops::Deref;

/// A run's state as the dashboard shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Started here, before its first event.
    Starting,
    /// Training.
    Running,
    /// Paused by the user.
    Paused,
    /// Asked to stop, not yet ended.
    Stopping,
    /// No `done`, and no process trains it.
    Crashed,
    /// Ended with this status and reason.
    Ended(RunStatus, Option<String>),
}

impl Status {
    /// Whether the run can still send events.
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            Status::Starting | Status::Running | Status::Paused | Status::Stopping
        )
    }

    /// A short label with the reason, if any.
    pub fn label(&self) -> String {
        match self {
            Status::Starting => "starting".into(),
            Status::Running => "running".into(),
            Status::Paused => "paused".into(),
            Status::Stopping => "stopping".into(),
            Status::Crashed => "crashed".into(),
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

/// A run as the screens show it: its fold, and what this dashboard knows besides.
#[derive(Debug, Clone)]
pub struct RunView {
    /// The run's events so far, folded.
    pub state: RunState,
    /// Whether this dashboard started it (and can send it commands).
    pub local: bool,
    /// Whether this dashboard asked it to stop.
    pub stopping: bool,
    /// For a run read from its folder: whether its process is alive, as the last listing
    /// found (a run without `done` whose process is gone is crashed).
    pub alive: bool,
}

impl Deref for RunView {
    type Target = RunState;

    fn deref(&self) -> &RunState {
        &self.state
    }
}

impl RunView {
    /// A run known before its first event.
    pub fn new(run_id: &str, config: RunConfig) -> Self {
        RunView {
            state: RunState::new(run_id, config),
            local: false,
            stopping: false,
            alive: true,
        }
    }

    /// Its status.
    pub fn status(&self) -> Status {
        if let Some(end) = &self.state.ended {
            return Status::Ended(end.status, end.reason.clone());
        }
        if !self.local && !self.alive {
            return Status::Crashed;
        }
        if self.stopping {
            return Status::Stopping;
        }
        if self.state.start.is_none() && self.state.curves.train_loss.is_empty() {
            return Status::Starting;
        }
        if self.state.paused() {
            return Status::Paused;
        }
        Status::Running
    }

    /// Estimated seconds to the last step at Unix time `now`, while it trains.
    pub fn eta(&self, now: f64) -> Option<f64> {
        let done = self.step.saturating_sub(self.first_step);
        if done == 0 || self.status() != Status::Running {
            return None;
        }
        let per_step = self.elapsed(now) / done as f64;
        Some(per_step * self.last_step().saturating_sub(self.step) as f64)
    }

    /// Seconds of training at `step` (wall time from the start, pauses included), from the
    /// clock: the nearest recorded step at or after it.
    pub fn seconds_at(&self, step: f64) -> f64 {
        let pts = self.curves.clock.points();
        let i = pts
            .partition_point(|p| p.0 < step)
            .min(pts.len().saturating_sub(1));
        pts.get(i).map_or(0.0, |p| (p.1 - self.started).max(0.0))
    }

    /// Best test accuracy so far and its step.
    pub fn best_test(&self) -> Option<(f64, f64)> {
        self.curves.best_test_acc()
    }
}

/// Every run the dashboard knows, by id.
#[derive(Debug, Clone, Default)]
pub struct Runs {
    by_id: HashMap<String, RunView>,
}

impl Runs {
    /// Applies an event to the run `run_id` (the id it is listed under, which a copied or
    /// renamed folder's events may not carry), creating the run when it is new.
    pub fn apply(&mut self, run_id: &str, event: &Event) {
        self.by_id
            .entry(run_id.to_string())
            .or_insert_with(|| RunView::new(run_id, RunConfig::default()))
            .state
            .apply(event);
    }

    /// A run read from its folder, known even before (or without) any event.
    pub fn ensure(&mut self, run_id: &str) {
        self.by_id
            .entry(run_id.to_string())
            .or_insert_with(|| RunView::new(run_id, RunConfig::default()));
    }

    /// Registers a run this dashboard started, before its first event.
    pub fn insert_local(&mut self, run_id: &str, config: RunConfig) {
        self.by_id
            .entry(run_id.to_string())
            .or_insert_with(|| RunView::new(run_id, config))
            .local = true;
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
            .filter(|r| r.local && r.state.ended.is_none())
    }

    /// Takes the liveness of runs read from their folders from a listing.
    pub fn set_alive(&mut self, run_id: &str, status: ListedStatus) {
        if let Some(run) = self.by_id.get_mut(run_id) {
            run.alive = status != ListedStatus::Crashed;
        }
    }
}
