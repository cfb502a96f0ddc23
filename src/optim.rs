//! Optimizers with PyTorch's update rules: sgd, momentum (heavy ball), adam, adamw (decoupled
//! weight decay) and rmsprop. Each parameter is updated in one fused pass, in place, with its
//! state kept beside it; a variable that got no gradient (running statistics) is never touched.

use crate::config::OptimizerKind;
use crate::inplace::{contiguous, contiguous_mut};
use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, InplaceOp2, Layout, Result, Var, WithDType};
use std::sync::Mutex;

/// Adam's and AdamW's beta1.
pub const BETA1: f64 = 0.9;
/// Adam's and AdamW's beta2.
pub const BETA2: f64 = 0.999;
/// Adam's, AdamW's and RMSprop's epsilon.
pub const EPS: f64 = 1e-8;
/// RMSprop's smoothing constant (PyTorch's default alpha).
pub const RMSPROP_ALPHA: f64 = 0.99;

/// Hyperparameters of an optimizer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptimizerConfig {
    /// Which update rule.
    pub kind: OptimizerKind,
    /// Momentum: heavy-ball factor for `momentum`, momentum buffer for `rmsprop`.
    pub momentum: f64,
    /// L2 penalty added to the gradient (`adamw`: decoupled, applied to the weights).
    pub weight_decay: f64,
}

/// Per-element state of one parameter: up to two buffers, zero until first used.
#[derive(Debug, Clone, Default)]
struct State {
    first: Vec<f64>,
    second: Vec<f64>,
}

/// An optimizer over a fixed list of variables.
pub struct Optimizer {
    config: OptimizerConfig,
    vars: Vec<Var>,
    states: Vec<State>,
    steps: u64,
}

/// The fused update of one parameter with its gradient, as an in-place op on the parameter.
struct Update<'a> {
    config: OptimizerConfig,
    lr: f64,
    step: u64,
    state: Mutex<&'a mut State>,
}

impl Update<'_> {
    fn apply<T: WithDType>(&self, p: &mut [T], g: &[T]) {
        let c = self.config;
        let (lr, wd) = (self.lr, c.weight_decay);
        let mut guard = self.state.lock().expect("optimizer state lock");
        let state: &mut State = &mut guard;
        let needs = |v: &mut Vec<f64>| {
            if v.len() != p.len() {
                *v = vec![0.0; p.len()];
            }
        };
        match c.kind {
            OptimizerKind::Sgd => {
                for (p, g) in p.iter_mut().zip(g) {
                    let (pv, gv) = (p.to_f64(), g.to_f64());
                    *p = T::from_f64(pv - lr * (gv + wd * pv));
                }
            }
            OptimizerKind::Momentum => {
                needs(&mut state.first);
                let first_step = self.step == 1;
                for ((p, g), b) in p.iter_mut().zip(g).zip(state.first.iter_mut()) {
                    let pv = p.to_f64();
                    let gv = g.to_f64() + wd * pv;
                    *b = if first_step { gv } else { c.momentum * *b + gv };
                    *p = T::from_f64(pv - lr * *b);
                }
            }
            OptimizerKind::Adam | OptimizerKind::Adamw => {
                needs(&mut state.first);
                needs(&mut state.second);
                let t = self.step as i32;
                let (bc1, bc2) = (1.0 - BETA1.powi(t), 1.0 - BETA2.powi(t));
                let decoupled = c.kind == OptimizerKind::Adamw;
                for (((p, g), m), v) in p
                    .iter_mut()
                    .zip(g)
                    .zip(state.first.iter_mut())
                    .zip(state.second.iter_mut())
                {
                    let mut pv = p.to_f64();
                    let mut gv = g.to_f64();
                    if decoupled {
                        pv *= 1.0 - lr * wd;
                    } else {
                        gv += wd * pv;
                    }
                    *m = BETA1 * *m + (1.0 - BETA1) * gv;
                    *v = BETA2 * *v + (1.0 - BETA2) * gv * gv;
                    let step = lr * (*m / bc1) / ((*v / bc2).sqrt() + EPS);
                    *p = T::from_f64(pv - step);
                }
            }
            OptimizerKind::Rmsprop => {
                needs(&mut state.second);
                let with_momentum = c.momentum > 0.0;
                if with_momentum {
                    needs(&mut state.first);
                }
                for (i, (p, g)) in p.iter_mut().zip(g).enumerate() {
                    let pv = p.to_f64();
                    let gv = g.to_f64() + wd * pv;
                    let v = &mut state.second[i];
                    *v = RMSPROP_ALPHA * *v + (1.0 - RMSPROP_ALPHA) * gv * gv;
                    let scaled = gv / (v.sqrt() + EPS);
                    let delta = if with_momentum {
                        let b = &mut state.first[i];
                        *b = c.momentum * *b + scaled;
                        *b
                    } else {
                        scaled
                    };
                    *p = T::from_f64(pv - lr * delta);
                }
            }
        }
    }
}

impl InplaceOp2 for Update<'_> {
    fn name(&self) -> &'static str {
        "optimizer-update"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        match (s1, s2) {
            (CpuStorage::F32(p), CpuStorage::F32(g)) => self.apply(
                contiguous_mut(p, l1, "optimizer")?,
                contiguous(g, l2, "optimizer")?,
            ),
            (CpuStorage::F64(p), CpuStorage::F64(g)) => self.apply(
                contiguous_mut(p, l1, "optimizer")?,
                contiguous(g, l2, "optimizer")?,
            ),
            _ => candle_core::bail!(
                "optimizer: f32 or f64 parameters with gradients of the same dtype"
            ),
        }
        Ok(())
    }
}

impl Optimizer {
    /// An optimizer for `vars`.
    pub fn new(config: OptimizerConfig, vars: Vec<Var>) -> Self {
        let states = vec![State::default(); vars.len()];
        Optimizer {
            config,
            vars,
            states,
            steps: 0,
        }
    }

    /// One update of every variable that has a gradient in `grads`, with learning rate `lr`.
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<()> {
        self.steps += 1;
        for (var, state) in self.vars.iter().zip(self.states.iter_mut()) {
            let Some(grad) = grads.get(var.as_tensor()) else {
                continue;
            };
            let grad = grad.contiguous()?;
            let update = Update {
                config: self.config,
                lr,
                step: self.steps,
                state: Mutex::new(state),
            };
            var.as_tensor().inplace_op2(&grad, &update)?;
        }
        Ok(())
    }

    /// Updates done so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }
}
