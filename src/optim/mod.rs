//! Optimizers with PyTorch's update rules: sgd, momentum (heavy ball), adam, adamw (decoupled
//! weight decay) and rmsprop, with f32 state. The rules themselves are kernels
//! (`kernels::update`): on the CPU each parameter is updated in one fused pass over parameter,
//! gradient and state, in place, split across the run's threads; elsewhere, and as the
//! reference the CPU op is tested against, the same rule runs as plain tensor ops. A parameter
//! that got no gradient is not touched.

pub mod schedule;

use crate::config::OptimizerKind;
use crate::kernels::update::{update, Buffer, Rule, Slots, BETA1, BETA2};
use crate::kernels::Kernels;
use crate::model::{Hyper, Params};
use crate::{Error, Result};
use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor};

pub use crate::kernels::update::{EPS, RMSPROP_ALPHA};

/// An optimizer over the trainable parameters of a network.
pub struct Optimizer {
    kind: OptimizerKind,
    names: Vec<String>,
    params: Vec<Tensor>,
    /// Which of `params` are batch norm shifts (`Hyper::norm_bias_lr`).
    norm_shifts: Vec<bool>,
    slots: Vec<Slots>,
    steps: u64,
    /// The CPU op (every parameter f32 on the CPU) or the reference.
    kernels: Kernels,
}

impl Optimizer {
    /// An optimizer of `kind` for the trainable parameters of `params`, updating them on the
    /// path `kernels` names; the CPU op refuses a parameter that is not f32 on the CPU (it
    /// says so rather than quietly taking the reference path).
    pub fn new(kind: OptimizerKind, params: &Params, kernels: Kernels) -> Result<Self> {
        let trainable: Vec<_> = params.trainable().collect();
        if kernels.cpu() {
            let odd = trainable
                .iter()
                .find(|p| !p.tensor.device().is_cpu() || p.tensor.dtype() != DType::F32);
            if let Some(p) = odd {
                return Err(Error::Config(format!(
                    "the CPU update kernel needs every parameter f32 on the CPU; {} is {:?} on {:?}",
                    p.name,
                    p.tensor.dtype(),
                    p.tensor.device().location()
                )));
            }
        }
        Ok(Optimizer {
            kind,
            names: trainable.iter().map(|p| p.name.clone()).collect(),
            params: trainable.iter().map(|p| p.tensor.clone()).collect(),
            norm_shifts: trainable.iter().map(|p| p.norm_shift).collect(),
            slots: vec![Slots::default(); trainable.len()],
            steps: 0,
            kernels,
        })
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
            update(self.kernels, param, grad, slots, rule)?;
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
                    Some(t) => Some(if self.kernels.cpu() {
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
