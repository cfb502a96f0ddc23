//! Chart series with bounded memory: when a series reaches its capacity, neighbouring points
//! are averaged in pairs and the stride doubles, so long runs keep their shape in flat memory.

/// A downsampled (x, y) series.
#[derive(Debug, Clone)]
pub struct Series {
    points: Vec<(f64, f64)>,
    capacity: usize,
    stride: usize,
    pending: Option<(f64, f64, usize)>,
}

impl Series {
    /// An empty series holding at most `capacity` points (at least 4).
    pub fn new(capacity: usize) -> Self {
        Series {
            points: Vec::new(),
            capacity: capacity.max(4),
            stride: 1,
            pending: None,
        }
    }

    /// Adds a point; with a stride above 1, `stride` points are averaged into one.
    pub fn push(&mut self, x: f64, y: f64) {
        let (sx, sy, n) = self.pending.unwrap_or((0.0, 0.0, 0));
        let (sx, sy, n) = (sx + x, sy + y, n + 1);
        if n < self.stride {
            self.pending = Some((sx, sy, n));
            return;
        }
        self.pending = None;
        self.points.push((sx / n as f64, sy / n as f64));
        if self.points.len() >= self.capacity {
            self.points = self
                .points
                .chunks(2)
                .map(|c| {
                    let n = c.len() as f64;
                    (
                        c.iter().map(|p| p.0).sum::<f64>() / n,
                        c.iter().map(|p| p.1).sum::<f64>() / n,
                    )
                })
                .collect();
            self.stride *= 2;
        }
    }

    /// Drops the points after `x` (a resumed run replaces them).
    pub fn truncate_after(&mut self, x: f64) {
        self.points.retain(|p| p.0 <= x);
        self.pending = None;
    }

    /// The stored points.
    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    /// Raw points per stored point.
    #[cfg(test)]
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// The last stored point.
    pub fn last(&self) -> Option<(f64, f64)> {
        self.points.last().copied()
    }
}

/// Exponential moving average of `points` with smoothing `alpha` in [0, 1): 0 is no smoothing.
pub fn ema(points: &[(f64, f64)], alpha: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(points.len());
    let mut state: Option<f64> = None;
    for &(x, y) in points {
        let s = match state {
            Some(prev) => alpha * prev + (1.0 - alpha) * y,
            None => y,
        };
        state = Some(s);
        out.push((x, s));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_stays_bounded_and_the_mean_is_kept() {
        let mut s = Series::new(100);
        for i in 0..100_000 {
            s.push(i as f64, 1.0 + (i % 2) as f64);
        }
        assert!(s.points().len() < 100);
        assert!(s.stride() >= 1024);
        assert!(s.points().iter().all(|p| (p.1 - 1.5).abs() < 1e-9));
        let last = s.last().unwrap().0;
        assert!(last > 90_000.0, "the series still reaches the end: {last}");
    }

    #[test]
    fn ema_smooths_toward_the_mean() {
        let pts: Vec<(f64, f64)> = (0..200)
            .map(|i| (i as f64, if i % 2 == 0 { 0.0 } else { 2.0 }))
            .collect();
        let s = ema(&pts, 0.9);
        assert!((s.last().unwrap().1 - 1.0).abs() < 0.2);
        assert_eq!(ema(&pts, 0.0), pts);
    }
}
