//! Section 4: the small VGG. Eight blocks of Conv2d 3x3 (stride 1, padding 1), 2-d batch norm
//! and ReLU, five overlapping max-pools (3x3, stride 2, padding 1), then Linear 512 -> 10.

use super::conv::conv2d_same;
use super::init;
use super::mlp::Linear;
use super::pool::{max_pool2d, LAB_POOL};
use crate::config::RunConfig;
use crate::model::{EvalStats, Model, StepStats};
use crate::optim::{Optimizer, OptimizerConfig};
use crate::Result;
use candle_core::{DType, Module, ModuleT, Tensor, Var};
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

/// Conv2d 3x3 with bias, then batch norm, then ReLU.
struct ConvBlock {
    name: &'static str,
    weight: Var,
    bias: Var,
    bn: candle_nn::BatchNorm,
    bn_weight: Var,
    bn_bias: Var,
}

impl ConvBlock {
    fn new(name: &'static str, c_in: usize, c_out: usize, rng: &mut SmallRng) -> Result<Self> {
        let dtype = DType::F32;
        let (weight, bias) =
            init::torch_default(rng, &[c_out, c_in, 3, 3], c_in * 9, c_out, dtype)?;
        let (bn, bn_weight, bn_bias) = init::candle_batch_norm(c_out, dtype)?;
        Ok(ConvBlock {
            name,
            weight,
            bias,
            bn,
            bn_weight,
            bn_bias,
        })
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let y = conv2d_same(x, self.weight.as_tensor(), self.bias.as_tensor())?;
        self.bn.forward_t(&y, train)?.relu()
    }
}

/// The ConvNet with its optimizer.
pub struct ConvNet {
    layers: Vec<Option<ConvBlock>>,
    linear: Linear,
    optimizer: Optimizer,
}

impl ConvNet {
    /// The table's network with the spec's init (PyTorch's default, `init::torch_default`)
    /// drawn from `rng`; `init_std`, when set, applies to the final linear layer only.
    pub fn new(config: &RunConfig, rng: &mut SmallRng) -> Result<Self> {
        let mut layers = Vec::new();
        let mut c_in = 3;
        for entry in ARCHITECTURE {
            match entry {
                Some((name, c_out)) => {
                    layers.push(Some(ConvBlock::new(name, c_in, *c_out, rng)?));
                    c_in = *c_out;
                }
                None => layers.push(None),
            }
        }
        let (weight, bias) = match config.init_std {
            Some(_) => init::linear(rng, 512, 10, config.init_std, DType::F32)?,
            None => init::torch_default(rng, &[512, 10], 512, 10, DType::F32)?,
        };
        let linear = Linear { weight, bias };
        let mut vars = Vec::new();
        for block in layers.iter().flatten() {
            vars.extend([
                block.weight.clone(),
                block.bias.clone(),
                block.bn_weight.clone(),
                block.bn_bias.clone(),
            ]);
        }
        vars.extend([linear.weight.clone(), linear.bias.clone()]);
        let optimizer = Optimizer::new(
            OptimizerConfig {
                kind: config.optimizer,
                momentum: config.momentum,
                weight_decay: config.weight_decay,
            },
            vars,
        );
        Ok(ConvNet {
            layers,
            linear,
            optimizer,
        })
    }

    /// Logits for flat images (batch, 3072); `train` uses batch statistics.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let batch = x.dim(0)?;
        let mut h = x.reshape((batch, 3, 32, 32))?;
        for layer in &self.layers {
            h = match layer {
                Some(block) => block.forward_t(&h, train)?,
                None => max_pool2d(&h, LAB_POOL)?,
            };
        }
        self.linear.forward(&h.flatten_from(1)?)
    }
}

impl Model for ConvNet {
    fn train_step(&mut self, x: &Tensor, labels: &[u8], lr: f64) -> Result<StepStats> {
        let logits = self.forward_t(x, true)?;
        super::train_on_logits(&logits, labels, &mut self.optimizer, lr)
    }

    fn evaluate(&mut self, x: &Tensor, labels: &[u8]) -> Result<EvalStats> {
        super::evaluate_logits(&self.forward_t(x, false)?, labels)
    }

    fn eval_chunk(&self) -> usize {
        // conv2's patches alone are 576 x (chunk x 256) values: 100 images keep it near 60 MB.
        100
    }

    fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for block in self.layers.iter().flatten() {
            let n = block.name;
            out.push((format!("{n}.weight"), block.weight.as_tensor().clone()));
            out.push((format!("{n}.bias"), block.bias.as_tensor().clone()));
            out.push((
                format!("{n}.bn.weight"),
                block.bn_weight.as_tensor().clone(),
            ));
            out.push((format!("{n}.bn.bias"), block.bn_bias.as_tensor().clone()));
            out.push((
                format!("{n}.bn.running_mean"),
                block.bn.running_mean().clone(),
            ));
            out.push((
                format!("{n}.bn.running_var"),
                block.bn.running_var().clone(),
            ));
        }
        out.push((
            "linear.weight".into(),
            self.linear.weight.as_tensor().clone(),
        ));
        out.push(("linear.bias".into(), self.linear.bias.as_tensor().clone()));
        out
    }
}
