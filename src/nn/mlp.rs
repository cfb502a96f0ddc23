//! Section 2: an MLP on candle's autograd. Each hidden layer is Linear, then the chosen
//! normalisation, then LeakyReLU, then dropout (all but the last hidden layer); the output
//! layer gives logits and the loss takes them.

use super::batch_norm::{Backward, BatchNorm1d};
use super::init;
use super::input_linear::input_matmul;
use crate::config::{Norm, RunConfig};
use crate::model::{EvalStats, Model, StepStats};
use crate::optim::{Optimizer, OptimizerConfig};
use crate::Result;
use candle_core::{DType, Module, ModuleT, Tensor, Var};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// A Linear layer with its weight stored (in, out).
#[derive(Debug, Clone)]
pub struct Linear {
    /// Weight, (in, out).
    pub weight: Var,
    /// Bias, (out).
    pub bias: Var,
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(self.weight.as_tensor())?
            .broadcast_add(self.bias.as_tensor())
    }
}

/// The normalisation after a hidden Linear.
pub enum NormLayer {
    /// None.
    None,
    /// candle-nn's batch norm, with its weight and bias variables.
    Candle(candle_nn::BatchNorm, Var, Var),
    /// Section 3's batch norm, either backward.
    Custom(BatchNorm1d),
}

impl NormLayer {
    fn new(norm: Norm, features: usize, dtype: DType) -> candle_core::Result<Self> {
        Ok(match norm {
            Norm::None => NormLayer::None,
            Norm::Batchnorm => {
                let (bn, weight, bias) = init::candle_batch_norm(features, dtype)?;
                NormLayer::Candle(bn, weight, bias)
            }
            Norm::CustomAutograd => {
                NormLayer::Custom(BatchNorm1d::new(features, dtype, Backward::Autograd)?)
            }
            Norm::CustomManual => {
                NormLayer::Custom(BatchNorm1d::new(features, dtype, Backward::Manual)?)
            }
        })
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        match self {
            NormLayer::None => Ok(x.clone()),
            NormLayer::Candle(bn, _, _) => bn.forward_t(x, train),
            NormLayer::Custom(bn) => bn.forward_t(x, train),
        }
    }

    /// Trainable variables.
    fn trainable(&self) -> Vec<Var> {
        match self {
            NormLayer::None => vec![],
            NormLayer::Candle(_, w, b) => vec![w.clone(), b.clone()],
            NormLayer::Custom(bn) => vec![bn.gamma.clone(), bn.beta.clone()],
        }
    }

    /// Weight, bias, running mean and running variance, by name.
    fn named(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let (w, b, m, v) = match self {
            NormLayer::None => return vec![],
            NormLayer::Candle(bn, w, b) => (
                w.as_tensor().clone(),
                b.as_tensor().clone(),
                bn.running_mean().clone(),
                bn.running_var().clone(),
            ),
            NormLayer::Custom(bn) => (
                bn.gamma.as_tensor().clone(),
                bn.beta.as_tensor().clone(),
                bn.running.mean.as_tensor().clone(),
                bn.running.var.as_tensor().clone(),
            ),
        };
        vec![
            (format!("{prefix}.weight"), w),
            (format!("{prefix}.bias"), b),
            (format!("{prefix}.running_mean"), m),
            (format!("{prefix}.running_var"), v),
        ]
    }
}

/// The autograd MLP with its optimizer and its dropout generator.
pub struct AutogradMlp {
    hidden: Vec<(Linear, NormLayer)>,
    output: Linear,
    neg_slope: f64,
    dropout: f64,
    optimizer: Optimizer,
    dropout_rng: SmallRng,
}

/// LeakyReLU as max(x, a x), for 0 <= a <= 1.
pub fn leaky_relu(x: &Tensor, slope: f64) -> candle_core::Result<Tensor> {
    x.maximum(&x.affine(slope, 0.0)?)
}

