//! One step of training, whatever the engine: the settings a step takes and what it reports.
//! The autograd trainer lives in `train`, section 1's fused one in `manual`.

use super::Network;
use crate::config::RunConfig;
use crate::Result;
use candle_core::Tensor;

/// The hyperparameters a step uses; they may change from one step to the next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hyper {
    /// Learning rate.
    pub lr: f64,
    /// Heavy-ball factor for `momentum`, momentum buffer for `rmsprop`.
    pub momentum: f64,
    /// L2 penalty added to the gradient (`adamw`: decoupled, applied to the weights).
    pub weight_decay: f64,
    /// Multiple of `lr` for batch norm shifts, whose weight decay is divided by it.
    pub norm_bias_lr: f64,
    /// Label smoothing of the training loss (the trainer's, not the optimizer's).
    pub label_smoothing: f64,
    /// Limit of the global gradient norm: a larger gradient is scaled down to it.
    pub clip_norm: Option<f64>,
    /// After this step's update, a lookahead pull with this decay: the moving average of
    /// the weights and running statistics becomes decay avg + (1 - decay) weights, and the
    /// weights become it.
    pub lookahead: Option<f64>,
}

impl Hyper {
    /// `lr`, `momentum` and `weight_decay`, no smoothing, no clipping.
    pub fn new(lr: f64, momentum: f64, weight_decay: f64) -> Self {
        Hyper {
            lr,
            momentum,
            weight_decay,
            norm_bias_lr: 1.0,
            label_smoothing: 0.0,
            clip_norm: None,
            lookahead: None,
        }
    }

    /// The settings of `config` at its base learning rate.
    pub fn of(config: &RunConfig) -> Self {
        Hyper {
            lr: config.lr,
            momentum: config.momentum,
            weight_decay: config.weight_decay,
            norm_bias_lr: config.norm_bias_lr,
            label_smoothing: config.label_smoothing,
            clip_norm: config.clip_norm,
            lookahead: None,
        }
    }

    /// The factor that brings a gradient of norm `norm` under `clip_norm` (1 when it is).
    pub fn clip_scale(&self, norm: f64) -> f64 {
        match self.clip_norm {
            Some(limit) if norm > limit => limit / norm,
            _ => 1.0,
        }
    }
}

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
    /// Keeps the next step's gradient of each trainable parameter for `take_gradients`.
    fn keep_gradients(&mut self) {}
    /// The gradients the last step kept (by parameter name); none where the trainer holds no
    /// whole gradient (section 1's fused step: its gradient is its update over -lr).
    fn take_gradients(&mut self) -> Vec<(String, Tensor)> {
        Vec::new()
    }
}
