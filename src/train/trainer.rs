//! A trainer does one step: loss, backward, the checks that keep a diverging run from
//! applying its step, and the optimizer update. The autograd engine's trainer is here; the
//! manual engine keeps its fused step as a trainer of its own (`manual::ManualTrainer`).

use super::{build_network, Compute, Network};
use crate::config::{Engine, RunConfig};
use crate::kernels::reduce::sum_squares;
use crate::nn::loss::cross_entropy;
use crate::optim::{Hyper, Optimizer};
use crate::Result;
use candle_core::Tensor;
use rand::rngs::SmallRng;

/// What one step measured, and whether its update was applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// Mean loss over the batch.
    pub loss: f64,
    /// Correct predictions in the batch.
    pub correct: usize,
    /// Global L2 norm of the gradient before any clipping, where the trainer computes one.
    pub grad_norm: Option<f64>,
    /// False when the loss or the gradient norm was not finite: the weights were not touched.
    pub applied: bool,
}

impl StepReport {
    /// Why the step was not applied, if it was not.
    pub fn divergence(&self) -> Option<String> {
        if self.applied {
            return None;
        }
        Some(match self.grad_norm {
            Some(g) if self.loss.is_finite() => format!("gradient norm is {g}"),
            _ => format!("loss is {}", self.loss),
        })
    }
}

/// One step of training, whatever the engine.
pub trait Trainer: Send {
    /// Forward, loss and, when both the loss and the gradient are finite, the update.
    fn step(&mut self, x: &Tensor, labels: &[u8], hyper: &Hyper) -> Result<StepReport>;
    /// The network being trained.
    fn network(&mut self) -> &mut dyn Network;
    /// The network being trained, read-only.
    fn network_ref(&self) -> &dyn Network;
    /// The optimizer's step count and state, for checkpoints.
    fn optimizer_state(&self) -> Result<(u64, Vec<(String, Tensor)>)>;
    /// Restores what `optimizer_state` gave.
    fn load_optimizer_state(&mut self, steps: u64, state: &[(String, Tensor)]) -> Result<()>;
}

/// Autograd: cross-entropy (label-smoothed when asked) on the network's logits, backward,
/// global gradient norm, the update with the gradient scaled down to `clip_norm` when above.
pub struct AutogradTrainer {
    net: Box<dyn Network>,
    optimizer: Optimizer,
    fast: bool,
}

impl AutogradTrainer {
    /// A trainer for `net` with the optimizer `config` names.
    pub fn new(net: Box<dyn Network>, config: &RunConfig, compute: &Compute) -> Self {
        let optimizer = Optimizer::new(config.optimizer, net.params(), compute.use_fast());
        AutogradTrainer {
            net,
            optimizer,
            fast: compute.use_fast(),
        }
    }
}

impl Trainer for AutogradTrainer {
    fn step(&mut self, x: &Tensor, labels: &[u8], hyper: &Hyper) -> Result<StepReport> {
        let logits = self.net.forward(x, true)?;
        let loss = cross_entropy(&logits, labels, hyper.label_smoothing, self.fast)?;
        let mut report = StepReport {
            loss: loss.value,
            correct: loss.correct,
            grad_norm: None,
            applied: false,
        };
        if !report.loss.is_finite() {
            return Ok(report);
        }
        let grads = loss.tensor.backward()?;
        let mut squares = 0.0;
        for p in self.net.params().trainable() {
            if let Some(g) = grads.get(&p.tensor) {
                squares += sum_squares(g, self.fast)?;
            }
        }
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
}

/// The trainer a configuration describes, initial weights drawn from `rng`.
pub fn build_trainer(
    config: &RunConfig,
    rng: &mut SmallRng,
    compute: &Compute,
) -> Result<Box<dyn Trainer>> {
    config.validate()?;
    Ok(match config.engine {
        Engine::Manual => Box::new(crate::manual::ManualTrainer::new(
            crate::manual::ManualMlp::from_config(config, rng, compute)?,
        )),
        Engine::Autograd => Box::new(AutogradTrainer::new(
            build_network(config, rng, compute)?,
            config,
            compute,
        )),
    })
}
