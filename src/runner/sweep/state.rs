//! What a sweep's front ends show, built from its book: the queue (one entry a run), the
//! groups of seeds, what mattered (importance), the budget spent against the unpruned one,
//! and the results as JSON (`sweep show --json`) and Markdown (`results.md`).

use super::book::Book;
use crate::config::sweep::{Objective, ObjectiveAt, SweepSpec};
use crate::config::Choice;
use crate::events::RunStatus;
use crate::runs::accuracy_text as figure;
use crate::search::stats::{mean, std};
use crate::search::Space;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Where one run of a sweep stands.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum QueueState {
    /// Waiting its turn.
    #[default]
    Pending,
    /// Taken off the queue before it started: it never runs.
    Cancelled,
    /// Training.
    Running {
        /// Its run id (empty while it starts).
        run_id: String,
    },
    /// Ended, however.
    Ended {
        /// Its run id.
        run_id: String,
        /// How it ended (`pruned` when a pruner stopped it).
        status: RunStatus,
        /// Why, when it ended early.
        reason: Option<String>,
    },
    /// Could not start (bad settings, a folder that could not be made).
    Refused {
        /// The error.
        reason: String,
    },
    /// Started, then lost with the process that ran it (killed outright): its run folder has
    /// no `done` and no process trains it (`train --resume` continues it).
    Crashed {
        /// Its run id.
        run_id: String,
    },
    /// Stopped or lost on a cluster whose scheduler holds its task to start again (a requeue
    /// after the time limit or a node lost): the task resumes the run.
    Requeued {
        /// Its run id.
        run_id: String,
    },
}

/// One row of a sweep's queue and results table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueEntry {
    /// Its place in the sweep.
    pub index: usize,
    /// Its configuration (runs that differ only by seed share it).
    pub group: usize,
    /// Its name: the explicit run's, or its swept values (and seed).
    pub label: String,
    /// The keys it sets beyond the sweep's common overrides (its seed among them when the
    /// sweep trains several).
    pub swept: Vec<(String, String)>,
    /// Where it stands.
    #[serde(flatten)]
    pub state: QueueState,
    /// Last step done.
    pub step: usize,
    /// Steps it trains.
    pub steps: usize,
    /// Its evaluations of the sweep's objective: (step, figure).
    pub curve: Vec<(usize, f64)>,
    /// Best figure of the sweep's objective.
    pub best: Option<f64>,
    /// Its figure of the objective as the sweep ranks it (`ObjectiveAt`: the best, the final
    /// or the mean of the last k evaluations).
    pub value: Option<f64>,
    /// Best validation accuracy.
    pub best_val_acc: Option<f64>,
    /// Validation accuracy of its last evaluation.
    pub final_val_acc: Option<f64>,
    /// Best test accuracy so far.
    pub best_test_acc: Option<f64>,
    /// Test accuracy of its last evaluation.
    pub final_test_acc: Option<f64>,
    /// Training seconds.
    pub seconds: Option<f64>,
    /// When it started and when it last wrote an event (Unix seconds), once started.
    pub span: Option<(f64, f64)>,
    /// Who trained it (`task 1234_5@node01`, `pid 4242@host`), once started.
    pub worker: Option<String>,
    /// A figure to compare with (the report's).
    pub expected: Option<f64>,
    /// The pruner's last decision about it.
    pub pruner: Option<String>,
    /// The step at which it was pruned.
    pub pruned_at: Option<usize>,
    /// Who chose its settings (`grid`, `random`, `startup`, `tpe`, `explicit`).
    pub source: String,
}

impl QueueEntry {
    /// Its run id once started.
    pub fn run_id(&self) -> Option<&str> {
        match &self.state {
            QueueState::Running { run_id }
            | QueueState::Ended { run_id, .. }
            | QueueState::Crashed { run_id }
            | QueueState::Requeued { run_id } => Some(run_id).filter(|r| !r.is_empty()),
            _ => None,
        }
        .map(String::as_str)
    }

