//! Initial weights drawn from the engine's own seeded generator (candle's CPU generator cannot
//! be seeded), with the distributions candle-nn would use by default.

use candle_core::{DType, Device, Result, Tensor, Var};
use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};

/// N(0, std^2) values of `shape`.
pub fn normal(rng: &mut impl Rng, shape: &[usize], std: f64, dtype: DType) -> Result<Var> {
    let n: usize = shape.iter().product();
    let dist = Normal::new(0.0, std).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    let data: Vec<f64> = (0..n).map(|_| dist.sample(rng)).collect();
    Var::from_tensor(&Tensor::from_vec(data, shape, &Device::Cpu)?.to_dtype(dtype)?)
}

/// U(-bound, bound) values of `shape`.
pub fn uniform(rng: &mut impl Rng, shape: &[usize], bound: f64, dtype: DType) -> Result<Var> {
    let n: usize = shape.iter().product();
    let data: Vec<f64> = if bound > 0.0 {
        let dist =
            Uniform::new(-bound, bound).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        (0..n).map(|_| dist.sample(rng)).collect()
    } else {
        vec![0.0; n]
    };
    Var::from_tensor(&Tensor::from_vec(data, shape, &Device::Cpu)?.to_dtype(dtype)?)
}

/// A constant variable.
pub fn constant(shape: &[usize], value: f64, dtype: DType) -> Result<Var> {
    Var::from_tensor(&(Tensor::ones(shape, dtype, &Device::Cpu)? * value)?)
}

/// Linear weight (in, out) and bias (out): N(0, std^2) and zero bias when `std` is given,
/// otherwise candle-nn's default (Kaiming normal with fan-in and ReLU gain for the weight,
/// U(-1/sqrt(in), 1/sqrt(in)) for the bias).
pub fn linear(
    rng: &mut impl Rng,
    fan_in: usize,
    fan_out: usize,
    std: Option<f64>,
    dtype: DType,
) -> Result<(Var, Var)> {
    match std {
        Some(std) => Ok((
            normal(rng, &[fan_in, fan_out], std, dtype)?,
            constant(&[fan_out], 0.0, dtype)?,
        )),
        None => {
            let weight_std = 2f64.sqrt() / (fan_in as f64).sqrt();
            let bound = 1.0 / (fan_in as f64).sqrt();
            Ok((
                normal(rng, &[fan_in, fan_out], weight_std, dtype)?,
                uniform(rng, &[fan_out], bound, dtype)?,
            ))
        }
    }
}

/// PyTorch's default for a layer with `fan_in` inputs (Kaiming uniform with a = sqrt(5)):
/// weight and bias both U(-1/sqrt(fan_in), 1/sqrt(fan_in)). The lab's ConvNet specifies it.
pub fn torch_default(
    rng: &mut impl Rng,
    weight_shape: &[usize],
    fan_in: usize,
    bias_len: usize,
    dtype: DType,
) -> Result<(Var, Var)> {
    let bound = 1.0 / (fan_in as f64).sqrt();
    Ok((
        uniform(rng, weight_shape, bound, dtype)?,
        uniform(rng, &[bias_len], bound, dtype)?,
    ))
}

/// candle-nn's batch norm over `features` channels with its weight (1) and bias (0) as
/// variables, running mean 0 and variance 1, eps 1e-5, momentum 0.1.
pub fn candle_batch_norm(
    features: usize,
    dtype: DType,
) -> Result<(candle_nn::BatchNorm, Var, Var)> {
    let weight = constant(&[features], 1.0, dtype)?;
    let bias = constant(&[features], 0.0, dtype)?;
    let bn = candle_nn::BatchNorm::new(
        features,
        Tensor::zeros(features, dtype, &Device::Cpu)?,
        Tensor::ones(features, dtype, &Device::Cpu)?,
        weight.as_tensor().clone(),
        bias.as_tensor().clone(),
        super::batch_norm::EPS,
    )?;
    Ok((bn, weight, bias))
}
