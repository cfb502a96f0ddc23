//! A sweep's state read from its folder: its configurations, its runs' records and each
//! run's events folded (`RunState`), and the rung decisions. Every process that runs or shows
//! a sweep keeps one and refreshes it (reading only what changed), and the sampler and the
//! pruners read the sweep through it: a sweep behaves the same wherever its runs train.

use super::folder::{
    Mark, RungRecord, SweepFolder, SweepMeta, TrialRecord, GROUPS_DIR, RUNGS_FILE, TRIALS_DIR,
};
use super::QueueState;
use crate::config::sweep::{Configuration, Objective, ObjectiveAt};
use crate::events::RunStatus;
use crate::runs::{Follower, RunState};
use crate::search::stats::mean;
use crate::search::tpe::{Observation, Outcome};
use crate::search::Space;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

/// A followed run: where its events file was read to, and its fold.
struct Followed {
    follower: Follower,
    state: RunState,
}

/// The fold of a sweep's folder.
pub struct Book {
    folder: SweepFolder,
    runs_dir: PathBuf,
    /// What the plan settled.
    pub meta: SweepMeta,
    groups: BTreeMap<usize, Configuration>,
    trials: BTreeMap<usize, TrialRecord>,
    rungs: Vec<RungRecord>,
    rungs_read: u64,
    runs: HashMap<String, Followed>,
    seen_groups: HashMap<String, SystemTime>,
    seen_trials: HashMap<String, SystemTime>,
    refreshed: Option<Instant>,
}

impl Book {
    /// A book of `folder`, read at once.
    pub fn open(folder: SweepFolder, meta: SweepMeta) -> Self {
        let mut book = Book {
            runs_dir: folder.runs_dir(),
            folder,
            meta,
            groups: BTreeMap::new(),
            trials: BTreeMap::new(),
            rungs: Vec::new(),
            rungs_read: 0,
            runs: HashMap::new(),
            seen_groups: HashMap::new(),
            seen_trials: HashMap::new(),
            refreshed: None,
        };
        book.refresh();
        book
    }

    /// The folder.
    pub fn folder(&self) -> &SweepFolder {
        &self.folder
    }

    /// Reads what changed: new or rewritten records, new rung lines, new run events.
    pub fn refresh(&mut self) {
        for conf in self
            .folder
            .read_changed::<Configuration>(GROUPS_DIR, &mut self.seen_groups)
        {
            self.groups.insert(conf.group, conf);
        }
        for record in self
            .folder
            .read_changed::<TrialRecord>(TRIALS_DIR, &mut self.seen_trials)
        {
            self.trials.insert(record.index, record);
        }
        self.read_rungs();
        for record in self.trials.values() {
            let Some(run_id) = &record.run_id else {
                continue;
            };
            let followed = self.runs.entry(run_id.clone()).or_insert_with(|| Followed {
                follower: Follower::new(&self.runs_dir.join(run_id)),
                state: RunState::new(run_id, Default::default()),
            });
            if followed.state.ended.is_some() {
                continue;
            }
            if let Ok(events) = followed.follower.poll() {
                for e in &events {
                    followed.state.apply(e);
                }
            }
        }
        self.refreshed = Some(Instant::now());
    }

    /// Refreshes when the last refresh is older than `max_age`.
    pub fn refresh_if_older(&mut self, max_age: std::time::Duration) {
        if self.refreshed.is_none_or(|t| t.elapsed() >= max_age) {
            self.refresh();
        }
    }

    fn read_rungs(&mut self) {
        let path = self.folder.dir().join(RUNGS_FILE);
        let Ok(text) = crate::runs::new_lines(&path, &mut self.rungs_read) else {
            return;
        };
        for line in text.lines() {
            if let Ok(r) = serde_json::from_str::<RungRecord>(line) {
                self.rungs.push(r);
            }
        }
    }