    /// One word for its state: pending, running, completed, pruned, ...
    pub fn state_name(&self) -> String {
        match &self.state {
            QueueState::Pending => "pending".into(),
            QueueState::Cancelled => "cancelled".into(),
            QueueState::Running { .. } => "running".into(),
            QueueState::Ended { status, .. } => status.as_str().into(),
            QueueState::Refused { .. } => "refused".into(),
            QueueState::Crashed { .. } => "crashed".into(),
            QueueState::Requeued { .. } => "requeued".into(),
        }
    }

    /// Its settings without the seed.
    pub fn settings(&self) -> Vec<(String, String)> {
        self.swept
            .iter()
            .filter(|(k, _)| k != "seed")
            .cloned()
            .collect()
    }
}

/// Whether a sweep goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SweepStatus {
    /// A process runs its queue.
    #[default]
    Running,
    /// Every run ended.
    Finished,
    /// Stopped before every run ended.
    Cancelled,
}

impl SweepStatus {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            SweepStatus::Running => "running",
            SweepStatus::Finished => "finished",
            SweepStatus::Cancelled => "cancelled",
        }
    }
}

/// The runs of one configuration, its seeds folded: n, mean and standard deviation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupRow {
    /// The configuration's place.
    pub group: usize,
    /// Its name.
    pub label: String,
    /// Its settings without the seed.
    pub settings: Vec<(String, String)>,
    /// Its runs (queue indices).
    pub runs: Vec<usize>,
    /// Runs with a figure.
    pub n: usize,
    /// Mean of their best figure of the objective.
    pub best_mean: Option<f64>,
    /// Its standard deviation.
    pub best_std: Option<f64>,
    /// Mean of their figure as the sweep ranks it (`QueueEntry::value`).
    pub value_mean: Option<f64>,
    /// Its standard deviation.
    pub value_std: Option<f64>,
    /// Mean of their final test accuracy.
    pub final_mean: Option<f64>,
    /// Its standard deviation.
    pub final_std: Option<f64>,
    /// Mean of their best test accuracy, shown beside the objective.
    pub best_test_mean: Option<f64>,
}

/// Steps and seconds spent, against what the same runs would have cost without the pruner.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// Steps trained.
    pub steps_spent: usize,
    /// Steps they would have trained unpruned.
    pub steps_unpruned: usize,
    /// Seconds trained.
    pub seconds_spent: f64,
    /// Seconds unpruned (a pruned run's time scaled to its whole length).
    pub seconds_unpruned: f64,
}

/// What this process knows beyond the folder: runs it has taken off the queue but not yet
/// started, whether it runs the queue and is paused, its pruner's latest words.
#[derive(Debug, Clone, Default)]
pub struct Local {
    /// Runs taken and starting.
    pub claimed: Vec<usize>,
    /// Whether this process runs the queue.
    pub running: bool,
    /// Whether it is paused.
    pub paused: bool,
    /// The pruner's last decision about each run.
    pub notes: HashMap<usize, String>,
    /// A cluster's word on each run's task still queued or running (`squeue`: `PENDING`,
    /// `RUNNING`, ...).
    pub queued: HashMap<usize, String>,
    /// The cluster job that runs the sweep.
    pub job: Option<String>,
}

/// One result row, its figures formatted once for every renderer.
#[derive(Debug, Clone)]
pub struct ResultRow<'a> {
    /// The queue entry (index, label, state).
    pub entry: &'a QueueEntry,
    /// `pruned at STEP`, or its state.
    pub status: String,
    /// Best figure of the objective.
    pub best: String,
    /// Its figure as the sweep ranks it.
    pub value: String,
    /// Best test accuracy.
    pub best_test: String,
    /// Last test accuracy.
    pub final_test: String,
    /// The figure to compare with (a sweep file's report column).
    pub expected: String,
    /// Training seconds.
    pub seconds: String,
    /// Its run id, `-` before it starts.
    pub run: String,
}

/// The result rows and the columns they need.
#[derive(Debug, Clone)]
pub struct ResultRows<'a> {
    /// Chosen on validation: the best test accuracy is a column of its own.
    pub on_val: bool,
    /// Chosen on a command's metric: no test columns (its runs have none).
    pub on_metric: bool,
    /// Some run has a figure to compare with.
    pub with_expected: bool,
    /// The rows.
    pub rows: Vec<ResultRow<'a>>,
}

