//! The debiased smoothing that charts and exported figures draw over a run's curves
//! (`RunState::curves`), and the y range both fit their curves into (`y_range`).

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

/// The y range of a chart and whether it leaves points out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct YRange {
    /// Lowest value shown.
    pub lo: f64,
    /// Highest value shown.
    pub hi: f64,
    /// Whether finite points lie outside [lo, hi] (outliers ignored): the chart says so.
    pub clipped: bool,
}

/// Points beyond which TensorBoard's "ignore outliers" takes percentiles.
const ROBUST_MIN_POINTS: usize = 50;

/// The range of `values`' finite ones with a tenth of room above and below (at least a
/// thousandth of their size): the y range of a sweep's figures, which have no outliers to
/// ignore. `(0, 1)` without any.
pub fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.1).max(1e-3 * hi.abs().max(1e-3));
    (lo - pad, hi + pad)
}

/// The y range of `sets`' finite values. Every value when `ignore_outliers` is off; when it is
/// on, outliers are ignored upward only (a run blowing up goes up; the lowest values are the
/// ones a user looks for): the top at most `cap` where given (a loss: 1.5 times where the
/// runs started, so the healthy runs keep the chart), else at the 99th percentile (TensorBoard's
/// "ignore outliers in chart scaling"). An empty chart gets [0, 1]; a flat one a unit around
/// its value.
pub fn y_range(sets: &[&[Point]], cap: Option<f64>, ignore_outliers: bool) -> YRange {
    let mut ys: Vec<f64> = sets
        .iter()
        .flat_map(|s| s.iter().map(|p| p.1))
        .filter(|y| y.is_finite())
        .collect();
    if ys.is_empty() {
        return YRange {
            lo: 0.0,
            hi: 1.0,
            clipped: false,
        };
    }
    ys.sort_by(f64::total_cmp);
    let (min, max) = (ys[0], ys[ys.len() - 1]);
    let (mut lo, mut hi) = (min, max);
    if ignore_outliers {
        match cap {
            Some(cap) if cap.is_finite() && cap > lo => hi = hi.min(cap),
            Some(_) => {}
            None if ys.len() >= ROBUST_MIN_POINTS => {
                hi = ys[((ys.len() - 1) as f64 * 0.99).round() as usize];
            }
            None => {}
        }
    }
    let clipped = min < lo || max > hi;
    if hi - lo < 1e-9 {
        (lo, hi) = (lo - 0.5, hi + 0.5);
    }
    YRange { lo, hi, clipped }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outliers_are_ignored_only_when_asked_and_then_said() {
        // A healthy loss from 2.3 down to 1.0, and a run that reached 1000.
        let healthy: Vec<Point> = (0..100)
            .map(|i| (i as f64, 2.3 - 0.013 * i as f64))
            .collect();
        let blown: Vec<Point> = (0..100)
            .map(|i| (i as f64, 2.3 + 10.0 * i as f64))
            .collect();
        let sets = [healthy.as_slice(), blown.as_slice()];
        let cap = Some(1.5 * 2.3);
        let all = y_range(&sets, cap, false);
        assert!(
            !all.clipped && all.hi >= 992.0 && all.lo <= 1.013,
            "{all:?}"
        );
        let robust = y_range(&sets, cap, true);
        assert!(robust.clipped && robust.hi <= 1.5 * 2.3, "{robust:?}");
        assert_eq!(robust.lo, all.lo, "the lowest loss is never trimmed");
        // Nothing to ignore: the same range either way, nothing clipped.
        let one = y_range(&[healthy.as_slice()], cap, true);
        assert!(!one.clipped, "{one:?}");
        assert_eq!(
            y_range(&[], None, true),
            YRange {
                lo: 0.0,
                hi: 1.0,
                clipped: false
            }
        );
        let flat = y_range(&[&[(0.0, 3.0), (1.0, 3.0)]], None, false);
        assert_eq!((flat.lo, flat.hi), (2.5, 3.5));
    }

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
