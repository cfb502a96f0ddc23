//! Cross-entropy of probabilities against one-hot targets, averaged over the batch.

use candle_core::{Result, Tensor};

/// Mean cross-entropy L = -1/B sum_b sum_i t_bi log p_bi.
#[derive(Debug, Clone, Copy)]
pub struct CrossEntropy {
    /// Probabilities are clamped to at least this before the log, so a zero never gives inf.
    pub floor: f64,
}

impl Default for CrossEntropy {
    fn default() -> Self {
        CrossEntropy { floor: 1e-30 }
    }
}

impl CrossEntropy {
    /// The loss, a scalar tensor.
    pub fn forward(&self, probs: &Tensor, targets: &Tensor) -> Result<Tensor> {
        let batch = probs.dim(0)? as f64;
        let log_p = probs.clamp(self.floor, f64::INFINITY)?.log()?;
        (targets * log_p)?.sum_all()?.affine(-1.0 / batch, 0.0)
    }

    /// dL/dp = -t / p / B.
    pub fn backward(&self, probs: &Tensor, targets: &Tensor) -> Result<Tensor> {
        let batch = probs.dim(0)? as f64;
        let p = probs.clamp(self.floor, f64::INFINITY)?;
        (targets / p)?.affine(-1.0 / batch, 0.0)
    }
}
