//! A batch norm's tensors as every batch norm kernel takes them: scale, shift and the running
//! statistics (momentum 0.1, unbiased variance, as PyTorch) that inference uses.

use candle_core::{Result, Tensor, Var};

/// The course's epsilon.
pub const EPS: f64 = 1e-5;
/// Weight of the newest batch in the running statistics.
pub const MOMENTUM: f64 = 0.1;

/// Running mean and (unbiased) variance per feature, for inference.
#[derive(Debug, Clone)]
pub struct RunningStats {
    /// Running mean, (features).
    pub mean: Var,
    /// Running variance, (features).
    pub var: Var,
}

impl RunningStats {
    /// Blends a batch's mean and biased variance in, from a batch of `batch` rows.
    pub fn update(&self, batch_mean: &Tensor, batch_var: &Tensor, batch: usize) -> Result<()> {
        let unbiased = batch as f64 / (batch.max(2) - 1) as f64;
        let mean =
            ((self.mean.as_tensor() * (1.0 - MOMENTUM))? + (batch_mean.detach() * MOMENTUM)?)?;
        let var = ((self.var.as_tensor() * (1.0 - MOMENTUM))?
            + (batch_var.detach() * (MOMENTUM * unbiased))?)?;
        self.mean.set(&mean)?;
        self.var.set(&var)
    }

    /// The normalisation as a per-feature scale and shift: (x - mean) / sqrt(var + eps) *
    /// gamma + beta = x scale + shift.
    pub fn scale_shift(&self, gamma: &Tensor, beta: &Tensor) -> Result<(Tensor, Tensor)> {
        let inv_std = (self.var.as_tensor() + EPS)?.sqrt()?.recip()?;
        let scale = (inv_std * gamma)?;
        let shift = (beta - (self.mean.as_tensor() * &scale)?)?;
        Ok((scale, shift))
    }

    /// (x - running mean) / sqrt(running var + eps) * gamma + beta on (batch, features).
    pub fn normalise(&self, x: &Tensor, gamma: &Tensor, beta: &Tensor) -> Result<Tensor> {
        let (scale, shift) = self.scale_shift(gamma, beta)?;
        x.broadcast_mul(&scale)?.broadcast_add(&shift)
    }
}

/// A batch norm's scale (weight), shift (bias) and running statistics.
#[derive(Debug, Clone)]
pub struct NormParams {
    /// Scale, (features).
    pub weight: Var,
    /// Shift, (features).
    pub bias: Var,
    /// Running statistics.
    pub running: RunningStats,
}

impl NormParams {
    /// candle-nn's batch norm over the same tensors (the references use it; it updates the
    /// running statistics in place when training).
    pub fn candle(&self) -> Result<candle_nn::BatchNorm> {
        candle_nn::BatchNorm::new(
            self.weight.dim(0)?,
            self.running.mean.as_tensor().clone(),
            self.running.var.as_tensor().clone(),
            self.weight.as_tensor().clone(),
            self.bias.as_tensor().clone(),
            EPS,
        )
    }
}