    /// Configuration `group`, once chosen.
    pub fn group(&self, group: usize) -> Option<&Configuration> {
        self.groups.get(&group)
    }

    /// Every chosen configuration.
    pub fn groups(&self) -> impl Iterator<Item = &Configuration> {
        self.groups.values()
    }

    /// Run `index`'s record.
    pub fn trial(&self, index: usize) -> Option<&TrialRecord> {
        self.trials.get(&index)
    }

    /// Run `index`'s events folded, once started.
    pub fn run(&self, index: usize) -> Option<&RunState> {
        let run_id = self.trials.get(&index)?.run_id.as_ref()?;
        self.runs.get(run_id).map(|f| &f.state)
    }

    /// Where run `index` stands as the folder tells it: a started run without `done` whose
    /// folder no process holds crashed.
    pub fn status(&self, index: usize) -> QueueState {
        let Some(record) = self.trials.get(&index) else {
            return QueueState::Pending;
        };
        match (&record.mark, &record.run_id) {
            (Mark::Cancelled, _) => QueueState::Cancelled,
            (Mark::Refused, _) => QueueState::Refused {
                reason: record.reason.clone().unwrap_or_default(),
            },
            (Mark::Started, None) => QueueState::Pending,
            (Mark::Started, Some(run_id)) => match self.run(index).and_then(|r| r.ended.as_ref()) {
                Some(end) => QueueState::Ended {
                    run_id: run_id.clone(),
                    status: end.status,
                    reason: end.reason.clone(),
                },
                None if crate::runs::lock_held(&self.runs_dir.join(run_id)) => {
                    QueueState::Running {
                        run_id: run_id.clone(),
                    }
                }
                None => QueueState::Crashed {
                    run_id: run_id.clone(),
                },
            },
        }
    }

    /// Run `index`'s evaluations of the objective as the sweep ranks them, larger better (a
    /// minimised metric negated: `Objective::score`): (step, score).
    pub fn curve(&self, index: usize) -> Vec<(usize, f64)> {
        let Some(run) = self.run(index) else {
            return Vec::new();
        };
        let score = |step: usize, v: f64| (step, self.meta.objective.score(v));
        let accuracy = |points: &[(f64, f64)]| -> Vec<(usize, f64)> {
            points.iter().map(|p| score(p.0 as usize, p.1)).collect()
        };
        match &self.meta.objective {
            Objective::ValAcc => accuracy(&run.curves.val_acc),
            Objective::TestAcc => accuracy(&run.curves.test_acc),
            Objective::Metric { name, .. } => run
                .scalars
                .get(name)
                .map(|v| v.iter().map(|&(s, x)| score(s, x)).collect())
                .unwrap_or_default(),
        }
    }

    /// Run `index`'s best score of the objective (larger better).
    pub fn best(&self, index: usize) -> Option<f64> {
        let run = self.run(index)?;
        match &self.meta.objective {
            Objective::ValAcc => run.best_val_acc(),
            Objective::TestAcc => run.best_test_acc(),
            Objective::Metric { name, .. } => run
                .scalars
                .get(name)?
                .iter()
                .map(|p| self.meta.objective.score(p.1))
                .filter(|v| v.is_finite())
                .reduce(f64::max),
        }
    }

    /// Run `index`'s figure of the objective as the sweep ranks it (larger better): its
    /// evaluations reduced as `objective_at` says (the peak, the last, the mean of the last k).
    pub fn value(&self, index: usize) -> Option<f64> {
        match self.meta.objective_at {
            ObjectiveAt::Best => self.best(index),
            at => {
                let scores: Vec<f64> = self.curve(index).into_iter().map(|p| p.1).collect();
                at.reduce(&scores)
            }
        }
    }

    /// The runs of configuration `group`.
    pub fn members(&self, group: usize) -> std::ops::Range<usize> {
        let seeds = self.meta.seeds.max(1);
        group * seeds..(group + 1) * seeds
    }

