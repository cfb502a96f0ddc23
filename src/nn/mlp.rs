//! Section 2: an MLP on candle's autograd. Each hidden layer is Linear, then the chosen
//! normalisation, then LeakyReLU, then dropout (after every hidden layer but the last, or
//! after every one: `dropout_at`); the output layer gives logits. With candle-nn's batch norm on the CPU, norm, activation and dropout
//! run as one op (`bn_act`); the reference path runs them as separate tensor ops.

use super::bn_act::bn_leaky_dropout;
use super::convnet::fold_bias;
use super::dropout::{dropout, dropout_mask, leaky_relu};
use super::linear::Linear;
use super::norm::NormLayer;
use crate::config::{Norm, RunConfig};
use crate::train::{mlp_widths, Compute, Network, Params};
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
    fast: bool,
}

impl AutogradMlp {
    /// The network of `config`, initial weights drawn from `rng`.
    pub fn new(config: &RunConfig, rng: &mut SmallRng, compute: &Compute) -> Result<Self> {
        let widths = mlp_widths(&config.hidden);
        let device = &compute.device;
        let with_bias = config.norm == Norm::None;
        let mut params = Params::new();
        let mut hidden = Vec::new();
        for (i, w) in widths[..widths.len() - 1].windows(2).enumerate() {
            let linear = Linear::with_init(
                &mut params,
                &format!("fc{}", i + 1),
                rng,
                (w[0], w[1]),
                config.init_std,
                (device, with_bias),
            )?
            .takes_input(i == 0 && compute.use_fast());
            let norm = NormLayer::register(
                config.norm,
                &mut params,
                &format!("norm{}", i + 1),
                w[1],
                compute,
            )?;
            hidden.push((linear, norm));
        }
        let n = widths.len();
        let output = Linear::with_init(
            &mut params,
            "out",
            rng,
            (widths[n - 2], widths[n - 1]),
            config.init_std,
            (device, true),
        )?
        .takes_input(hidden.is_empty() && compute.use_fast());
        Ok(AutogradMlp {
            params,
            hidden,
            output,
            neg_slope: config.neg_slope,
            dropout: config.dropout,
            dropout_last: config.dropout_at == crate::config::DropoutAt::All,
            dropout_rng: SmallRng::seed_from_u64(config.seed),
            fast: compute.use_fast(),
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
            h = match norm {
                NormLayer::Candle(bn) if self.fast => {
                    let mask = drop
                        .then(|| dropout_mask(h.elem_count(), self.dropout, &mut self.dropout_rng));
                    bn_leaky_dropout(
                        &h,
                        &bn.weight,
                        &bn.bias,
                        &bn.running,
                        self.neg_slope,
                        mask,
                        train,
                    )?
                }
                _ => {
                    let a = leaky_relu(&norm.forward_t(&h, train)?, self.neg_slope)?;
                    if drop {
                        dropout(&a, self.dropout, &mut self.dropout_rng)?
                    } else {
                        a
                    }
                }
            };
        }
        Ok(self.output.forward(&h)?)
    }

    fn params(&self) -> &Params {
        &self.params
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
