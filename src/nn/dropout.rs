//! Inverted dropout with masks drawn from the run's seeded generator: the mask is drawn here
//! and applied by the hidden layer's kernel (`kernels::bn_act`) or by `apply_mask`.

use candle_core::{Result, Tensor};
use rand::rngs::SmallRng;
use rand::RngCore;

/// Inverted dropout's mask of `len` values drawn from `rng`: 0 with probability `p`, else
/// 1 / (1 - p).
pub fn dropout_mask(len: usize, p: f64, rng: &mut SmallRng) -> Vec<f32> {
    let scale = (1.0 / (1.0 - p)) as f32;
    // A unit is dropped when a uniform u32 falls below p * 2^32.
    let threshold = (p * 4_294_967_296.0).min(u32::MAX as f64) as u32;
    (0..len)
        .map(|_| {
            if rng.next_u32() < threshold {
                0.0
            } else {
                scale
            }
        })
        .collect()
}

/// `x` times the mask, when there is one.
pub fn apply_mask(x: &Tensor, mask: Option<Vec<f32>>) -> Result<Tensor> {
    match mask {
        Some(m) => x * Tensor::from_vec(m, x.shape(), x.device())?.to_dtype(x.dtype())?,
        None => Ok(x.clone()),
    }
}
