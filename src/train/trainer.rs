//! The autograd engine's trainer: loss, backward, the checks that keep a diverging run from
//! applying its step, and the optimizer update. The manual engine keeps its fused step as a
//! trainer of its own (`manual::ManualTrainer`).

use crate::config::RunConfig;
use crate::kernels::grad_sink;
use crate::kernels::loss::cross_entropy;
use crate::kernels::reduce::sum_squares;
use crate::kernels::Kernels;
use crate::model::{Compute, Hyper, Network, StepReport, Trainer};
use crate::optim::Optimizer;
use crate::Result;
use candle_core::Tensor;

/// Autograd: cross-entropy (label-smoothed when asked) on the network's logits, backward,
/// global gradient norm, the update with the gradient scaled down to `clip_norm` when above.
pub struct AutogradTrainer {
    net: Box<dyn Network>,
    optimizer: Optimizer,
    kernels: Kernels,
    /// Whether the next step keeps its gradients, and those it kept.
    keep: bool,
    kept: Vec<(String, Tensor)>,
}

impl AutogradTrainer {
    /// A trainer for `net` with the optimizer `config` names.
    pub fn new(net: Box<dyn Network>, config: &RunConfig, compute: &Compute) -> Result<Self> {
        let optimizer = Optimizer::new(config.optimizer, net.params(), compute.kernels())?;
        Ok(AutogradTrainer {
            net,
            optimizer,
            kernels: compute.kernels(),
            keep: false,
            kept: Vec::new(),
        })
    }
}

impl Trainer for AutogradTrainer {
    fn step(&mut self, x: &Tensor, labels: &[u8], hyper: &Hyper) -> Result<StepReport> {
        let logits = self.net.forward(x, true)?;
        let loss = cross_entropy(self.kernels, &logits, labels, hyper.label_smoothing)?;
        let mut report = StepReport {
            loss: loss.value,
            correct: loss.correct,
            grad_norm: None,
            applied: false,
        };
        if !report.loss.is_finite() {
            return Ok(report);
        }
        let grads = grad_sink::backward(&loss.tensor)?;
        let mut squares = 0.0;
        for p in self.net.params().trainable() {
            if let Some(g) = grads.get(&p.tensor) {
                squares += sum_squares(self.kernels, g)?;
                if self.keep {
                    self.kept.push((p.name.clone(), g.clone()));
                }
            }
        }
        self.keep = false;
        let norm = squares.sqrt();
        report.grad_norm = Some(norm);
        if !norm.is_finite() {
            return Ok(report);
        }
        self.optimizer
            .step_scaled(&grads, hyper, hyper.clip_scale(norm))?;
        report.applied = true;
        Ok(report)
    }

    fn network(&mut self) -> &mut dyn Network {
        self.net.as_mut()
    }

    fn network_ref(&self) -> &dyn Network {
        self.net.as_ref()
    }

    fn optimizer_state(&self) -> Result<(u64, Vec<(String, Tensor)>)> {
        self.optimizer.state()
    }

    fn load_optimizer_state(&mut self, steps: u64, state: &[(String, Tensor)]) -> Result<()> {
        self.optimizer.load_state(steps, state)
    }

    fn keep_gradients(&mut self) {
        self.keep = true;
        self.kept.clear();
    }

    fn take_gradients(&mut self) -> Vec<(String, Tensor)> {
        self.keep = false;
        std::mem::take(&mut self.kept)
    }
}
