//! Inverted dropout with masks drawn from the run's seeded generator, and LeakyReLU.

use candle_core::{Result, Tensor};
use rand::rngs::SmallRng;
use rand::Rng;

/// LeakyReLU as max(x, a x), for 0 <= a <= 1.
pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor> {
    x.maximum(&x.affine(slope, 0.0)?)
}

/// Inverted dropout with a mask drawn from `rng`: kept units are scaled by 1 / (1 - p).
pub fn dropout(x: &Tensor, p: f64, rng: &mut SmallRng) -> Result<Tensor> {
    if p <= 0.0 {
        return Ok(x.clone());
    }
    let scale = (1.0 / (1.0 - p)) as f32;
    let mask: Vec<f32> = (0..x.elem_count())
        .map(|_| if rng.random::<f64>() < p { 0.0 } else { scale })
        .collect();
    let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
    x * mask
}
