//! The section 1 MLP: Linear, LeakyReLU, ..., Linear, SoftMax, trained by cross-entropy and
//! plain SGD, with every gradient from the modules' hand-written backward passes.

use super::{one_hot, CrossEntropy, LeakyReLU, Linear, SoftMax};
use crate::config::RunConfig;
use crate::kernels::inplace::axpy;
use crate::kernels::Kernels;
use crate::model::{mlp_widths, Compute, Network, Params};
use candle_core::{DType, Device, Result, Tensor};
use rand::Rng;

/// The lab's initial weight standard deviation.
pub const LAB_INIT_STD: f64 = 1e-4;

/// An MLP for any list of hidden widths.
#[derive(Debug, Clone)]
pub struct ManualMlp {
    /// Linear layers, input to output.
    pub linears: Vec<Linear>,
    /// One LeakyReLU after each hidden Linear.
    pub activations: Vec<LeakyReLU>,
    softmax: SoftMax,
    loss: CrossEntropy,
    probs: Option<Tensor>,
    params: Params,
}

impl ManualMlp {
    /// Layers of `widths` (inputs, hidden..., classes), weights N(0, std^2), biases zero.
    pub fn new(
        widths: &[usize],
        (neg_slope, std): (f64, f64),
        rng: &mut impl Rng,
        (dtype, device): (DType, &Device),
        kernels: Kernels,
    ) -> Result<Self> {
        assert!(widths.len() >= 2, "an MLP needs input and output widths");
        let linears = widths
            .windows(2)
            .map(|w| Linear::new((w[0], w[1]), std, rng, (dtype, device), kernels))
            .collect::<Result<Vec<_>>>()?;
        let mut params = Params::new();
        for (i, l) in linears.iter().enumerate() {
            params.plain(format!("linear{i}.weight"), &l.weight, true);
            params.plain(format!("linear{i}.bias"), &l.bias, true);
        }
        Ok(ManualMlp {
            params,
            linears,
            activations: widths[1..widths.len() - 1]
                .iter()
                .map(|_| LeakyReLU::new(neg_slope))
                .collect(),
            softmax: SoftMax::new(),
            loss: CrossEntropy::default(),
            probs: None,
        })
    }

    /// The network `config` describes (engine manual), in f32 on `compute`'s device.
    pub fn from_config(
        config: &RunConfig,
        data: crate::data::DataShape,
        rng: &mut impl Rng,
        compute: &Compute,
    ) -> crate::Result<Self> {
        let std = config.init_std.unwrap_or(LAB_INIT_STD);
        Ok(ManualMlp::new(
            &mlp_widths(&config.hidden, data),
            (config.neg_slope, std),
            rng,
            (DType::F32, compute.device()),
            compute.kernels(),
        )?)
    }

    /// Logits (the last Linear's output), keeping nothing.
    pub fn logits(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        let last = self.linears.len() - 1;
        for (i, linear) in self.linears.iter().enumerate() {
            h = linear.infer(&h)?;
            if i < last {
                h = self.activations[i].infer(&h)?;
            }
        }
        Ok(h)
    }

    /// Class probabilities, keeping what the backward pass needs.
    pub fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        let last = self.linears.len() - 1;
        for (i, linear) in self.linears.iter_mut().enumerate() {
            h = linear.forward(&h)?;
            if i < last {
                h = self.activations[i].forward(&h)?;
            }
        }
        let probs = self.softmax.forward(&h)?;
        self.probs = Some(probs.clone());
        Ok(probs)
    }

    /// Class probabilities, keeping nothing (evaluation).
    pub fn infer(&self, x: &Tensor) -> Result<Tensor> {
        self.softmax.infer(&self.logits(x)?)
    }

    /// Mean cross-entropy of probabilities against one-hot targets.
    pub fn loss(&self, probs: &Tensor, targets: &Tensor) -> Result<Tensor> {
        self.loss.forward(probs, targets)
    }

    /// Backpropagates the loss of the last forward pass into every Linear's gradients.
    pub fn backward(&mut self, targets: &Tensor) -> Result<()> {
        self.backpropagate(targets, None)
    }

    /// Backpropagation and plain SGD in one: each Linear takes its SGD step as soon as its
    /// input gradient is out (`Linear::backward_sgd`).
    pub fn backward_sgd(&mut self, targets: &Tensor, lr: f64) -> Result<()> {
        self.backpropagate(targets, Some(lr))
    }

    /// Backpropagation with `Some(lr)`: each Linear takes its SGD step as soon as its input
    /// gradient is out (`Linear::backward_sgd`); with `None` it keeps its gradients.
    fn backpropagate(&mut self, targets: &Tensor, sgd_lr: Option<f64>) -> Result<()> {
        let probs = self
            .probs
            .as_ref()
            .ok_or_else(|| candle_core::Error::Msg("ManualMlp::backward before forward".into()))?;
        let mut grad = self.loss.backward(probs, targets)?;
        grad = self.softmax.backward(&grad)?;
        for i in (0..self.linears.len()).rev() {
            let dx = match sgd_lr {
                Some(lr) => self.linears[i].backward_sgd(&grad, i > 0, lr)?,
                None => self.linears[i].backward(&grad, i > 0)?,
            };
            match dx {
                Some(dx) => grad = self.activations[i - 1].backward(&dx)?,
                None => break,
            }
        }
        Ok(())
    }

    /// One plain SGD update, p <- p - lr dp, with the gradients of the last backward pass.
    /// Updates in place: clones of this MLP share its weights and see the update.
    pub fn sgd_step(&mut self, lr: f64) -> Result<()> {
        for linear in &mut self.linears {
            if let (Some(gw), Some(gb)) = (&linear.grad_weight, &linear.grad_bias) {
                axpy(linear.kernels, &linear.weight, gw, -lr)?;
                axpy(linear.kernels, &linear.bias, gb, -lr)?;
            }
        }
        Ok(())
    }

    /// Forward, backward and SGD on one batch (the fused `Linear::backward_sgd`, checked
    /// against `backward` then `sgd_step` in the tests); returns the probabilities and the loss.
    pub fn train_step(&mut self, x: &Tensor, labels: &[u8], lr: f64) -> Result<(Tensor, f64)> {
        let targets = one_hot(labels, self.classes(), x.dtype(), x.device())?;
        let probs = self.forward(x)?;
        let loss = self
            .loss(&probs, &targets)?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?;
        self.backpropagate(&targets, Some(lr))?;
        Ok((probs, loss))
    }

    /// Number of output classes.
    pub fn classes(&self) -> usize {
        self.linears
            .last()
            .map(|l| l.bias.dims1().unwrap_or(0))
            .unwrap_or(0)
    }
}

impl Network for ManualMlp {
    fn forward(&mut self, x: &Tensor, _train: bool) -> crate::Result<Tensor> {
        Ok(self.logits(x)?)
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn probe(&mut self, x: &Tensor) -> crate::Result<Vec<(String, Tensor)>> {
        let mut h = x.clone();
        let mut out = Vec::new();
        for (i, linear) in self.linears.iter().enumerate().take(self.linears.len() - 1) {
            h = self.activations[i].infer(&linear.infer(&h)?)?;
            out.push((format!("linear{i}"), h.clone()));
        }
        Ok(out)
    }
}