/// Inverted dropout with a mask drawn from `rng`: kept units are scaled by 1 / (1 - p).
pub fn dropout(x: &Tensor, p: f64, rng: &mut SmallRng) -> candle_core::Result<Tensor> {
    if p <= 0.0 {
        return Ok(x.clone());
    }
    let scale = (1.0 / (1.0 - p)) as f32;
    let mask: Vec<f32> = (0..x.elem_count())
        .map(|_| if rng.random::<f64>() < p { 0.0 } else { scale })
        .collect();
    let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
    x * mask
}

impl AutogradMlp {
    /// Builds the network of `config` (widths from `widths`: inputs, hidden..., classes).
    pub fn new(config: &RunConfig, widths: &[usize], rng: &mut SmallRng) -> Result<Self> {
        let dtype = DType::F32;
        let mut hidden = Vec::new();
        for w in widths[..widths.len() - 1].windows(2) {
            let (weight, bias) = init::linear(rng, w[0], w[1], config.init_std, dtype)?;
            hidden.push((
                Linear { weight, bias },
                NormLayer::new(config.norm, w[1], dtype)?,
            ));
        }
        let n = widths.len();
        let (weight, bias) =
            init::linear(rng, widths[n - 2], widths[n - 1], config.init_std, dtype)?;
        let output = Linear { weight, bias };
        let mut vars = Vec::new();
        for (linear, norm) in &hidden {
            vars.push(linear.weight.clone());
            vars.push(linear.bias.clone());
            vars.extend(norm.trainable());
        }
        vars.push(output.weight.clone());
        vars.push(output.bias.clone());
        let optimizer = Optimizer::new(
            OptimizerConfig {
                kind: config.optimizer,
                momentum: config.momentum,
                weight_decay: config.weight_decay,
            },
            vars,
        );
        Ok(AutogradMlp {
            hidden,
            output,
            neg_slope: config.neg_slope,
            dropout: config.dropout,
            optimizer,
            dropout_rng: SmallRng::seed_from_u64(rng.random()),
        })
    }

    /// Logits; `train` turns on dropout and batch statistics.
    pub fn forward_t(&mut self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        let last = self.hidden.len().saturating_sub(1);
        for (i, (linear, norm)) in self.hidden.iter().enumerate() {
            h = if i == 0 {
                input_matmul(&h, linear.weight.as_tensor())?
                    .broadcast_add(linear.bias.as_tensor())?
            } else {
                linear.forward(&h)?
            };
            h = norm.forward_t(&h, train)?;
            h = leaky_relu(&h, self.neg_slope)?;
            if train && i < last {
                h = dropout(&h, self.dropout, &mut self.dropout_rng)?;
            }
        }
        if self.hidden.is_empty() {
            return input_matmul(&h, self.output.weight.as_tensor())?
                .broadcast_add(self.output.bias.as_tensor());
        }
        self.output.forward(&h)
    }
}

impl Model for AutogradMlp {
    fn train_step(&mut self, x: &Tensor, labels: &[u8], lr: f64) -> Result<StepStats> {
        let logits = self.forward_t(x, true)?;
        super::train_on_logits(&logits, labels, &mut self.optimizer, lr)
    }

    fn evaluate(&mut self, x: &Tensor, labels: &[u8]) -> Result<EvalStats> {
        super::evaluate_logits(&self.forward_t(x, false)?, labels)
    }

    fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (i, (linear, norm)) in self.hidden.iter().enumerate() {
            out.push((
                format!("fc{}.weight", i + 1),
                linear.weight.as_tensor().clone(),
            ));
            out.push((format!("fc{}.bias", i + 1), linear.bias.as_tensor().clone()));
            out.extend(norm.named(&format!("norm{}", i + 1)));
        }
        out.push(("out.weight".into(), self.output.weight.as_tensor().clone()));
        out.push(("out.bias".into(), self.output.bias.as_tensor().clone()));
        out
    }
}
