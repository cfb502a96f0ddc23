//! Chart series with bounded memory: every point is kept (smoothing runs on the whole series)
//! until a series reaches its capacity; then neighbouring points are averaged in pairs and the
//! stride doubles, so very long runs keep their shape in flat memory. Drawing decimates.

/// A downsampled (x, y) series.
#[derive(Debug, Clone, PartialEq)]
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
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Whether it holds no point.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The last stored point.
    pub fn last(&self) -> Option<(f64, f64)> {
        self.points.last().copied()
    }
}

/// At most `max` points of `points`, evenly strided (the last point kept), for drawing a curve
/// that has more points than the chart has dots.
pub fn decimate(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max.max(2) {
        return points.to_vec();
    }
    let stride = points.len().div_ceil(max.max(2));
    let mut out: Vec<(f64, f64)> = points.iter().step_by(stride).copied().collect();
    if let Some(&last) = points.last() {
        if out.last() != Some(&last) {
            out.push(last);
        }
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
    fn decimation_keeps_the_ends_and_bounds_the_count() {
        let pts: Vec<(f64, f64)> = (0..10_001).map(|i| (i as f64, i as f64)).collect();
        let d = decimate(&pts, 1000);
        assert!(d.len() <= 1001, "{}", d.len());
        assert_eq!(d.first(), pts.first());
        assert_eq!(d.last(), pts.last());
        assert_eq!(decimate(&pts[..10], 1000), pts[..10].to_vec());
    }
}