/// A sweep's state.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SweepState {
    /// The sweep's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether it goes on.
    pub status: SweepStatus,
    /// The sampler's name.
    pub sampler: String,
    /// The pruner in words, `off` without one.
    pub pruner: String,
    /// Seeds each configuration trains with.
    pub seeds: usize,
    /// The figure it chooses by.
    pub objective: Option<Objective>,
    /// Which evaluations make a run's figure.
    pub objective_at: ObjectiveAt,
    /// The keys it varies.
    pub swept_keys: Vec<String>,
    /// Each swept key's values, as axes (grid keys as choices).
    #[serde(skip)]
    pub axes: Space,
    /// The queue, in sweep order.
    pub queue: Vec<QueueEntry>,
    /// Whether it is paused.
    pub paused: bool,
    /// Whether no run is left to train.
    pub finished: bool,
    /// Whether a pruner is on.
    pub pruning: bool,
    /// Each configuration with a started run, its seeds folded.
    pub groups: Vec<GroupRow>,
    /// Each swept key's share of importance, largest first.
    pub importance: Vec<(String, f64)>,
    /// Which method measured it: "fANOVA, exact on a grid", "fANOVA (random forest, 64
    /// trees)" or "PED-ANOVA (top 10 %)".
    pub importance_method: String,
    /// What the importance was measured on: "12 complete configurations", or with successive
    /// halving and few complete ones, "18 configurations at rung 0 (step 100)".
    pub importance_basis: String,
    /// Spent against unpruned.
    pub budget: Budget,
    /// A note about the plan.
    pub notice: Option<String>,
    /// The cluster job that runs it, if one does.
    pub job: Option<String>,
}

impl SweepState {
    /// The state of `spec`'s sweep as `book` reads it, with what this process knows.
    pub fn build(spec: &SweepSpec, book: &Book, local: &Local) -> Self {
        let meta = &book.meta;
        let running_here = local.running || book.folder().running() || !local.queued.is_empty();
        let queue: Vec<QueueEntry> = (0..meta.trials)
            .map(|i| entry(book, local, i, running_here))
            .collect();
        let finished = queue.iter().all(|e| {
            !matches!(
                e.state,
                QueueState::Pending | QueueState::Running { .. } | QueueState::Requeued { .. }
            )
        });
        let status = if running_here && !finished {
            SweepStatus::Running
        } else if queue.iter().all(|e| {
            matches!(
                e.state,
                QueueState::Ended { .. } | QueueState::Refused { .. }
            )
        }) {
            SweepStatus::Finished
        } else {
            SweepStatus::Cancelled
        };
        let axes = spec.axes();
        let mut state = SweepState {
            id: meta.sweep_id.clone(),
            name: spec.name.clone(),
            status,
            sampler: spec.sampler.name().to_string(),
            pruner: spec
                .prune
                .map_or("off".to_string(), |p| p.describe(meta.first_eval)),
            seeds: meta.seeds,
            objective: Some(meta.objective.clone()),
            objective_at: meta.objective_at,
            swept_keys: spec.swept_keys(),
            groups: Vec::new(),
            importance: Vec::new(),
            importance_basis: String::new(),
            importance_method: String::new(),
            budget: Budget::default(),
            paused: local.paused,
            finished,
            pruning: spec.prune.is_some(),
            notice: meta.notice.clone(),
            job: local.job.clone(),
            queue,
            axes,
        };
        state.groups = state.group_rows();
        (
            state.importance,
            state.importance_basis,
            state.importance_method,
        ) = super::importance::importance(&state.axes, book);
        state.budget = state.budget();
        state
    }

    /// The objective's name in tables.
    pub fn objective_label(&self) -> &str {
        self.objective.as_ref().map_or("test acc", |o| o.label())
    }

    /// The figure the sweep ranks by, as tables head it: "best val acc", "final val acc",
    /// "val acc (last 3)".
    pub fn value_header(&self) -> String {
        self.objective_at.header(self.objective_label())
    }

