//! The normalisation after a hidden layer: none, candle-nn's batch norm (1-d or 2-d), or
//! section 3's batch norm with either backward. Each registers its weight, bias and running
//! statistics under one prefix.

use super::batch_norm::{Backward, BatchNorm1d, EPS};
use super::init::constant;
use crate::config::Norm;
use crate::train::{Compute, Params};
use crate::Result;
use candle_core::{ModuleT, Tensor};

/// A normalisation layer.
pub enum NormLayer {
    /// None.
    None,
    /// candle-nn's batch norm (over every axis but the channel axis 1).
    Candle(candle_nn::BatchNorm),
    /// Section 3's batch norm, either backward (2-d inputs only).
    Custom(BatchNorm1d),
}

impl NormLayer {
    /// The layer `norm` names over `features` channels, registered under `prefix`.
    pub fn register(
        norm: Norm,
        params: &mut Params,
        prefix: &str,
        features: usize,
        compute: &Compute,
    ) -> Result<Self> {
        let device = &compute.device;
        Ok(match norm {
            Norm::None => NormLayer::None,
            Norm::Batchnorm => {
                let weight = params.var(
                    format!("{prefix}.weight"),
                    &constant(&[features], 1.0, device)?,
                )?;
                let bias = params.var(
                    format!("{prefix}.bias"),
                    &constant(&[features], 0.0, device)?,
                )?;
                let mean = params.buffer(
                    format!("{prefix}.running_mean"),
                    &constant(&[features], 0.0, device)?,
                )?;
                let var = params.buffer(
                    format!("{prefix}.running_var"),
                    &constant(&[features], 1.0, device)?,
                )?;
                NormLayer::Candle(candle_nn::BatchNorm::new(
                    features,
                    mean.as_tensor().clone(),
                    var.as_tensor().clone(),
                    weight.as_tensor().clone(),
                    bias.as_tensor().clone(),
                    EPS,
                )?)
            }
            Norm::CustomAutograd | Norm::CustomManual => {
                let backward = if norm == Norm::CustomManual {
                    Backward::Manual
                } else {
                    Backward::Autograd
                };
                NormLayer::Custom(BatchNorm1d::register(
                    params,
                    prefix,
                    features,
                    backward,
                    (candle_core::DType::F32, device),
                    compute.use_fast(),
                )?)
            }
        })
    }

    /// Normalises with batch statistics (`train`) or the running ones.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        match self {
            NormLayer::None => Ok(x.clone()),
            NormLayer::Candle(bn) => bn.forward_t(x, train),
            NormLayer::Custom(bn) => bn.forward_t(x, train),
        }
    }
}
