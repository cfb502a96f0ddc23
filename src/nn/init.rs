//! Initial values drawn from the engine's own seeded generator (candle's CPU generator cannot
//! be seeded), with the distributions candle-nn and PyTorch use by default. Values are drawn
//! on the host and moved to the run's device.

use candle_core::{DType, Device, Result, Tensor};
use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};

/// N(0, std^2) values of `shape`.
pub fn normal(rng: &mut impl Rng, shape: &[usize], std: f64, device: &Device) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let dist = Normal::new(0.0, std).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
    let data: Vec<f32> = (0..n).map(|_| dist.sample(rng) as f32).collect();
    Tensor::from_vec(data, shape, device)
}

/// U(-bound, bound) values of `shape`.
pub fn uniform(rng: &mut impl Rng, shape: &[usize], bound: f64, device: &Device) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let data: Vec<f32> = if bound > 0.0 {
        let dist =
            Uniform::new(-bound, bound).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        (0..n).map(|_| dist.sample(rng) as f32).collect()
    } else {
        vec![0.0; n]
    };
    Tensor::from_vec(data, shape, device)
}

/// A constant f32 tensor.
pub fn constant(shape: &[usize], value: f64, device: &Device) -> Result<Tensor> {
    Tensor::full(value as f32, shape, device)?.to_dtype(DType::F32)
}

/// Linear weight (in, out) and bias (out): N(0, std^2) and zero bias when `std` is given,
/// otherwise candle-nn's default (Kaiming normal with fan-in and ReLU gain for the weight,
/// U(-1/sqrt(in), 1/sqrt(in)) for the bias).
pub fn linear(
    rng: &mut impl Rng,
    fan_in: usize,
    fan_out: usize,
    std: Option<f64>,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    match std {
        Some(std) => Ok((
            normal(rng, &[fan_in, fan_out], std, device)?,
            constant(&[fan_out], 0.0, device)?,
        )),
        None => {
            let weight_std = 2f64.sqrt() / (fan_in as f64).sqrt();
            let bound = 1.0 / (fan_in as f64).sqrt();
            Ok((
                normal(rng, &[fan_in, fan_out], weight_std, device)?,
                uniform(rng, &[fan_out], bound, device)?,
            ))
        }
    }
}

/// Convolution filters (out, in, kh, kw) whose first `in` filters are the identity when
/// `out >= in`: filter i is 1 at channel i's centre tap and 0 elsewhere (PyTorch's `dirac_` on
/// them); the other filters keep `drawn`'s values. With fewer outputs than inputs, `drawn`.
pub fn dirac(drawn: &Tensor) -> Result<Tensor> {
    let (c_out, c_in, kh, kw) = drawn.dims4()?;
    if c_out < c_in {
        return Ok(drawn.clone());
    }
    let mut w: Vec<f32> = drawn.flatten_all()?.to_vec1()?;
    let per = c_in * kh * kw;
    for (i, filter) in w.chunks_exact_mut(per).take(c_in).enumerate() {
        filter.fill(0.0);
        filter[i * kh * kw + (kh / 2) * kw + kw / 2] = 1.0;
    }
    Tensor::from_vec(w, drawn.shape(), drawn.device())
}

/// PyTorch's default for a layer with `fan_in` inputs (Kaiming uniform with a = sqrt(5)):
/// weight and bias both U(-1/sqrt(fan_in), 1/sqrt(fan_in)). The lab's ConvNet specifies it.
pub fn torch_default(
    rng: &mut impl Rng,
    weight_shape: &[usize],
    fan_in: usize,
    bias_len: usize,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    let bound = 1.0 / (fan_in as f64).sqrt();
    Ok((
        uniform(rng, weight_shape, bound, device)?,
        uniform(rng, &[bias_len], bound, device)?,
    ))
}
