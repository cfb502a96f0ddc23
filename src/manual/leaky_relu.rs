//! LeakyReLU: y = x for x > 0, a x otherwise.

use candle_core::{Result, Tensor};

/// LeakyReLU with negative slope `slope` (0 <= slope <= 1).
#[derive(Debug, Clone)]
pub struct LeakyReLU {
    /// The negative slope a.
    pub slope: f64,
    input: Option<Tensor>,
}

impl LeakyReLU {
    /// A LeakyReLU with slope `slope`.
    pub fn new(slope: f64) -> Self {
        LeakyReLU { slope, input: None }
    }

    /// max(x, a x), which is LeakyReLU for 0 <= a <= 1.
    pub fn infer(&self, x: &Tensor) -> Result<Tensor> {
        x.maximum(&x.affine(self.slope, 0.0)?)
    }

    /// Forward; keeps x for the backward pass.
    pub fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        let y = self.infer(x)?;
        self.input = Some(x.clone());
        Ok(y)
    }

    /// dx = dy where x > 0, a dy elsewhere.
    pub fn backward(&self, dy: &Tensor) -> Result<Tensor> {
        let x = self
            .input
            .as_ref()
            .ok_or_else(|| candle_core::Error::Msg("LeakyReLU::backward before forward".into()))?;
        x.gt(0.0)?.where_cond(dy, &dy.affine(self.slope, 0.0)?)
    }
}