    /// How a run's figure is made, in words, with the peak's caveat.
    pub fn objective_at_text(&self) -> String {
        match self.objective_at {
            ObjectiveAt::Best => "its best evaluation (the peak: it rewards a run that spiked and then collapsed; --objective-at final or last-K is steadier)".into(),
            ObjectiveAt::Final => "its last evaluation".into(),
            ObjectiveAt::LastK(k) => format!("the mean of its last {k} evaluations"),
        }
    }

    /// The sweep's best, the one meaning every front end gives it (`sweep show`, the sweep
    /// screen, `F`): the best run of the best configuration (its seeds' mean figure), else
    /// the best run; figures as `objective_at` makes them.
    pub fn best_member(&self) -> Option<&QueueEntry> {
        match self.best_group() {
            Some(g) if self.seeds > 1 => g
                .runs
                .iter()
                .filter_map(|&i| self.queue.get(i))
                .filter(|e| e.value.is_some())
                .max_by(|a, b| self.rank(a.value).total_cmp(&self.rank(b.value))),
            _ => self.best_run(),
        }
    }

    /// A figure of the objective as it ranks, larger better; none ranks last.
    pub fn rank(&self, value: Option<f64>) -> f64 {
        match (value, &self.objective) {
            (Some(v), Some(o)) if v.is_finite() => o.score(v),
            (Some(v), None) if v.is_finite() => v,
            _ => f64::NEG_INFINITY,
        }
    }

    /// The results table: started runs, best objective first.
    pub fn results(&self) -> Vec<&QueueEntry> {
        let mut rows: Vec<&QueueEntry> =
            self.queue.iter().filter(|e| e.run_id().is_some()).collect();
        rows.sort_by(|a, b| self.rank(b.value).total_cmp(&self.rank(a.value)));
        rows
    }

