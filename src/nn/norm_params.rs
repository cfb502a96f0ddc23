//! A batch norm's parameters and running statistics registered in a model's `Params`: what
//! every batch norm (the kernels', candle-nn's, section 3's) starts from.

use super::init::constant;
use crate::kernels::norm::{NormParams, RunningStats};
use crate::model::Params;
use crate::Result;
use candle_core::{DType, Device, Tensor};

/// Registers running mean 0 and variance 1 over `features` as `PREFIX.running_mean` and
/// `PREFIX.running_var`.
pub fn register_running(
    params: &mut Params,
    prefix: &str,
    features: usize,
    (dtype, device): (DType, &Device),
) -> Result<RunningStats> {
    let c = |v: f64| -> Result<Tensor> { Ok(constant(&[features], v, device)?.to_dtype(dtype)?) };
    Ok(RunningStats {
        mean: params.buffer(format!("{prefix}.running_mean"), &c(0.0)?)?,
        var: params.buffer(format!("{prefix}.running_var"), &c(1.0)?)?,
    })
}

/// Registers a batch norm with weight 1, bias 0 (a shift, for `norm_bias_lr`), running mean 0
/// and variance 1 over `features` channels, as `PREFIX.weight`, `PREFIX.bias`,
/// `PREFIX.running_mean` and `PREFIX.running_var`.
pub fn register_norm(
    params: &mut Params,
    prefix: &str,
    features: usize,
    (dtype, device): (DType, &Device),
) -> Result<NormParams> {
    let c = |v: f64| -> Result<Tensor> { Ok(constant(&[features], v, device)?.to_dtype(dtype)?) };
    Ok(NormParams {
        weight: params.var(format!("{prefix}.weight"), &c(1.0)?)?,
        bias: params.norm_shift(format!("{prefix}.bias"), &c(0.0)?)?,
        running: register_running(params, prefix, features, (dtype, device))?,
    })
}
