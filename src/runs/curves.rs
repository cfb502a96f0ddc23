//! The debiased smoothing that charts and exported figures draw over a run's curves
//! (`RunState::curves`).

pub use super::state::{Curves, Point};

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
