//! The normalisation after a hidden layer, as `norm` names it: none, batch norm (over every
//! axis but the channel axis; the CPU runs a fused kernel with its backward written by hand,
//! other devices candle-nn's ops with autograd: the same math), or section 3's batch norm with
//! its backward by autograd or by hand. Each registers its weight, bias and running statistics
//! under one prefix.

use super::batch_norm::{Backward, BatchNorm1d};
use super::norm_params::register_norm;
use crate::config::Norm;
use crate::kernels::norm::NormParams;
use crate::model::Params;
use crate::Result;
use candle_core::{DType, Device};

/// A normalisation layer.
pub enum NormLayer {
    /// None.
    None,
    /// Batch norm, through the kernels (`kernels::bn_act`, `kernels::bn_relu`).
    BatchNorm(NormParams),
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
        device: &Device,
    ) -> Result<Self> {
        Ok(match norm {
            Norm::None => NormLayer::None,
            Norm::Batchnorm => NormLayer::BatchNorm(register_norm(
                params,
                prefix,
                features,
                (DType::F32, device),
            )?),
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
                    (DType::F32, device),
                )?)
            }
        })
    }
}
