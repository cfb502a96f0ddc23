//! Optimizers with PyTorch's update rules: sgd, momentum (heavy ball), adam, adamw (decoupled
//! weight decay) and rmsprop, with f32 state. On the CPU each parameter is updated in one fused
//! pass over parameter, gradient and state, in place, split across the run's threads
//! (`fused`); elsewhere, and as the reference the fast path is tested against, the same rule
//! runs as plain tensor ops (`reference`). A parameter that got no gradient is not touched.

mod fused;
mod reference;
pub mod schedule;

use crate::config::OptimizerKind;
use crate::train::Params;
use crate::{Error, Result};
use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor};

/// Adam's and AdamW's beta1.
pub const BETA1: f64 = 0.9;
/// Adam's and AdamW's beta2.
pub const BETA2: f64 = 0.999;
/// Adam's, AdamW's and RMSprop's epsilon.
pub const EPS: f64 = 1e-8;
/// RMSprop's smoothing constant (PyTorch's default alpha).
pub const RMSPROP_ALPHA: f64 = 0.99;

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
        }
    }

    /// The settings of `config` at its base learning rate.
    pub fn of(config: &crate::config::RunConfig) -> Self {
        Hyper {
            lr: config.lr,
            momentum: config.momentum,
            weight_decay: config.weight_decay,
            norm_bias_lr: config.norm_bias_lr,
            label_smoothing: config.label_smoothing,
            clip_norm: config.clip_norm,
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

/// The scalars of one update, computed once per step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    pub kind: OptimizerKind,
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    /// Adam: 1 - beta1^t and sqrt(1 - beta2^t).
    pub bias1: f64,
    pub bias2_sqrt: f64,
    /// Factor of every gradient (gradient clipping).
    pub grad_scale: f64,
}

/// Per-parameter state: up to two buffers of the parameter's shape, absent until first used.
#[derive(Debug, Clone, Default)]
pub(crate) struct Slots {
    pub first: Option<Buffer>,
    pub second: Option<Buffer>,
}

/// A state buffer: host memory for the fused CPU update, a tensor for the reference one.
#[derive(Debug, Clone)]
pub(crate) enum Buffer {
    Host(Vec<f32>),
    Device(Tensor),
}

/// An optimizer over the trainable parameters of a network.
pub struct Optimizer {
    kind: OptimizerKind,
    names: Vec<String>,
    params: Vec<Tensor>,
    /// Which of `params` are batch norm shifts (`Hyper::norm_bias_lr`).
    norm_shifts: Vec<bool>,
    slots: Vec<Slots>,
    steps: u64,
    fused: bool,
}

impl Optimizer {
    /// An optimizer of `kind` for the trainable parameters of `params`; `fused` picks the CPU
    /// fast path (f32 parameters on the CPU only), otherwise plain tensor ops.
    pub fn new(kind: OptimizerKind, params: &Params, fused: bool) -> Self {
        let trainable: Vec<_> = params.trainable().collect();
        let fused = fused
            && trainable
                .iter()
                .all(|p| p.tensor.device().is_cpu() && p.tensor.dtype() == DType::F32);
        Optimizer {
            kind,
            names: trainable.iter().map(|p| p.name.clone()).collect(),
            params: trainable.iter().map(|p| p.tensor.clone()).collect(),
            norm_shifts: trainable.iter().map(|p| p.norm_shift).collect(),
            slots: vec![Slots::default(); trainable.len()],
            steps: 0,
            fused,
        }
    }

    /// One update of every parameter that has a gradient in `grads`.
    pub fn step(&mut self, grads: &GradStore, hyper: &Hyper) -> Result<()> {
        self.step_scaled(grads, hyper, 1.0)
    }

    /// One update with every gradient multiplied by `grad_scale` (gradient clipping).
    pub fn step_scaled(&mut self, grads: &GradStore, hyper: &Hyper, grad_scale: f64) -> Result<()> {
        self.steps += 1;
        let t = self.steps as i32;
        let rule = Rule {
            kind: self.kind,
            lr: hyper.lr,
            momentum: hyper.momentum,
            weight_decay: hyper.weight_decay,
            bias1: 1.0 - BETA1.powi(t),
            bias2_sqrt: (1.0 - BETA2.powi(t)).sqrt(),
            grad_scale,
        };
        let shift_rule = Rule {
            lr: rule.lr * hyper.norm_bias_lr,
            weight_decay: rule.weight_decay / hyper.norm_bias_lr,
            ..rule
        };
        let params = self.params.iter().zip(&self.norm_shifts);
        for ((param, &shift), slots) in params.zip(self.slots.iter_mut()) {
            let Some(grad) = grads.get(param) else {
                continue;
            };
            let rule = if shift { shift_rule } else { rule };
            if self.fused {
                fused::update(param, &grad.contiguous()?, slots, rule)?;
            } else {
                reference::update(param, grad, slots, rule)?;
            }
        }
        Ok(())
    }

    /// Updates done so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The state as named tensors (`NAME.first`, `NAME.second`) and the step count, for
    /// checkpoints.
    pub fn state(&self) -> Result<(u64, Vec<(String, Tensor)>)> {
        let mut out = Vec::new();
        for ((name, param), slots) in self.names.iter().zip(&self.params).zip(&self.slots) {
            for (suffix, slot) in [("first", &slots.first), ("second", &slots.second)] {
                let tensor = match slot {
                    None => continue,
                    Some(Buffer::Device(t)) => t.clone(),
                    Some(Buffer::Host(v)) => Tensor::from_slice(v, param.shape(), param.device())?,
                };
                out.push((format!("{name}.{suffix}"), tensor));
            }
        }
        Ok((self.steps, out))
    }

    /// Restores what `state` gave, checking names and shapes.
    pub fn load_state(&mut self, steps: u64, state: &[(String, Tensor)]) -> Result<()> {
        let known: std::collections::HashMap<&str, &Tensor> =
            state.iter().map(|(n, t)| (n.as_str(), t)).collect();
        for ((name, param), slots) in self.names.iter().zip(&self.params).zip(&mut self.slots) {
            for (suffix, slot) in [("first", &mut slots.first), ("second", &mut slots.second)] {
                *slot = match known.get(format!("{name}.{suffix}").as_str()) {
                    None => None,
                    Some(t) if t.shape() != param.shape() => {
                        return Err(Error::Other(format!(
                            "optimizer state {name}.{suffix}: shape {:?}, the parameter has {:?}",
                            t.dims(),
                            param.dims()
                        )))
                    }
                    Some(t) => Some(if self.fused {
                        Buffer::Host(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
                    } else {
                        Buffer::Device(t.to_device(param.device())?.to_dtype(param.dtype())?)
                    }),
                };
            }
        }
        self.steps = steps;
        Ok(())
    }
}
