//! SoftMax over the last axis, shifted by the row maximum for numerical stability.

use candle_core::{Result, Tensor, D};

/// Row-wise softmax.
#[derive(Debug, Clone, Default)]
pub struct SoftMax {
    output: Option<Tensor>,
}

impl SoftMax {
    /// A softmax module.
    pub fn new() -> Self {
        Self::default()
    }

    /// s = exp(x - max x) / sum exp(x - max x), row by row.
    pub fn infer(&self, x: &Tensor) -> Result<Tensor> {
        let shifted = x.broadcast_sub(&x.max_keepdim(D::Minus1)?)?;
        let e = shifted.exp()?;
        e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
    }

    /// Forward; keeps s for the backward pass.
    pub fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        let s = self.infer(x)?;
        self.output = Some(s.clone());
        Ok(s)
    }

    /// dx = s * (dy - sum_j dy_j s_j): the Jacobian diag(s) - s s^T applied row by row.
    pub fn backward(&self, dy: &Tensor) -> Result<Tensor> {
        let s = self
            .output
            .as_ref()
            .ok_or_else(|| candle_core::Error::Msg("SoftMax::backward before forward".into()))?;
        let dot = (dy * s)?.sum_keepdim(D::Minus1)?;
        s * dy.broadcast_sub(&dot)?
    }
}