    /// How configuration `group` stands for the sampler: running until all its seeds have
    /// ended; then complete with the mean of its completed (or diverged) runs' figures,
    /// or pruned; `None` when no run of it ended with a figure (failed, stopped, crashed,
    /// cancelled: not counted, as Optuna leaves out failed trials).
    pub fn outcome(&self, group: usize) -> Option<Outcome> {
        let mut complete = Vec::new();
        let mut pruned: Vec<(usize, f64)> = Vec::new();
        for i in self.members(group) {
            match self.status(i) {
                QueueState::Pending | QueueState::Running { .. } => return Some(Outcome::Running),
                QueueState::Ended { status, .. } => match status {
                    RunStatus::Completed | RunStatus::Diverged => {
                        complete.push(self.value(i).unwrap_or(0.0))
                    }
                    RunStatus::Pruned => {
                        if let Some(&last) = self.curve(i).last() {
                            pruned.push(last);
                        }
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        if let Some(m) = mean(&complete) {
            return Some(Outcome::Complete(m));
        }
        let step = pruned.iter().map(|p| p.0).max()?;
        let values: Vec<f64> = pruned.iter().map(|p| p.1).collect();
        Some(Outcome::Pruned {
            step,
            value: mean(&values).unwrap_or(0.0),
        })
    }

    /// The mean figure (`value`) of configuration `group`'s completed runs, once all its runs have
    /// ended (what importance is measured on: diverged and failed runs left out, as Optuna
    /// leaves out failed trials).
    pub fn completed_mean(&self, group: usize) -> Option<f64> {
        let mut best = Vec::new();
        for i in self.members(group) {
            match self.status(i) {
                QueueState::Pending | QueueState::Running { .. } => return None,
                QueueState::Ended {
                    status: RunStatus::Completed,
                    ..
                } => best.push(self.value(i)?),
                _ => {}
            }
        }
        mean(&best)
    }

    /// What the sampler learns from: every chosen configuration but `except`, in order, as a
    /// point of `space` with its outcome.
    pub fn observations(&self, space: &Space, except: usize) -> Vec<Observation> {
        self.groups
            .values()
            .filter(|c| c.group != except)
            .filter_map(|c| {
                let point = space.read(&c.swept)?;
                let outcome = self.outcome(c.group)?;
                Some(Observation { point, outcome })
            })
            .collect()
    }

    /// Rung decisions of run `index`, in order.
    pub fn rungs_of(&self, index: usize) -> impl Iterator<Item = &RungRecord> {
        self.rungs.iter().filter(move |r| r.index == index)
    }

    /// Every rung decision.
    pub fn rungs(&self) -> &[RungRecord] {
        &self.rungs
    }

    /// The figures at `rung`, one a configuration (the mean of its runs' own figures, each
    /// run counted once), leaving out configuration `except`.
    pub fn rung_values(&self, rung: usize, except: usize) -> Vec<f64> {
        let mut by_group: BTreeMap<usize, BTreeMap<usize, f64>> = BTreeMap::new();
        for r in self
            .rungs
            .iter()
            .filter(|r| r.rung == rung && r.group != except)
        {
            by_group
                .entry(r.group)
                .or_default()
                .insert(r.index, r.own_value());
        }
        by_group
            .values()
            .filter_map(|runs| mean(&runs.values().copied().collect::<Vec<_>>()))
            .collect()
    }

    /// The own figures that configuration `group`'s other runs (not `index`) recorded at
    /// `rung`, one a run.
    pub fn group_rung_values(&self, group: usize, rung: usize, index: usize) -> Vec<f64> {
        let runs: BTreeMap<usize, f64> = self
            .rungs
            .iter()
            .filter(|r| r.group == group && r.rung == rung && r.index != index)
            .map(|r| (r.index, r.own_value()))
            .collect();
        runs.into_values().collect()
    }
}
