//! Reductions over whole tensors.

use super::simd::{Level, LANES};
use super::Kernels;
use crate::multiversion;
use crate::Result;
use candle_core::{DType, Storage, Tensor};
use rayon::prelude::*;

/// The sum of the squares of `t`'s values, in f64: over the CPU storage directly (f32,
/// contiguous), otherwise as tensor ops.
pub fn sum_squares(kernels: Kernels, t: &Tensor) -> Result<f64> {
    if kernels.cpu() && t.dtype() == DType::F32 {
        let (storage, layout) = t.storage_and_layout();
        if let (Storage::Cpu(candle_core::CpuStorage::F32(data)), Some((a, b))) =
            (&*storage, layout.contiguous_offsets())
        {
            let level = Level::detected();
            // Partial sums collected in order, then added in order: the same bits every run.
            let parts: Vec<f64> = data[a..b]
                .par_chunks(64 * 1024)
                .map(|c| sum_sq_dev(level, c, 0.0))
                .collect();
            return Ok(parts.iter().sum());
        }
    }
    Ok(t.to_dtype(DType::F64)?
        .sqr()?
        .sum_all()?
        .to_scalar::<f64>()?)
}

/// Values a block sums in f32 lanes before the block's total joins an f64 sum.
const BLOCK: usize = 1024;

/// Sums `N` quantities over `$len` values in `LANES` f32 lanes, block by block, each block's
/// lanes then added in f64: deterministic (the same order at every instruction-set level) and
/// vectorisable. `$lane(i, acc)` adds value `i` into `acc` (an `[f32; N]` per lane or tail).
macro_rules! lane_sums {
    ($n:literal, $len:expr, |$i:ident, $acc:ident| $add:block) => {{
        let len = $len;
        let mut total = [0f64; $n];
        let mut start = 0;
        while start < len {
            let end = (start + BLOCK).min(len);
            let mut lanes = [[0f32; $n]; LANES];
            let mut base = start;
            while base + LANES <= end {
                for (l, $acc) in lanes.iter_mut().enumerate() {
                    let $i = base + l;
                    $add
                }
                base += LANES;
            }
            let mut tail = [[0f32; $n]; 1];
            for $i in base..end {
                let $acc = &mut tail[0];
                $add
            }
            for k in 0..$n {
                total[k] += lanes.iter().map(|a| a[k] as f64).sum::<f64>() + tail[0][k] as f64;
            }
            start = end;
        }
        total
    }};
}

multiversion! {
    /// The sum of `v` in f64.
    pub fn sum(v: &[f32]) -> f64 {
        lane_sums!(1, v.len(), |i, acc| {
            acc[0] += v[i];
        })[0]
    }
}

multiversion! {
    /// The sum of (v - mean)^2 in f64.
    pub fn sum_sq_dev(v: &[f32], mean: f32) -> f64 {
        lane_sums!(1, v.len(), |i, acc| {
            let d = v[i] - mean;
            acc[0] += d * d;
        })[0]
    }
}

multiversion! {
    /// Batch norm + ReLU backward's sums over one channel: with g = dy where y > 0 (else 0),
    /// the sum of g and of g (x - mean).
    pub fn relu_masked_sums(x: &[f32], y: &[f32], dy: &[f32], mean: f32) -> [f64; 2] {
        let n = x.len().min(y.len()).min(dy.len());
        let (x, y, dy) = (&x[..n], &y[..n], &dy[..n]);
        lane_sums!(2, n, |i, acc| {
            let g = if y[i] > 0.0 { dy[i] } else { 0.0 };
            acc[0] += g;
            acc[1] += g * (x[i] - mean);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every instruction-set level this CPU has sums to the baseline's bits, and the sums are
    /// right.
    #[test]
    fn every_simd_level_matches_the_baseline() {
        let v: Vec<f32> = (0..5003)
            .map(|i| ((i * 17 % 41) as f32 - 20.0) * 0.25)
            .collect();
        let y: Vec<f32> = v.iter().map(|x| x - 1.0).collect();
        let exact: f64 = v.iter().map(|&x| x as f64).sum();
        for level in Level::available() {
            assert_eq!(sum(level, &v), sum(Level::BASELINE, &v), "{}", level.name());
            assert_eq!(
                sum_sq_dev(level, &v, 0.5),
                sum_sq_dev(Level::BASELINE, &v, 0.5)
            );
            assert_eq!(
                relu_masked_sums(level, &v, &y, &v, 0.5),
                relu_masked_sums(Level::BASELINE, &v, &y, &v, 0.5)
            );
            assert!((sum(level, &v) - exact).abs() < 1e-6 * exact.abs().max(1.0));
        }
    }
}
