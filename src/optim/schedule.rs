//! Learning-rate schedules: the factor that multiplies the run's `lr` at each step. A live
//! change of `lr` changes the base, so the rest of the schedule is scaled by it.

use crate::config::{RunConfig, Schedule};
use std::f64::consts::PI;

/// One-cycle's start is the peak over this (PyTorch's `div_factor`).
pub const ONECYCLE_DIV: f64 = 25.0;
/// One-cycle's end is its start over this (PyTorch's `final_div_factor`).
pub const ONECYCLE_FINAL_DIV: f64 = 1e4;
/// One-cycle's rise when `warmup_steps` is 0, as a fraction of the run (PyTorch's `pct_start`).
pub const ONECYCLE_RISE: f64 = 0.3;

/// The triangle's start, as a fraction of the peak.
pub const TRIANGLE_START: f64 = 0.2;
/// The triangle's end, as a fraction of the peak.
pub const TRIANGLE_END: f64 = 0.07;
/// The triangle's rise when `warmup_steps` is 0, as a fraction of the run.
pub const TRIANGLE_RISE: f64 = 0.23;

/// A run's schedule: which one, over how many steps, with what warm-up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LrSchedule {
    kind: Schedule,
    steps: usize,
    warmup: usize,
    decay_every: usize,
    decay_factor: f64,
}

impl LrSchedule {
    /// The schedule of `config` over its `steps`.
    pub fn new(config: &RunConfig) -> Self {
        let steps = config.steps.max(1);
        let warmup = match config.schedule {
            Schedule::Onecycle if config.warmup_steps == 0 => {
                ((steps as f64 * ONECYCLE_RISE).round() as usize).max(1)
            }
            Schedule::Triangle if config.warmup_steps == 0 => {
                ((steps as f64 * TRIANGLE_RISE) as usize).max(1)
            }
            _ => config.warmup_steps,
        }
        .min(steps);
        LrSchedule {
            kind: config.schedule,
            steps,
            warmup,
            decay_every: config.decay_every.max(1),
            decay_factor: config.decay_factor,
        }
    }

    /// Steps of the run the schedule spans.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The factor of `lr` for the run's step `t` (1-based: the first step is 1).
    pub fn factor(&self, t: usize) -> f64 {
        let t = t.clamp(1, self.steps);
        let (w, n) = (self.warmup, self.steps);
        if self.kind == Schedule::Onecycle {
            let start = 1.0 / ONECYCLE_DIV;
            let end = start / ONECYCLE_FINAL_DIV;
            return if t <= w {
                start + (1.0 - start) * t as f64 / w as f64
            } else {
                end + (1.0 - end) * cosine((t - w) as f64 / (n - w).max(1) as f64)
            };
        }
        if self.kind == Schedule::Triangle {
            // airbench counts from step 0: the factor at its step t - 1.
            let s = (t - 1) as f64;
            return if t <= w {
                TRIANGLE_START + (1.0 - TRIANGLE_START) * s / w as f64
            } else {
                1.0 - (1.0 - TRIANGLE_END) * (s - w as f64) / (n - w).max(1) as f64
            };
        }
        if t <= w {
            return t as f64 / w as f64;
        }
        let after = (t - w) as f64;
        match self.kind {
            Schedule::Constant | Schedule::Onecycle | Schedule::Triangle => 1.0,
            Schedule::Step => self
                .decay_factor
                .powi(((t - w - 1) / self.decay_every) as i32),
            Schedule::Cosine => cosine(after / (n - w).max(1) as f64),
            Schedule::Linear => 1.0 - after / (n - w).max(1) as f64,
        }
    }

    /// The factor at `points` steps spread over the run, first and last included, for charts.
    pub fn curve(&self, points: usize) -> Vec<(usize, f64)> {
        let points = points.clamp(2, self.steps.max(2));
        let mut out: Vec<(usize, f64)> = (0..points)
            .map(|i| {
                let t = 1 + i * (self.steps - 1) / (points - 1);
                (t, self.factor(t))
            })
            .collect();
        out.dedup_by_key(|p| p.0);
        out
    }
}

