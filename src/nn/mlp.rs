//! Section 2: an MLP on candle's autograd. Each hidden layer is Linear, then the chosen
//! normalisation, then LeakyReLU, then dropout (after every hidden layer but the last, or
//! after every one: `dropout_at`); the output layer gives logits. With `norm = batchnorm` the
//! norm, activation and dropout mask are one kernel (`kernels::bn_act`).

use super::convnet::fold_bias;
use super::dropout::{apply_mask, dropout_mask};
use super::linear::Linear;
use super::norm::NormLayer;
use crate::config::{DropoutAt, Norm, RunConfig};
use crate::kernels::bn_act::{bn_leaky_dropout, leaky_relu};
use crate::kernels::Kernels;
use crate::model::{mlp_widths, Compute, Network, Params};
use crate::Result;
use candle_core::Tensor;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::collections::HashMap;

/// The autograd MLP with its dropout generator.
pub struct AutogradMlp {
    params: Params,
    hidden: Vec<(Linear, NormLayer)>,
    output: Linear,
    neg_slope: f64,
    dropout: f64,
    dropout_last: bool,
    dropout_rng: SmallRng,
    kernels: Kernels,
}

impl AutogradMlp {
    /// The network of `config`, initial weights drawn from `rng`.
    pub fn new(config: &RunConfig, rng: &mut SmallRng, compute: &Compute) -> Result<Self> {
        let widths = mlp_widths(&config.hidden, crate::data::DataShape::CIFAR10);
        let device = compute.device();
        let with_bias = config.norm == Norm::None;
        let mut params = Params::new();
        let mut hidden = Vec::new();
        let layer = |params: &mut Params, name: &str, rng: &mut SmallRng, i: usize, bias| {
            let linear = Linear::with_init(
                params,
                name,
                rng,
                (widths[i], widths[i + 1]),
                config.init_std,
                (device, bias),
                ((compute.kernels(), config.precision), i == 0),
            )?;
            Ok::<_, crate::Error>(linear)
        };
        for i in 0..widths.len() - 2 {
            let linear = layer(&mut params, &format!("fc{}", i + 1), rng, i, with_bias)?;
            let norm = NormLayer::register(
                config.norm,
                &mut params,
                &format!("norm{}", i + 1),
                widths[i + 1],
                device,
            )?;
            hidden.push((linear, norm));
        }
        let output = layer(&mut params, "out", rng, widths.len() - 2, true)?;
        Ok(AutogradMlp {
            params,
            hidden,
            output,
            neg_slope: config.neg_slope,
            dropout: config.dropout,
            dropout_last: config.dropout_at == DropoutAt::All,
            dropout_rng: SmallRng::seed_from_u64(config.seed),
            kernels: compute.kernels(),
        })
    }
}

impl Network for AutogradMlp {
    fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut h = x.clone();
        let last = self.hidden.len().saturating_sub(1);
        for (i, (linear, norm)) in self.hidden.iter().enumerate() {
            h = linear.forward(&h)?;
            let drop = train && (i < last || self.dropout_last) && self.dropout > 0.0;
            let mask =
                drop.then(|| dropout_mask(h.elem_count(), self.dropout, &mut self.dropout_rng));
            h = match norm {
                NormLayer::BatchNorm(bn) => {
                    bn_leaky_dropout(self.kernels, &h, bn, self.neg_slope, mask, train)?
                }
                NormLayer::Custom(bn) => {
                    let a = leaky_relu(&bn.forward_t(&h, train)?, self.neg_slope)?;
                    apply_mask(&a, mask)?
                }
                NormLayer::None => apply_mask(&leaky_relu(&h, self.neg_slope)?, mask)?,
            };
        }
        Ok(self.output.forward(&h)?)
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn probe(&mut self, x: &Tensor) -> Result<Vec<(String, Tensor)>> {
        let mut h = x.clone();
        let mut out = Vec::new();
        for (i, (linear, norm)) in self.hidden.iter().enumerate() {
            h = linear.forward(&h)?;
            h = match norm {
                NormLayer::BatchNorm(bn) => {
                    bn_leaky_dropout(self.kernels, &h, bn, self.neg_slope, None, true)?
                }
                NormLayer::Custom(bn) => leaky_relu(&bn.forward_t(&h, true)?, self.neg_slope)?,
                NormLayer::None => leaky_relu(&h, self.neg_slope)?,
            };
            out.push((format!("fc{}", i + 1), h.detach()));
        }
        Ok(out)
    }

    fn set_dropout(&mut self, p: f64) {
        self.dropout = p;
    }

    fn reseed(&mut self, seed: u64) {
        self.dropout_rng = SmallRng::seed_from_u64(seed);
    }

    /// Weights saved when the layers before a batch norm had a bias: it moves into the norm's
    /// running mean.
    fn adapt(&self, tensors: &mut HashMap<String, Tensor>) -> Result<()> {
        for (i, (linear, _)) in self.hidden.iter().enumerate() {
            if linear.bias.is_none() {
                fold_bias(
                    tensors,
                    &format!("fc{}.bias", i + 1),
                    &format!("norm{}.running_mean", i + 1),
                )?;
            }
        }
        Ok(())
    }
}
