//! A run's curves as its events give them (train loss and accuracy by step, test figures at
//! each evaluation, learning rate, times, live changes), and the debiased smoothing that
//! charts and exported figures draw.

use crate::events::{Event, EventKind, ParentRef};

/// A point: step and value.
pub type Point = (f64, f64);

/// Everything a chart of one run draws.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Curves {
    /// Train loss by step.
    pub train_loss: Vec<Point>,
    /// Train batch accuracy by step.
    pub train_acc: Vec<Point>,
    /// Test loss at each evaluation.
    pub test_loss: Vec<Point>,
    /// Test accuracy at each evaluation.
    pub test_acc: Vec<Point>,
    /// Learning rate by step.
    pub lr: Vec<Point>,
    /// Unix time of each train step.
    pub times: Vec<Point>,
    /// Live changes: step, key, value.
    pub sets: Vec<(usize, String, String)>,
    /// Training images per epoch.
    pub train_size: usize,
    /// Images per step.
    pub batch_size: usize,
    /// The run this one was forked from.
    pub parent: Option<ParentRef>,
    /// Unix time of the start.
    pub started: f64,
}

impl Curves {
    /// The curves of a run's history (`StoredRun::history`).
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut c = Curves::default();
        for e in events {
            match &e.kind {
                EventKind::Start(info) => {
                    c.train_size = info.train_size.max(info.data.train);
                    c.batch_size = info.config.batch_size;
                    c.parent = info.parent.clone();
                    c.started = e.time;
                }
                EventKind::Train {
                    step,
                    loss,
                    acc,
                    lr,
                    ..
                } => {
                    let s = *step as f64;
                    c.train_loss.push((s, *loss));
                    c.train_acc.push((s, *acc));
                    c.lr.push((s, *lr));
                    c.times.push((s, e.time));
                }
                EventKind::Eval {
                    step,
                    test_loss,
                    test_acc,
                    ..
                } => {
                    c.test_loss.push((*step as f64, *test_loss));
                    c.test_acc.push((*step as f64, *test_acc));
                }
                EventKind::Set { step, key, value } => {
                    let text = match value {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    c.sets.push((*step, key.clone(), text));
                }
                _ => {}
            }
        }
        c
    }

    /// The best test accuracy and its step.
    pub fn best_test_acc(&self) -> Option<Point> {
        self.test_acc
            .iter()
            .copied()
            .filter(|p| p.1.is_finite())
            .fold(None, |best: Option<Point>, p| match best {
                Some(b) if b.1 >= p.1 => Some(b),
                _ => Some(p),
            })
    }
}

/// TensorBoard's debiased exponential moving average with weight `w` in [0, 1): the running
/// average starts at zero and each value is divided by 1 - w^n, so the curve does not start
/// pinned to the first value. Non-finite values are skipped.
pub fn debiased_ema(points: &[Point], w: f64) -> Vec<Point> {
    let mut out = Vec::with_capacity(points.len());
    let mut last = 0.0;
    let mut n = 0i32;
    for &(x, y) in points {
        if !y.is_finite() {
            continue;
        }
        n += 1;
        last = last * w + (1.0 - w) * y;
        let debias = if w == 0.0 { 1.0 } else { 1.0 - w.powi(n) };
        out.push((x, last / debias));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debiased_smoothing_against_hand_values() {
        let pts = [(1.0, 1.0), (2.0, 3.0), (3.0, 2.0)];
        let s = debiased_ema(&pts, 0.5);
        // n=1: last = 0.5, debias 0.5 -> 1.0 (the first value itself, not 0.5).
        // n=2: last = 0.25 + 1.5 = 1.75, debias 0.75 -> 2.3333.
        // n=3: last = 0.875 + 1.0 = 1.875, debias 0.875 -> 2.142857.
        let expect = [1.0, 7.0 / 3.0, 1.875 / 0.875];
        for (p, e) in s.iter().zip(expect) {
            assert!((p.1 - e).abs() < 1e-12, "{s:?}");
        }
        assert_eq!(
            debiased_ema(&pts, 0.0),
            pts.to_vec(),
            "weight 0 is the raw curve"
        );
        let with_nan = [(1.0, 1.0), (2.0, f64::NAN), (3.0, 1.0)];
        assert!(debiased_ema(&with_nan, 0.9)
            .iter()
            .all(|p| (p.1 - 1.0).abs() < 1e-12));
    }
}
