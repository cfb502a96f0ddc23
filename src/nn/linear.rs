//! A Linear layer on autograd with its weight stored (in, out). The network's first layer
//! takes the images, whose gradient nobody reads: it runs `kernels::input_linear`, whose CPU
//! op skips that product in the backward pass. A layer that feeds a batch norm has no bias:
//! the norm subtracts the batch mean, which removes it.

use super::init;
use crate::kernels::input_linear::input_matmul;
use crate::kernels::Kernels;
use crate::model::Params;
use crate::Result;
use candle_core::{Device, Tensor, Var};
use rand::Rng;

/// y = x W + b with W (in, out).
#[derive(Debug, Clone)]
pub struct Linear {
    /// Weight, (in, out).
    pub weight: Var,
    /// Bias, (out), when the layer has one.
    pub bias: Option<Var>,
    /// The kernels of the network's input product, when x is the network's input.
    input: Option<Kernels>,
}

impl Linear {
    /// A layer registered as `PREFIX.weight` (and `PREFIX.bias` when `with_bias`), from
    /// initial values (the bias's are drawn either way, so the weights do not depend on it).
    pub fn register(
        params: &mut Params,
        prefix: &str,
        (weight, bias): (Tensor, Tensor),
        with_bias: bool,
    ) -> Result<Self> {
        Ok(Linear {
            weight: params.var(format!("{prefix}.weight"), &weight)?,
            bias: if with_bias {
                Some(params.var(format!("{prefix}.bias"), &bias)?)
            } else {
                None
            },
            input: None,
        })
    }

    /// A layer with `init::linear`'s values (N(0, std^2), or candle-nn's default).
    pub fn with_init(
        params: &mut Params,
        prefix: &str,
        rng: &mut impl Rng,
        (fan_in, fan_out): (usize, usize),
        std: Option<f64>,
        (device, with_bias): (&Device, bool),
    ) -> Result<Self> {
        let init = init::linear(rng, fan_in, fan_out, std, device)?;
        Self::register(params, prefix, init, with_bias)
    }

    /// Marks the layer as the network's first (its input needs no gradient), computed on the
    /// path `kernels` names.
    pub fn takes_input(mut self, kernels: Kernels) -> Self {
        self.input = Some(kernels);
        self
    }

    /// y = x W + b.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = match self.input {
            Some(kernels) => input_matmul(kernels, x, self.weight.as_tensor())?,
            None => x.matmul(self.weight.as_tensor())?,
        };
        match &self.bias {
            Some(b) => y.broadcast_add(b.as_tensor()),
            None => Ok(y),
        }
    }
}
