//! The normalisation after a hidden layer: none, candle-nn's batch norm (1-d or 2-d), or
//! section 3's batch norm with either backward. Each registers its weight, bias and running
//! statistics under one prefix.

use super::batch_norm::{Backward, BatchNorm1d, RunningStats, EPS};
use super::init::constant;
use crate::config::Norm;
use crate::train::{Compute, Params};
use crate::Result;
use candle_core::{DType, Device, ModuleT, Tensor, Var};

/// A batch norm's parameters, registered as `PREFIX.weight`, `PREFIX.bias`,
/// `PREFIX.running_mean` and `PREFIX.running_var`, and candle-nn's layer over them.
pub struct BatchNormParams {
    /// Scale.
    pub weight: Var,
    /// Shift.
    pub bias: Var,
    /// Running statistics.
    pub running: RunningStats,
    /// candle-nn's batch norm on the same tensors (the reference path).
    pub candle: candle_nn::BatchNorm,
}

impl BatchNormParams {
    /// Weight 1, bias 0, running mean 0 and variance 1 over `features` channels.
    pub fn register(
        params: &mut Params,
        prefix: &str,
        features: usize,
        device: &Device,
    ) -> Result<Self> {
        let weight = params.var(
            format!("{prefix}.weight"),
            &constant(&[features], 1.0, device)?,
        )?;
        let bias = params.norm_shift(
            format!("{prefix}.bias"),
            &constant(&[features], 0.0, device)?,
        )?;
        let running = RunningStats::register(params, prefix, features, DType::F32, device)?;
        let candle = candle_nn::BatchNorm::new(
            features,
            running.mean.as_tensor().clone(),
            running.var.as_tensor().clone(),
            weight.as_tensor().clone(),
            bias.as_tensor().clone(),
            EPS,
        )?;
        Ok(BatchNormParams {
            weight,
            bias,
            running,
            candle,
        })
    }
}

/// A normalisation layer.
pub enum NormLayer {
    /// None.
    None,
    /// candle-nn's batch norm (over every axis but the channel axis 1).
    Candle(BatchNormParams),
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
                NormLayer::Candle(BatchNormParams::register(params, prefix, features, device)?)
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
            NormLayer::Candle(bn) => bn.candle.forward_t(x, train),
            NormLayer::Custom(bn) => bn.forward_t(x, train),
        }
    }
}
