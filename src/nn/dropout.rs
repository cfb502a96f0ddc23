//! Inverted dropout with masks drawn from the run's seeded generator, and LeakyReLU.

use candle_core::{Result, Tensor};
use rand::rngs::SmallRng;
use rand::RngCore;

/// LeakyReLU as max(x, a x), for 0 <= a <= 1.
pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor> {
    x.maximum(&x.affine(slope, 0.0)?)
}

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

/// Inverted dropout with a mask drawn from `rng`: kept units are scaled by 1 / (1 - p).
pub fn dropout(x: &Tensor, p: f64, rng: &mut SmallRng) -> Result<Tensor> {
    if p <= 0.0 {
        return Ok(x.clone());
    }
    let mask = dropout_mask(x.elem_count(), p, rng);
    let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
    x * mask
}
