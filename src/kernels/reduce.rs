//! Reductions over whole tensors.

use crate::Result;
use candle_core::{DType, Storage, Tensor};
use rayon::prelude::*;

/// The sum of the squares of `t`'s values, in f64: over the CPU storage directly when `fast`
/// (f32 on the CPU, contiguous), otherwise as tensor ops.
pub fn sum_squares(t: &Tensor, fast: bool) -> Result<f64> {
    if fast && t.device().is_cpu() && t.dtype() == DType::F32 {
        let (storage, layout) = t.storage_and_layout();
        if let (Storage::Cpu(candle_core::CpuStorage::F32(data)), Some((a, b))) =
            (&*storage, layout.contiguous_offsets())
        {
            return Ok(data[a..b]
                .par_chunks(64 * 1024)
                .map(|c| {
                    // Eight f32 partial sums vectorise; each chunk is small enough for f32.
                    let mut acc = [0f32; 8];
                    let mut rows = c.chunks_exact(8);
                    for row in &mut rows {
                        for (a, v) in acc.iter_mut().zip(row) {
                            *a += v * v;
                        }
                    }
                    let tail: f32 = rows.remainder().iter().map(|v| v * v).sum();
                    acc.iter().map(|&a| a as f64).sum::<f64>() + tail as f64
                })
                .sum());
        }
    }
    Ok(t.to_dtype(DType::F64)?
        .sqr()?
        .sum_all()?
        .to_scalar::<f64>()?)
}
