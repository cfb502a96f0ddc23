//! A Linear layer on autograd with its weight stored (in, out), its product on
//! `kernels::linear`. The network's first layer takes the images, whose gradient nobody
//! reads: its CPU op skips that product in the backward pass. A layer that feeds a batch norm has no bias:
//! the norm subtracts the batch mean, which removes it.

use super::init;
use crate::kernels::linear::linear_matmul;
use crate::kernels::Products;
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
    /// The path its product takes and its number format.
    products: Products,
    /// Whether x is the network's input (its gradient is skipped).
    input: bool,
}

impl Linear {
    /// A layer registered as `PREFIX.weight` (and `PREFIX.bias` when `with_bias`), from
    /// initial values (the bias's are drawn either way, so the weights do not depend on it),
    /// its product on the path and in the format `products` names; `input` marks the network's first layer (its
    /// input needs no gradient).
    pub fn register(
        params: &mut Params,
        prefix: &str,
        (weight, bias): (Tensor, Tensor),
        with_bias: bool,
        (products, input): (Products, bool),
    ) -> Result<Self> {
        Ok(Linear {
            weight: params.var(format!("{prefix}.weight"), &weight)?,
            bias: if with_bias {
                Some(params.var(format!("{prefix}.bias"), &bias)?)
            } else {
                None
            },
            products,
            input,
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
        path: (Products, bool),
    ) -> Result<Self> {
        let init = init::linear(rng, fan_in, fan_out, std, device)?;
        Self::register(params, prefix, init, with_bias, path)
    }

    /// y = x W + b.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = linear_matmul(self.products, x, self.weight.as_tensor(), self.input)?;
        match &self.bias {
            Some(b) => y.broadcast_add(b.as_tensor()),
            None => Ok(y),
        }
    }
}
