//! Asynchronous successive halving (Optuna's `SuccessiveHalvingPruner`, Ray's ASHA): rungs at
//! `min_steps * eta^k` steps. A trial that reaches a rung records its figure there and goes on
//! only if that figure is among the top 1/eta of every figure recorded at the rung so far
//! (its own included; the first trials to arrive, fewer than eta, go on when they are the
//! best so far). Nothing waits: a rung is judged with whatever has reached it.

/// The pruner's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asha {
    /// The reduction factor: a rung keeps 1/eta of the trials.
    pub eta: usize,
    /// Steps of the first rung.
    pub min_steps: usize,
}

/// One decision at one rung.
#[derive(Debug, Clone, PartialEq)]
pub struct RungDecision {
    /// The rung, from 0.
    pub rung: usize,
    /// The rung's step.
    pub rung_step: usize,
    /// The trial's figure recorded there.
    pub value: f64,
    /// The figure it had to reach (the top 1/eta's lowest).
    pub cutoff: f64,
    /// Figures recorded at the rung, its own included.
    pub competitors: usize,
    /// How many of them the rung keeps.
    pub keep: usize,
    /// Whether it goes on.
    pub promoted: bool,
}

impl RungDecision {
    /// The decision in words, for the queue and the `prune` event.
    pub fn text(&self) -> String {
        self.text_as(1.0)
    }

    /// The decision in words, its figures `sign` times the scores (-1 for a minimised
    /// metric).
    pub fn text_as(&self, sign: f64) -> String {
        let verb = if self.promoted { "promoted" } else { "pruned" };
        let top = if self.promoted { "in" } else { "outside" };
        let top = if sign > 0.0 && !self.promoted {
            "below"
        } else {
            top
        };
        format!(
            "{verb} at rung {} (step {}): {:.4} {top} the top {} of {} (cutoff {:.4})",
            self.rung,
            self.rung_step,
            sign * self.value,
            self.keep,
            self.competitors,
            sign * self.cutoff
        )
    }
}

impl Asha {
    /// The step of rung `k`; `None` past what a step count can hold.
    pub fn rung_step(&self, k: usize) -> Option<usize> {
        let power = self.eta.checked_pow(u32::try_from(k).ok()?)?;
        self.min_steps.checked_mul(power)
    }

    /// The decisions for a trial that has passed `passed` rungs and now has `value` after
    /// `step`: one a rung it reaches, until one does not promote it. `recorded(k)` gives the
    /// figures other trials recorded at rung k. A non-finite value is pruned at once.
    pub fn judge(
        &self,
        passed: usize,
        step: usize,
        value: f64,
        recorded: impl Fn(usize) -> Vec<f64>,
    ) -> Vec<RungDecision> {
        let mut decisions = Vec::new();
        let mut rung = passed;
        while let Some(rung_step) = self.rung_step(rung).filter(|&s| step >= s) {
            let mut figures = recorded(rung);
            figures.push(value);
            figures.sort_by(|a, b| b.total_cmp(a));
            let keep = (figures.len() / self.eta.max(1)).max(1);
            let cutoff = figures[keep - 1];
            let promoted = value.is_finite() && value >= cutoff;
            decisions.push(RungDecision {
                rung,
                rung_step,
                value,
                cutoff,
                competitors: figures.len(),
                keep,
                promoted,
            });
            if !promoted {
                break;
            }
            rung += 1;
        }
        decisions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotions_match_a_hand_worked_example() {
        // eta 3, rungs at 100, 300, 900 steps. Trials arrive in order A..F at rung 0 with
        // 0.30, 0.20, 0.40, 0.10, 0.35, 0.25.
        let asha = Asha {
            eta: 3,
            min_steps: 100,
        };
        assert_eq!(asha.rung_step(0), Some(100));
        assert_eq!(asha.rung_step(2), Some(900));
        let arrivals = [0.30, 0.20, 0.40, 0.10, 0.35, 0.25];
        let mut rung0: Vec<f64> = Vec::new();
        let mut promoted = Vec::new();
        for v in arrivals {
            let d = asha.judge(0, 100, v, |_| rung0.clone());
            assert_eq!(d.len(), 1);
            promoted.push(d[0].promoted);
            rung0.push(v);
        }
        // A: alone, best so far, goes on. B: 2 figures, keep 1 (0.30): pruned. C: best of 3,
        // keep 1: goes on. D: 4 figures keep 1 (0.40): pruned. E: 5 keep 1: pruned (0.35 <
        // 0.40). F: 6 keep 2 (0.40, 0.35): pruned.
        assert_eq!(promoted, [true, false, true, false, false, false]);
        // A trial at step 300 with 0.5 passes rung 0 and rung 1 in one evaluation.
        let d = asha.judge(
            0,
            300,
            0.5,
            |k| if k == 0 { rung0.clone() } else { vec![0.3] },
        );
        assert_eq!(d.len(), 2);
        assert!(d.iter().all(|d| d.promoted));
        assert_eq!((d[1].rung, d[1].competitors, d[1].cutoff), (1, 2, 0.5));
        // Before its next rung nothing is decided.
        assert!(asha.judge(2, 800, 0.1, |_| vec![0.9]).is_empty());
        // A non-finite figure is pruned.
        assert!(!asha.judge(0, 100, f64::NAN, |_| vec![])[0].promoted);
    }

    #[test]
    fn decisions_read_as_the_rung_the_cutoff_and_the_figure() {
        let asha = Asha {
            eta: 3,
            min_steps: 100,
        };
        let d = &asha.judge(0, 100, 0.2, |_| vec![0.5, 0.4, 0.3, 0.1, 0.6])[0];
        assert!(!d.promoted);
        assert_eq!(
            d.text(),
            "pruned at rung 0 (step 100): 0.2000 below the top 2 of 6 (cutoff 0.5000)"
        );
    }
}