    /// The results as every renderer shows them (the terminal table, `results.md`, the
    /// dashboard): started runs best objective first (then, with `pending`, those not started
    /// yet), each figure formatted once.
    pub fn result_rows(&self, pending: bool) -> ResultRows<'_> {
        let mut entries = self.results();
        if pending {
            entries.extend(self.queue.iter().filter(|e| e.run_id().is_none()));
        }
        ResultRows {
            on_val: self.objective == Some(Objective::ValAcc),
            on_metric: matches!(self.objective, Some(Objective::Metric { .. })),
            with_expected: self.queue.iter().any(|e| e.expected.is_some()),
            rows: entries
                .into_iter()
                .map(|e| ResultRow {
                    status: match e.pruned_at {
                        Some(s) => format!("pruned at {s}"),
                        None => e.state_name(),
                    },
                    best: figure(e.best),
                    value: figure(e.value),
                    best_test: figure(e.best_test_acc),
                    final_test: figure(e.final_test_acc),
                    expected: figure(e.expected),
                    seconds: e.seconds.map(|s| format!("{s:.0}")).unwrap_or_default(),
                    run: e.run_id().unwrap_or("-").to_string(),
                    entry: e,
                })
                .collect(),
        }
    }

    /// Every started trial's evaluations of the objective in its own units (a minimised
    /// metric as it was reported): `(trial, [(step, figure)])`, trials without any left out.
    pub fn intermediate(&self) -> Vec<(&QueueEntry, Vec<(f64, f64)>)> {
        let objective = self.objective.clone().unwrap_or(Objective::TestAcc);
        self.queue
            .iter()
            .map(|e| {
                let points: Vec<(f64, f64)> = e
                    .curve
                    .iter()
                    .map(|&(s, v)| (s as f64, objective.score(v)))
                    .filter(|p| p.1.is_finite())
                    .collect();
                (e, points)
            })
            .filter(|c| !c.1.is_empty())
            .collect()
    }

    /// The best figure so far after each trial with one, in trial order: `(index, best)`
    /// (the optimisation history's line).
    pub fn best_so_far(&self) -> Vec<(f64, f64)> {
        let mut best: Option<f64> = None;
        let mut out = Vec::new();
        for e in &self.queue {
            let Some(v) = e.value.filter(|v| v.is_finite()) else {
                continue;
            };
            let b = match best {
                Some(b) if self.rank(Some(b)) >= self.rank(Some(v)) => b,
                _ => v,
            };
            best = Some(b);
            out.push((e.index as f64, b));
        }
        out
    }

    /// `best_so_far` as a staircase: the best holds until a better trial.
    pub fn best_staircase(&self) -> Vec<(f64, f64)> {
        let best = self.best_so_far();
        best.windows(2)
            .flat_map(|w| [w[0], (w[1].0, w[0].1)])
            .chain(best.last().copied())
            .collect()
    }

    /// The best run by the objective.
    pub fn best_run(&self) -> Option<&QueueEntry> {
        self.results().into_iter().find(|e| e.value.is_some())
    }

    /// The groups, best mean objective first.
    pub fn ranked_groups(&self) -> Vec<&GroupRow> {
        let mut groups: Vec<&GroupRow> = self.groups.iter().collect();
        groups.sort_by(|a, b| self.rank(b.value_mean).total_cmp(&self.rank(a.value_mean)));
        groups
    }

    /// The best group by its mean objective.
    pub fn best_group(&self) -> Option<&GroupRow> {
        self.groups
            .iter()
            .filter(|g| g.value_mean.is_some())
            .max_by(|a, b| self.rank(a.value_mean).total_cmp(&self.rank(b.value_mean)))
    }

    /// Characters of the longest run label (0 for an empty queue), for tables to fit them.
    pub fn label_width(&self) -> usize {
        self.queue
            .iter()
            .map(|e| e.label.chars().count())
            .max()
            .unwrap_or(0)
    }

    fn group_rows(&self) -> Vec<GroupRow> {
        let mut rows: Vec<GroupRow> = Vec::new();
        for e in self.queue.iter().filter(|e| e.run_id().is_some()) {
            let row = match rows.iter_mut().find(|r| r.group == e.group) {
                Some(r) => r,
                None => {
                    let label = e
                        .settings()
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    rows.push(GroupRow {
                        group: e.group,
                        label: if label.is_empty() {
                            e.label.clone()
                        } else {
                            label
                        },
                        settings: e.settings(),
                        ..GroupRow::default()
                    });
                    rows.last_mut().expect("just pushed")
                }
            };
            row.runs.push(e.index);
        }
        for row in rows.iter_mut() {
            let members: Vec<&QueueEntry> = row.runs.iter().map(|&i| &self.queue[i]).collect();
            let ended: Vec<&&QueueEntry> = members
                .iter()
                .filter(|e| matches!(e.state, QueueState::Ended { .. }))
                .collect();
            let best: Vec<f64> = ended.iter().filter_map(|e| e.best).collect();
            let values: Vec<f64> = ended.iter().filter_map(|e| e.value).collect();
            let finals: Vec<f64> = ended.iter().filter_map(|e| e.final_test_acc).collect();
            let best_test: Vec<f64> = ended.iter().filter_map(|e| e.best_test_acc).collect();
            row.n = best.len();
            row.best_mean = mean(&best);
            row.best_std = std(&best);
            row.value_mean = mean(&values);
            row.value_std = std(&values);
            row.final_mean = mean(&finals);
            row.final_std = std(&finals);
            row.best_test_mean = mean(&best_test);
        }
        rows
    }

    fn budget(&self) -> Budget {
        let mut b = Budget::default();
        // A command's trials say their length only by running: the longest completed one's.
        let full = self
            .queue
            .iter()
            .filter(|e| {
                matches!(
                    e.state,
                    QueueState::Ended {
                        status: RunStatus::Completed,
                        ..
                    }
                )
            })
            .map(|e| e.step)
            .max()
            .unwrap_or(0);
        for e in self.queue.iter().filter(|e| e.run_id().is_some()) {
            let e = &QueueEntry {
                steps: if e.steps == 0 { full } else { e.steps },
                ..e.clone()
            };
            let seconds = e.seconds.unwrap_or(0.0);
            b.steps_spent += e.step;
            b.seconds_spent += seconds;
            let pruned = matches!(
                e.state,
                QueueState::Ended {
                    status: RunStatus::Pruned,
                    ..
                }
            );
            if pruned && e.step > 0 {
                b.steps_unpruned += e.steps.max(e.step);
                b.seconds_unpruned += seconds * e.steps.max(e.step) as f64 / e.step as f64;
            } else {
                b.steps_unpruned += e.step;
                b.seconds_unpruned += seconds;
            }
        }
        b
    }

    /// The budget in words: "12000 of 30000 steps (40 %) and 210 s of 520 s unpruned".
    pub fn budget_text(&self) -> String {
        let b = &self.budget;
        let share = if b.steps_unpruned > 0 {
            format!(
                " ({:.0} %)",
                100.0 * b.steps_spent as f64 / b.steps_unpruned as f64
            )
        } else {
            String::new()
        };
        format!(
            "{} of {} steps{share}, {:.0} s of {:.0} s unpruned",
            b.steps_spent, b.steps_unpruned, b.seconds_spent, b.seconds_unpruned
        )
    }

    /// The state as `sweep show --json` gives it (DESIGN.md's contract).
    pub fn show_json(&self) -> serde_json::Value {
        let settings = |pairs: &[(String, String)]| -> serde_json::Map<String, serde_json::Value> {
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), settings_value(k, v)))
                .collect()
        };
        let trials: Vec<serde_json::Value> = self
            .queue
            .iter()
            .map(|e| {
                serde_json::json!({
                    "index": e.index,
                    "group": e.group,
                    "label": e.label,
                    "run_id": e.run_id(),
                    "status": e.state_name(),
                    "settings": settings(&e.swept),
                    "step": e.step,
                    "steps": e.steps,
                    "best": e.best,
                    "value": e.value,
                    "best_val_acc": e.best_val_acc,
                    "best_test_acc": e.best_test_acc,
                    "final_test_acc": e.final_test_acc,
                    "final_val_acc": e.final_val_acc,
                    "seconds": e.seconds,
                    "pruned_at": e.pruned_at,
                    "pruner": e.pruner,
                    "source": e.source,
                    "worker": e.worker,
                })
            })
            .collect();
        let groups: Vec<serde_json::Value> = self
            .groups
            .iter()
            .map(|g| {
                serde_json::json!({
                    "group": g.group,
                    "label": g.label,
                    "settings": settings(&g.settings),
                    "runs": g.runs,
                    "n": g.n,
                    "best_mean": g.best_mean,
                    "best_std": g.best_std,
                    "value_mean": g.value_mean,
                    "value_std": g.value_std,
                    "final_mean": g.final_mean,
                    "final_std": g.final_std,
                })
            })
            .collect();
        let importance: serde_json::Map<String, serde_json::Value> = self
            .importance
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::json!(v)))
            .collect();
        serde_json::json!({
            "sweep_id": self.id,
            "name": self.name,
            "status": self.status.as_str(),
            "objective": self.objective.as_ref().map_or("test_acc", |o| o.name()),
            "direction": self.objective.as_ref().map_or("max", |o| o.direction()),
            "objective_at": self.objective_at.name(),
            "sampler": self.sampler,
            "pruner": self.pruner,
            "seeds": self.seeds,
            "swept_keys": self.swept_keys,
            "trials": trials,
            "groups": groups,
            "importance": importance,
            "importance_basis": self.importance_basis,
            "importance_method": self.importance_method,
            "steps_spent": self.budget.steps_spent,
            "steps_unpruned": self.budget.steps_unpruned,
            "seconds_spent": self.budget.seconds_spent,
            "seconds_unpruned": self.budget.seconds_unpruned,
            "best": self.best_member().map(|e| serde_json::json!({
                "index": e.index, "run_id": e.run_id(), "best": e.best, "value": e.value,
                "group": e.group, "best_test_acc": e.best_test_acc,
            })),
            "notice": self.notice,
            "job": self.job,
        })
    }

    /// The results as Markdown: how it searched, the budget, the runs, the groups, what
    /// mattered, the parallel-coordinates figure.
    pub fn markdown(&self) -> String {
        let objective = self.objective.clone().unwrap_or(Objective::TestAcc);
        let mut out = format!("# Sweep {}\n\n", self.id);
        out.push_str(&match &objective {
            Objective::Metric { name, minimize } => format!(
                "Chosen on {name} as the command reported it ({} is better).\n\n",
                if *minimize { "smaller" } else { "larger" }
            ),
            Objective::ValAcc => "Chosen on validation accuracy (held-out training images); test accuracy is shown beside it and never used to choose.\n\n".to_string(),
            Objective::TestAcc => "Chosen on test accuracy: no validation split (the lab's protocol).\n\n".to_string(),
        });
        out.push_str(&format!(
            "A run's figure: {}.\n\n",
            self.objective_at_text()
        ));
        out.push_str(&format!(
            "- status: {}\n- sampler: {}; pruner: {}; seeds: {}\n- budget: {}\n",
            self.status.as_str(),
            self.sampler,
            self.pruner,
            self.seeds,
            self.budget_text()
        ));
        if let Some(n) = &self.notice {
            out.push_str(&format!("- note: {n}\n"));
        }
        let table = self.result_rows(false);
        let obj = objective.label();
        let ranked = self.value_header();
        if table.on_metric {
            out.push_str(&format!(
                "\n## Runs\n\n| # | run | settings | status | steps | {ranked} | seconds |\n|---|---|---|---|---|---|---|\n"
            ));
            for r in &table.rows {
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} |\n",
                    r.entry.index, r.run, r.entry.label, r.status, r.entry.step, r.value, r.seconds
                ));
            }
        } else {
            out.push_str(&format!(
                "\n## Runs\n\n| # | run | settings | status | steps | {ranked} |"
            ));
            if table.on_val {
                out.push_str(" best test acc |");
            }
            out.push_str(" final test acc |");
            out.push_str(if table.with_expected {
                " expected |"
            } else {
                ""
            });
            out.push_str(" seconds |\n|---|---|---|---|---|---|");
            if table.on_val {
                out.push_str("---|");
            }
            out.push_str("---|");
            out.push_str(if table.with_expected { "---|" } else { "" });
            out.push_str("---|\n");
            for r in &table.rows {
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} |",
                    r.entry.index, r.run, r.entry.label, r.status, r.entry.step, r.value
                ));
                if table.on_val {
                    out.push_str(&format!(" {} |", r.best_test));
                }
                out.push_str(&format!(" {} |", r.final_test));
                if table.with_expected {
                    out.push_str(&format!(" {} |", r.expected));
                }
                out.push_str(&format!(" {} |\n", r.seconds));
            }
        }
        if self.seeds > 1 && !self.groups.is_empty() {
            out.push_str(&format!(
                "\n## Groups (runs that differ only by seed)\n\n| group | settings | n | {ranked} mean | std | final test acc mean | std |\n|---|---|---|---|---|---|---|\n"
            ));
            let groups = self.ranked_groups();
            for g in groups {
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} |\n",
                    g.group,
                    g.label,
                    g.n,
                    figure(g.value_mean),
                    figure(g.value_std.filter(|_| g.n > 1)),
                    figure(g.final_mean),
                    figure(g.final_std.filter(|_| g.n > 1))
                ));
            }
        }
        if !self.importance.is_empty() {
            out.push_str(&format!(
                "\n## What mattered ({} of {obj}, on {})\n\n| key | share |  |\n|---|---|---|\n",
                self.importance_method, self.importance_basis
            ));
            for (k, share) in &self.importance {
                out.push_str(&format!(
                    "| {k} | {share:.3} | `{}` |\n",
                    bar(*share, 40, '#')
                ));
            }
        } else if !self.importance_basis.is_empty() {
            out.push_str(&format!(
                "\n## What mattered\n\n{}\n",
                self.importance_basis
            ));
        }
        if !self.best_so_far().is_empty() {
            out.push_str(&format!(
                "\n## History\n\n![optimisation history and intermediate values]({})\n",
                super::history_figure::HISTORY_SVG
            ));
        }
        if !self.axes.params.is_empty() {
            out.push_str(&format!(
                "\n## Parallel coordinates\n\n![parallel coordinates]({})\n",
                super::folder::PARALLEL_SVG
            ));
        }
        out
    }
}

