//! The median pruner (Optuna's `MedianPruner`): after its warm-up evaluations, a run whose
//! best test accuracy so far is below the median of the completed earlier runs' test accuracy
//! at the same step is stopped.

use crate::config::sweep::PrunerSpec;

/// What the pruner decided at one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Not judged: still warming up, or too few earlier runs reached this step.
    Waiting(String),
    /// At or above the median.
    Keep(String),
    /// Below the median: stop it.
    Prune(String),
}

impl Verdict {
    /// The decision in words, for the queue and the `prune` event.
    pub fn text(&self) -> &str {
        match self {
            Verdict::Waiting(t) | Verdict::Keep(t) | Verdict::Prune(t) => t,
        }
    }
}

/// A sweep's median pruner: the evaluation curves of its completed runs.
#[derive(Debug, Clone, Default)]
pub struct MedianPruner {
    spec: PrunerSpec,
    completed: Vec<Vec<(usize, f64)>>,
}

impl MedianPruner {
    /// A pruner with no completed runs yet.
    pub fn new(spec: PrunerSpec) -> Self {
        MedianPruner {
            spec,
            completed: Vec::new(),
        }
    }

    /// Adds a completed run's (step, test accuracy) curve; stopped, pruned or failed runs are
    /// not counted, as in Optuna.
    pub fn record_completed(&mut self, curve: Vec<(usize, f64)>) {
        self.completed.push(curve);
    }

    /// Judges a run from its evaluations so far (the last one is the newest).
    pub fn judge(&self, curve: &[(usize, f64)]) -> Verdict {
        let Some(&(step, _)) = curve.last() else {
            return Verdict::Waiting("no evaluation yet".into());
        };
        if curve.len() <= self.spec.warmup_evals {
            return Verdict::Waiting(format!(
                "step {step}: warm-up ({} of {} evaluations)",
                curve.len(),
                self.spec.warmup_evals
            ));
        }
        let mut others: Vec<f64> = self
            .completed
            .iter()
            .filter_map(|c| c.iter().find(|p| p.0 == step).map(|p| p.1))
            .collect();
        if others.len() < self.spec.min_runs {
            return Verdict::Waiting(format!(
                "step {step}: {} earlier run(s) reached it, {} needed",
                others.len(),
                self.spec.min_runs
            ));
        }
        let median = median(&mut others);
        let best = curve.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let n = others.len();
        if best < median {
            Verdict::Prune(format!(
                "pruned at step {step}: best test acc {best:.4} below the median {median:.4} of {n} earlier runs"
            ))
        } else {
            Verdict::Keep(format!(
                "kept at step {step}: best test acc {best:.4}, median {median:.4} of {n}"
            ))
        }
    }
}

/// The median (mean of the middle two for an even count).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}
