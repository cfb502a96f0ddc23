//! Section 4: the small VGG. Eight blocks of Conv2d 3x3 (stride 1, padding 1), 2-d batch norm
//! and ReLU, five overlapping max-pools (3x3, stride 2, padding 1), then Linear 512 -> 10.
//! A convolution followed by batch norm has no bias: the norm subtracts the batch mean, so a
//! bias would only shift the running mean.
//!
//! The layer sequence is written once (`forward`); its maps are in the kernels' layout
//! (`kernels::conv::maps`): on the CPU batch-innermost (channels, height, width, batch) from
//! the first layer to the last, so each convolution's products give that layout directly,
//! batch norm reads each channel contiguously, and every spatial loop (Winograd's transforms,
//! the pool) runs over whole batch rows; the references keep candle's (batch, channels,
//! height, width) with candle's own ops.

use super::init;
use super::linear::Linear;
use super::norm_params::register_norm;
use crate::config::{ConvInit, Norm, Precision, RunConfig};
use crate::kernels::bn_relu::bn_relu;
use crate::kernels::conv::conv_bn_relu_inference;
use crate::kernels::conv::{add_channel_bias, conv2d, maps, rows};
use crate::kernels::norm::NormParams;
use crate::kernels::pool::{max_pool, LAB_POOL};
use crate::kernels::Kernels;
use crate::model::{Compute, Network, Params};
use crate::Result;
use candle_core::{DType, Tensor, Var};
use rand::rngs::SmallRng;
use std::collections::HashMap;

/// Moves a saved bias `bias` into the running mean `mean` of the batch norm it fed (the norm
/// subtracted it again): weights saved when such layers had a bias load into layers without.
pub fn fold_bias(tensors: &mut HashMap<String, Tensor>, bias: &str, mean: &str) -> Result<()> {
    if let (Some(b), Some(m)) = (tensors.get(bias), tensors.get(mean)) {
        let folded = (m - b)?;
        tensors.insert(mean.to_string(), folded);
        tensors.remove(bias);
    }
    Ok(())
}

/// Conv2d 3x3, then batch norm and ReLU (or bias and ReLU without a norm).
struct ConvBlock {
    name: &'static str,
    weight: Var,
    bias: Option<Var>,
    bn: Option<NormParams>,
}

/// The ConvNet.
pub struct ConvNet {
    params: Params,
    layers: Vec<Option<ConvBlock>>,
    linear: Linear,
    kernels: Kernels,
    precision: Precision,
}

impl ConvNet {
    /// The table's network with the spec's init (PyTorch's default, `init::torch_default`)
    /// drawn from `rng`; `init_std`, when set, applies to the final linear layer only, and
    /// `conv_init` = dirac makes every convolution after the first start as the identity on
    /// its input's channels (`init::dirac`).
    pub fn new(config: &RunConfig, rng: &mut SmallRng, compute: &Compute) -> Result<Self> {
        let device = compute.device();
        let with_bn = config.norm == Norm::Batchnorm;
        let mut params = Params::new();
        let mut layers = Vec::new();
        let mut c_in = 3;
        for entry in crate::model::CONVNET {
            let Some((name, c_out)) = *entry else {
                layers.push(None);
                continue;
            };
            // The bias is drawn either way, so the weights match a network that has one.
            let (mut w, b) =
                init::torch_default(rng, &[c_out, c_in, 3, 3], c_in * 9, c_out, device)?;
            let first = layers.is_empty();
            if config.conv_init == ConvInit::Dirac && !first {
                w = init::dirac(&w)?;
            }
            let weight = params.var(format!("{name}.weight"), &w)?;
            let (bias, bn) = if with_bn {
                let bn = register_norm(
                    &mut params,
                    &format!("{name}.bn"),
                    c_out,
                    (DType::F32, device),
                )?;
                (None, Some(bn))
            } else {
                (Some(params.var(format!("{name}.bias"), &b)?), None)
            };
            layers.push(Some(ConvBlock {
                name,
                weight,
                bias,
                bn,
            }));
            c_in = c_out;
        }
        let init = match config.init_std {
            Some(_) => init::linear(rng, 512, 10, config.init_std, device)?,
            None => init::torch_default(rng, &[512, 10], 512, 10, device)?,
        };
        let linear = Linear::register(
            &mut params,
            "linear",
            init,
            true,
            ((compute.kernels(), config.precision), false),
        )?;
        Ok(ConvNet {
            params,
            layers,
            linear,
            kernels: compute.kernels(),
            precision: config.precision,
        })
    }
}

impl Network for ConvNet {
    fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
        let k = self.kernels;
        let mut h = maps(k, x)?;
        let mut first = true;
        for layer in &self.layers {
            h = match layer {
                Some(block) => {
                    let weight = block.weight.as_tensor();
                    let input = std::mem::replace(&mut first, false);
                    match (&block.bn, &block.bias) {
                        // An f32 evaluation on the CPU: the norm and ReLU applied as the
                        // convolution writes its output.
                        (Some(bn), _) if k.cpu() && !train && self.precision == Precision::F32 => {
                            conv_bn_relu_inference(&h, weight, bn)?
                        }
                        (bn, bias) => {
                            let y = conv2d((k, self.precision), &h, weight, input, train)?;
                            match (bn, bias) {
                                (Some(bn), _) => bn_relu(k, &y, bn, train)?,
                                (None, Some(b)) => {
                                    add_channel_bias(k, &y, b.as_tensor())?.relu()?
                                }
                                (None, None) => y.relu()?,
                            }
                        }
                    }
                }
                None => max_pool(k, &h, LAB_POOL)?,
            };
        }
        Ok(self.linear.forward(&rows(k, &h)?)?)
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn probe(&mut self, x: &Tensor) -> Result<Vec<(String, Tensor)>> {
        let k = self.kernels;
        let mut h = maps(k, x)?;
        let mut first = true;
        let mut out = Vec::new();
        for layer in &self.layers {
            h = match layer {
                Some(block) => {
                    let y = conv2d(
                        (k, self.precision),
                        &h,
                        block.weight.as_tensor(),
                        first,
                        false,
                    )?;
                    first = false;
                    let a = match (&block.bn, &block.bias) {
                        (Some(bn), _) => bn_relu(k, &y, bn, true)?,
                        (None, Some(b)) => add_channel_bias(k, &y, b.as_tensor())?.relu()?,
                        (None, None) => y.relu()?,
                    };
                    out.push((block.name.to_string(), a.detach()));
                    a
                }
                None => max_pool(k, &h, LAB_POOL)?,
            };
        }
        Ok(out)
    }

    fn eval_chunk(&self) -> usize {
        // conv2's patches alone are 576 x (chunk x 256) values: 100 images keep it near 60 MB.
        100
    }

    /// Weights saved when the convolutions before batch norm had a bias: the bias moves into
    /// the running mean, which is where it acted at inference.
    fn adapt(&self, tensors: &mut HashMap<String, Tensor>) -> Result<()> {
        for block in self.layers.iter().flatten() {
            let (bias, mean) = (
                format!("{}.bias", block.name),
                format!("{}.bn.running_mean", block.name),
            );
            if block.bn.is_none() {
                continue;
            }
            if let (Some(b), Some(m)) = (tensors.get(&bias), tensors.get(&mean)) {
                let folded = (m - b)?;
                tensors.insert(mean, folded);
                tensors.remove(&bias);
            }
        }
        Ok(())
    }
}
