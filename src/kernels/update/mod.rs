//! The optimizers' update rules (PyTorch's sgd, momentum, adam, adamw, rmsprop) on one
//! parameter, in place: the CPU op (`cpu`: one fused pass over parameter, gradient and state)
//! beside the same rules as plain tensor ops (`reference`).

mod cpu;
mod reference;

use super::Kernels;
use crate::config::OptimizerKind;
use crate::Result;
use candle_core::{DType, Tensor};

/// Adam's and AdamW's beta1.
pub const BETA1: f64 = 0.9;
/// Adam's and AdamW's beta2.
pub const BETA2: f64 = 0.999;
/// Adam's, AdamW's and RMSprop's epsilon.
pub const EPS: f64 = 1e-8;
/// RMSprop's smoothing constant (PyTorch's default alpha).
pub const RMSPROP_ALPHA: f64 = 0.99;

/// The scalars of one update, computed once per step.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The update rule.
    pub kind: OptimizerKind,
    /// Learning rate.
    pub lr: f64,
    /// Heavy-ball factor (momentum, rmsprop).
    pub momentum: f64,
    /// L2 penalty (decoupled for adamw).
    pub weight_decay: f64,
    /// Adam: 1 - beta1^t.
    pub bias1: f64,
    /// Adam: sqrt(1 - beta2^t).
    pub bias2_sqrt: f64,
    /// Factor of every gradient (gradient clipping).
    pub grad_scale: f64,
}

/// Per-parameter state: up to two buffers of the parameter's shape, absent until first used.
#[derive(Debug, Clone, Default)]
pub struct Slots {
    /// Momentum or Adam's first moment.
    pub first: Option<Buffer>,
    /// Adam's or RMSprop's second moment.
    pub second: Option<Buffer>,
}

/// A state buffer: host memory for the CPU op, a tensor for the reference.
#[derive(Debug, Clone)]
pub enum Buffer {
    /// f32 values in host memory.
    Host(Vec<f32>),
    /// A tensor on the parameter's device.
    Device(Tensor),
}

/// Updates `param` in place with `grad` (same shape) and its state `slots`: the CPU op for
/// f32 parameters, else the reference.
pub fn update(
    kernels: Kernels,
    param: &Tensor,
    grad: &Tensor,
    slots: &mut Slots,
    rule: Rule,
) -> Result<()> {
    if kernels.cpu() && param.dtype() == DType::F32 {
        cpu::update(param, &grad.contiguous()?, slots, rule)
    } else {
        reference::update(param, grad, slots, rule)
    }
}
