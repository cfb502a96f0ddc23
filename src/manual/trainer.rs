//! Section 1's trainer: forward, the loss checked before anything changes, then the fused
//! backward-and-SGD pass (`ManualMlp::backward_sgd`). It computes no gradient norm: the fused
//! step never holds a whole gradient.

use super::{one_hot, ManualMlp};
use crate::kernels::loss::count_correct;
use crate::model::{Hyper, Network, StepReport, Trainer};
use crate::Result;
use candle_core::{DType, Tensor};

/// The manual engine's trainer (plain SGD; momentum and weight decay do not apply).
pub struct ManualTrainer {
    mlp: ManualMlp,
}

impl ManualTrainer {
    /// A trainer for `mlp`.
    pub fn new(mlp: ManualMlp) -> Self {
        ManualTrainer { mlp }
    }
}

impl Trainer for ManualTrainer {
    fn step(&mut self, x: &Tensor, labels: &[u8], hyper: &Hyper) -> Result<StepReport> {
        let targets = one_hot(labels, self.mlp.classes(), x.dtype(), x.device())?;
        let probs = self.mlp.forward(x)?;
        let loss = self
            .mlp
            .loss(&probs, &targets)?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?;
        let mut report = StepReport {
            loss,
            correct: count_correct(&probs, labels)?,
            grad_norm: None,
            applied: false,
        };
        if loss.is_finite() {
            self.mlp.backward_sgd(&targets, hyper.lr)?;
            report.applied = true;
        }
        Ok(report)
    }

    fn network(&mut self) -> &mut dyn Network {
        &mut self.mlp
    }

    fn network_ref(&self) -> &dyn Network {
        &self.mlp
    }

    fn optimizer_state(&self) -> Result<(u64, Vec<(String, Tensor)>)> {
        Ok((0, Vec::new()))
    }

    fn load_optimizer_state(&mut self, _steps: u64, _state: &[(String, Tensor)]) -> Result<()> {
        Ok(())
    }
}
