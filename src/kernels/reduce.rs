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

/// Sums `N` quantities over the values of equally long slices `$src` in `LANES` f32 lanes,
/// block by block, each block's lanes then added in f64: deterministic (the same order at every
/// instruction-set level) and vectorisable (full blocks are read as fixed-size arrays, without
/// bounds checks). `$add` adds the values `$v` (one of each slice) into `$acc`, an `[f32; N]`.
macro_rules! lane_sums {
    ($n:literal, ($($src:ident),+), |($($v:ident),+), $acc:ident| $add:block) => {{
        let len = [$($src.len()),+].into_iter().min().unwrap_or(0);
        let mut total = [0f64; $n];
        let mut start = 0;
        while start < len {
            let end = (start + BLOCK).min(len);
            // One array a quantity (lanes side by side), so each quantity's lanes add as one
            // vector.
            let mut lanes = [[0f32; LANES]; $n];
            let mut base = start;
            while base + LANES <= end {
                $(let $v: &[f32; LANES] = $src[base..base + LANES].try_into().expect("a block");)+
                for l in 0..LANES {
                    let mut part = [0f32; $n];
                    {
                        let $acc = &mut part;
                        $(let $v = $v[l];)+
                        $add
                    }
                    for k in 0..$n {
                        lanes[k][l] += part[k];
                    }
                }
                base += LANES;
            }
            let mut tail = [0f32; $n];
            for i in base..end {
                let $acc = &mut tail;
                $(let $v = $src[i];)+
                $add
            }
            for k in 0..$n {
                total[k] += lanes[k].iter().map(|&a| a as f64).sum::<f64>() + tail[k] as f64;
            }
            start = end;
        }
        total
    }};
}

multiversion! {
    /// The sum of `v` in f64.
    pub fn sum(v: &[f32]) -> f64 {
        lane_sums!(1, (v), |(x), acc| {
            acc[0] += x;
        })[0]
    }
}

multiversion! {
    /// The sum of (v - mean)^2 in f64.
    pub fn sum_sq_dev(v: &[f32], mean: f32) -> f64 {
        lane_sums!(1, (v), |(x), acc| {
            let d = x - mean;
            acc[0] += d * d;
        })[0]
    }
}

multiversion! {
    /// Batch norm + ReLU backward's sums over one channel: with g = dy where y > 0 (else 0),
    /// the sum of g and of g (x - mean).
    pub fn relu_masked_sums(x: &[f32], y: &[f32], dy: &[f32], mean: f32) -> [f64; 2] {
        lane_sums!(2, (x, y, dy), |(xv, yv, dyv), acc| {
            let g = if yv > 0.0 { dyv } else { 0.0 };
            acc[0] += g;
            acc[1] += g * (xv - mean);
        })
    }
}

multiversion! {
    /// Batch norm backward's sums over one channel given the gradient `g` at its output: the
    /// sum of g and of g (x - mean).
    pub fn norm_sums(x: &[f32], g: &[f32], mean: f32) -> [f64; 2] {
        lane_sums!(2, (x, g), |(xv, gv), acc| {
            acc[0] += gv;
            acc[1] += gv * (xv - mean);
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
            assert_eq!(
                norm_sums(level, &v, &y, 0.5),
                norm_sums(Level::BASELINE, &v, &y, 0.5)
            );
            assert!((sum(level, &v) - exact).abs() < 1e-6 * exact.abs().max(1.0));
        }
    }
}
