//! The median pruner (Optuna's `MedianPruner`): after its warm-up evaluations, a trial whose
//! best figure so far is below the median of the finished trials' figures at the same step
//! is stopped.

use super::stats::median;

/// The pruner's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Median {
    /// Evaluations of a trial that are never judged (Optuna's `n_warmup_steps`, in
    /// evaluations).
    pub warmup_evals: usize,
    /// Finished trials with a figure at the step needed before a trial is judged (Optuna's
    /// `n_startup_trials`).
    pub min_runs: usize,
}

impl Default for Median {
    fn default() -> Self {
        Median {
            warmup_evals: 1,
            min_runs: 2,
        }
    }
}

/// What the pruner decided at one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Not judged: still warming up, or too few finished trials reached this step.
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

impl Median {
    /// Judges a trial from its evaluations so far (step, figure; the last is the newest),
    /// against the figures at that step of the finished trials (`finished_at`).
    pub fn judge(&self, curve: &[(usize, f64)], finished_at: &[f64], figure: &str) -> Verdict {
        self.judge_as(curve, finished_at, figure, 1.0)
    }

    /// `judge` on scores (larger better) whose figures are `sign` times the scores (-1 for a
    /// minimised metric): the words show the figures, the word "best" and "worse" as they are.
    pub fn judge_as(
        &self,
        curve: &[(usize, f64)],
        finished_at: &[f64],
        figure: &str,
        sign: f64,
    ) -> Verdict {
        let Some(&(step, _)) = curve.last() else {
            return Verdict::Waiting("no evaluation yet".into());
        };
        if curve.len() <= self.warmup_evals {
            return Verdict::Waiting(format!(
                "step {step}: warm-up ({} of {} evaluations)",
                curve.len(),
                self.warmup_evals
            ));
        }
        if finished_at.len() < self.min_runs {
            return Verdict::Waiting(format!(
                "step {step}: {} earlier run(s) reached it, {} needed",
                finished_at.len(),
                self.min_runs
            ));
        }
        let median = median(finished_at).unwrap_or(f64::NAN);
        let best = curve.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let n = finished_at.len();
        let (shown, shown_median) = (sign * best, sign * median);
        let worse = if sign < 0.0 { "above" } else { "below" };
        if best < median || !best.is_finite() {
            Verdict::Prune(format!(
                "pruned at step {step}: best {figure} {shown:.4} {worse} the median {shown_median:.4} of {n} earlier runs"
            ))
        } else {
            Verdict::Keep(format!(
                "kept at step {step}: best {figure} {shown:.4}, median {shown_median:.4} of {n}"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trial_below_the_median_of_finished_ones_is_pruned_after_its_warm_up() {
        let m = Median::default();
        let at = [0.30, 0.40, 0.50];
        assert!(matches!(
            m.judge(&[(100, 0.1)], &at, "val acc"),
            Verdict::Waiting(_)
        ));
        assert!(matches!(
            m.judge(&[(100, 0.1), (200, 0.2)], &at[..1], "val acc"),
            Verdict::Waiting(_)
        ));
        let v = m.judge(&[(100, 0.1), (200, 0.2)], &at, "val acc");
        assert_eq!(
            v.text(),
            "pruned at step 200: best val acc 0.2000 below the median 0.4000 of 3 earlier runs"
        );
        assert!(matches!(
            m.judge(&[(100, 0.45), (200, 0.2)], &at, "val acc"),
            Verdict::Keep(_)
        ));
    }
}
