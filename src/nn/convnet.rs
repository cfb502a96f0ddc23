//! Section 4: the small VGG. Eight blocks of Conv2d 3x3 (stride 1, padding 1), 2-d batch norm
//! and ReLU, five overlapping max-pools (3x3, stride 2, padding 1), then Linear 512 -> 10.

use super::conv::conv2d_same;
use super::init;
use super::linear::Linear;
use super::norm::NormLayer;
use super::pool::{max_pool2d, LAB_POOL};
use crate::config::RunConfig;
use crate::train::{Compute, Network, Params};
use crate::Result;
use candle_core::{Tensor, Var};
use rand::rngs::SmallRng;

/// The architecture table: a conv block's name and output channels, or a pool.
pub const ARCHITECTURE: &[Option<(&str, usize)>] = &[
    Some(("conv1", 64)),
    None,
    Some(("conv2", 128)),
    None,
    Some(("conv3_a", 256)),
    Some(("conv3_b", 256)),
    None,
    Some(("conv4_a", 512)),
    Some(("conv4_b", 512)),
    None,
    Some(("conv5_a", 512)),
    Some(("conv5_b", 512)),
    None,
];

/// Conv2d 3x3 with bias, then the normalisation, then ReLU.
struct ConvBlock {
    weight: Var,
    bias: Var,
    norm: NormLayer,
}

/// The ConvNet.
pub struct ConvNet {
    params: Params,
    layers: Vec<Option<ConvBlock>>,
    linear: Linear,
    fast: bool,
}

impl ConvNet {
    /// The table's network with the spec's init (PyTorch's default, `init::torch_default`)
    /// drawn from `rng`; `init_std`, when set, applies to the final linear layer only.
    pub fn new(config: &RunConfig, rng: &mut SmallRng, compute: &Compute) -> Result<Self> {
        let device = &compute.device;
        let mut params = Params::new();
        let mut layers = Vec::new();
        let mut c_in = 3;
        for entry in ARCHITECTURE {
            let Some((name, c_out)) = *entry else {
                layers.push(None);
                continue;
            };
            let (w, b) = init::torch_default(rng, &[c_out, c_in, 3, 3], c_in * 9, c_out, device)?;
            let weight = params.var(format!("{name}.weight"), &w)?;
            let bias = params.var(format!("{name}.bias"), &b)?;
            let norm = NormLayer::register(
                config.norm,
                &mut params,
                &format!("{name}.bn"),
                c_out,
                compute,
            )?;
            layers.push(Some(ConvBlock { weight, bias, norm }));
            c_in = c_out;
        }
        let init = match config.init_std {
            Some(_) => init::linear(rng, 512, 10, config.init_std, device)?,
            None => init::torch_default(rng, &[512, 10], 512, 10, device)?,
        };
        let linear = Linear::register(&mut params, "linear", init)?;
        Ok(ConvNet {
            params,
            layers,
            linear,
            fast: compute.use_fast(),
        })
    }
}

impl Network for ConvNet {
    fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
        let batch = x.dim(0)?;
        let mut h = x.reshape((batch, 3, 32, 32))?;
        for layer in &self.layers {
            h = match layer {
                Some(block) => {
                    let y = conv2d_same(
                        &h,
                        block.weight.as_tensor(),
                        block.bias.as_tensor(),
                        self.fast,
                    )?;
                    block.norm.forward_t(&y, train)?.relu()?
                }
                None => max_pool2d(&h, LAB_POOL, self.fast)?,
            };
        }
        Ok(self.linear.forward(&h.flatten_from(1)?)?)
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn eval_chunk(&self) -> usize {
        // conv2's patches alone are 576 x (chunk x 256) values: 100 images keep it near 60 MB.
        100
    }
}