/// Half a cosine from 1 at `x` = 0 down to 0 at `x` = 1.
fn cosine(x: f64) -> f64 {
    0.5 * (1.0 + (PI * x.clamp(0.0, 1.0)).cos())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(sets: &[&str]) -> LrSchedule {
        let mut c = RunConfig::default();
        for s in sets {
            c.apply_override(s).unwrap();
        }
        LrSchedule::new(&c)
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }

    #[test]
    fn triangle_rises_from_a_fifth_and_falls_to_seven_hundredths() {
        let s = schedule(&["steps=100", "schedule=triangle"]);
        close(s.factor(1), 0.2);
        close(s.factor(24), 1.0);
        close(s.factor(100), 1.0 - 0.93 * 76.0 / 77.0);
        assert!(s.factor(12) > 0.2 && s.factor(12) < 1.0);
        let w = schedule(&["steps=100", "schedule=triangle", "warmup_steps=10"]);
        close(w.factor(11), 1.0);
    }

    #[test]
    fn constant_with_warmup_ramps_linearly_then_holds() {
        let s = schedule(&["steps=100", "warmup_steps=10"]);
        close(s.factor(1), 0.1);
        close(s.factor(5), 0.5);
        close(s.factor(10), 1.0);
        close(s.factor(11), 1.0);
        close(s.factor(100), 1.0);
        close(schedule(&["steps=100"]).factor(1), 1.0);
    }

    #[test]
    fn step_decay_multiplies_every_decay_every_steps_after_the_warmup() {
        let s = schedule(&[
            "steps=100",
            "schedule=step",
            "decay_every=30",
            "decay_factor=0.5",
        ]);
        close(s.factor(1), 1.0);
        close(s.factor(30), 1.0);
        close(s.factor(31), 0.5);
        close(s.factor(61), 0.25);
        close(s.factor(100), 0.125);
        let w = schedule(&[
            "steps=100",
            "schedule=step",
            "decay_every=30",
            "decay_factor=0.5",
            "warmup_steps=10",
        ]);
        close(w.factor(40), 1.0);
        close(w.factor(41), 0.5);
    }

    #[test]
    fn cosine_falls_from_one_to_zero_after_the_warmup() {
        let s = schedule(&["steps=100", "schedule=cosine", "warmup_steps=20"]);
        close(s.factor(10), 0.5);
        close(s.factor(20), 1.0);
        close(s.factor(60), 0.5);
        close(s.factor(40), 0.5 * (1.0 + (PI / 4.0).cos()));
        close(s.factor(100), 0.0);
    }

    #[test]
    fn onecycle_rises_from_a_25th_to_the_peak_then_falls_to_its_end() {
        let s = schedule(&["steps=100", "schedule=onecycle"]);
        // 30% of the run rises.
        close(s.factor(30), 1.0);
        close(s.factor(15), 0.04 + 0.96 * 0.5);
        close(s.factor(65), 0.04 / 1e4 + (1.0 - 0.04 / 1e4) * 0.5);
        close(s.factor(100), 0.04 / 1e4);
        let w = schedule(&["steps=100", "schedule=onecycle", "warmup_steps=50"]);
        close(w.factor(50), 1.0);
        close(w.factor(25), 0.04 + 0.96 * 0.5);
    }

    #[test]
    fn the_curve_spans_the_run() {
        let s = schedule(&["steps=1000", "schedule=cosine"]);
        let c = s.curve(50);
        assert_eq!(c.first().unwrap().0, 1);
        assert_eq!(c.last().unwrap().0, 1000);
        assert!(c.windows(2).all(|w| w[1].1 <= w[0].1));
    }

    #[test]
    fn linear_falls_in_a_straight_line_to_zero_after_the_warmup() {
        let s = schedule(&["steps=100", "schedule=linear", "warmup_steps=20"]);
        close(s.factor(10), 0.5);
        close(s.factor(20), 1.0);
        close(s.factor(40), 0.75);
        close(s.factor(60), 0.5);
        close(s.factor(100), 0.0);
        close(schedule(&["steps=100", "schedule=linear"]).factor(50), 0.5);
    }
}