/// A share as a bar of `width` characters at most.
pub fn bar(share: f64, width: usize, mark: char) -> String {
    let n = (share.clamp(0.0, 1.0) * width as f64).round() as usize;
    std::iter::repeat_n(mark, n).collect()
}

/// A setting's value as JSON: numbers as numbers, other text as it is.
fn settings_value(key: &str, text: &str) -> serde_json::Value {
    if key == "hidden" {
        return serde_json::json!(text);
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => serde_json::json!(v),
        _ => serde_json::json!(text),
    }
}

/// Run `index`'s row.
fn entry(book: &Book, local: &Local, index: usize, running_here: bool) -> QueueEntry {
    let group = index / book.meta.seeds.max(1);
    let conf = book.group(group);
    let mut state = book.status(index);
    if state == QueueState::Pending {
        let task = local.queued.get(&index).map(String::as_str);
        if local.claimed.contains(&index) || matches!(task, Some("RUNNING" | "COMPLETING")) {
            state = QueueState::Running {
                run_id: String::new(),
            };
        } else if !running_here || (local.job.is_some() && task.is_none()) {
            state = QueueState::Cancelled;
        }
    }
    // A run whose task the scheduler still holds will go on: a requeue, not an end.
    let waits = local.queued.contains_key(&index);
    state = match state {
        QueueState::Ended {
            run_id,
            status: RunStatus::Stopped,
            ..
        }
        | QueueState::Crashed { run_id }
            if waits =>
        {
            QueueState::Requeued { run_id }
        }
        other => other,
    };
    let run = book.run(index);
    let mut swept = conf.map(|c| c.swept.clone()).unwrap_or_default();
    let mut label = conf.map(|c| c.label.clone()).unwrap_or_default();
    let seed = run
        .map(|r| r.config.seed)
        .or_else(|| book.trial(index).and_then(|t| t.seed));
    if let (true, Some(seed)) = (book.meta.seeds > 1, seed) {
        swept.push(("seed".into(), seed.to_string()));
        label.push_str(&format!(" seed={seed}"));
    }
    if label.is_empty() {
        label = format!("trial {index}");
    }
    let pruner = book
        .rungs_of(index)
        .last()
        .map(|r| {
            crate::search::asha::RungDecision {
                rung: r.rung,
                rung_step: r.rung_step,
                value: r.value,
                cutoff: r.cutoff,
                competitors: r.competitors,
                keep: r.keep,
                promoted: r.promoted,
            }
            .text_as(book.meta.objective.score(1.0))
        })
        .or_else(|| local.notes.get(&index).cloned())
        .or_else(|| {
            run.and_then(|r| {
                r.pruned_at
                    .and(r.ended.as_ref().and_then(|e| e.reason.clone()))
            })
        });
    let live = matches!(state, QueueState::Running { .. });
    QueueEntry {
        index,
        group,
        label,
        swept,
        state,
        // A command's trial counts in its objective's steps (its other figures may count
        // batches).
        step: match (&book.meta.objective, run) {
            (Objective::Metric { name, .. }, Some(r)) => r
                .scalars
                .get(name)
                .and_then(|c| c.iter().map(|p| p.0).max())
                .unwrap_or(0),
            (_, r) => r.map_or(0, |r| r.step.saturating_sub(r.first_step)),
        },
        steps: run.map_or(book.meta.steps, |r| r.config.steps),
        curve: book
            .curve(index)
            .into_iter()
            .map(|(s, v)| (s, book.meta.objective.score(v)))
            .collect(),
        best: book.best(index).map(|v| book.meta.objective.score(v)),
        value: book.value(index).map(|v| book.meta.objective.score(v)),
        best_val_acc: run.and_then(|r| r.best_val_acc()),
        final_val_acc: run.and_then(|r| r.final_val_acc()),
        best_test_acc: run.and_then(|r| r.best_test_acc()),
        final_test_acc: run.and_then(|r| r.final_test_acc()),
        // Only a live run's clock runs on; a crashed one's stopped at its last event.
        seconds: run.map(|r| {
            r.elapsed(if live {
                crate::events::unix_now()
            } else {
                r.last_time
            })
        }),
        span: run.map(|r| {
            let end = if live {
                crate::events::unix_now()
            } else {
                r.last_time
            };
            (r.started, end.max(r.started))
        }),
        worker: book.trial(index).and_then(|t| t.worker.clone()),
        expected: conf.and_then(|c| c.expected),
        pruner,
        pruned_at: run.and_then(|r| r.pruned_at),
        source: conf.map(|c| c.source.clone()).unwrap_or_default(),
    }
}
