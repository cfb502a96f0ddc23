//! What the session needs from a network: a training step, an evaluation, and saving.

use crate::config::{Engine, ModelKind, RunConfig};
use crate::manual::{one_hot, ManualMlp};
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor, D};
use rand::rngs::SmallRng;
use std::path::Path;

/// What one training step measured on its batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// Mean loss over the batch.
    pub loss: f64,
    /// Correct predictions in the batch.
    pub correct: usize,
}

/// What an evaluation of one chunk measured.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EvalStats {
    /// Sum of the per-image losses.
    pub loss_sum: f64,
    /// Correct predictions.
    pub correct: usize,
}

/// A trainable network, whatever engine computes its gradients.
pub trait Model: Send {
    /// Forward, backward and one optimizer update on a batch (batch, 3072).
    fn train_step(&mut self, x: &Tensor, labels: &[u8], lr: f64) -> Result<StepStats>;
    /// Loss and correct predictions in inference mode on a chunk (batch, 3072).
    fn evaluate(&mut self, x: &Tensor, labels: &[u8]) -> Result<EvalStats>;
    /// Images per evaluation chunk: bounds the memory an evaluation needs.
    fn eval_chunk(&self) -> usize {
        1000
    }
    /// Named parameters and buffers, for saving.
    fn named_tensors(&self) -> Vec<(String, Tensor)>;
    /// Loads weights saved by `save` into this network, in place, checking every name and shape.
    fn load(&self, path: &Path) -> Result<()> {
        let stored = candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| {
            Error::data(
                path,
                format!(
                    "cannot read weights: {}",
                    e.to_string().lines().next().unwrap_or("")
                ),
            )
        })?;
        for (name, tensor) in self.named_tensors() {
            let saved = stored.get(&name).ok_or_else(|| {
                Error::data(path, format!("no tensor {name}: not saved by this network"))
            })?;
            crate::inplace::assign(&tensor, saved).map_err(|e| {
                Error::data(
                    path,
                    format!("{name}: {}", e.to_string().lines().next().unwrap_or("")),
                )
            })?;
        }
        Ok(())
    }

    /// Saves the weights as safetensors.
    fn save(&self, path: &Path) -> Result<()> {
        let tensors: std::collections::HashMap<String, Tensor> =
            self.named_tensors().into_iter().collect();
        candle_core::safetensors::save(&tensors, path)?;
        Ok(())
    }
}

/// Number of argmax hits of `scores` (batch, classes) against `labels`.
pub fn count_correct(scores: &Tensor, labels: &[u8]) -> Result<usize> {
    let predicted = scores.argmax(D::Minus1)?.to_vec1::<u32>()?;
    Ok(predicted
        .iter()
        .zip(labels)
        .filter(|(p, l)| **p == **l as u32)
        .count())
}

/// The section 1 network behind the `Model` interface.
pub struct ManualModel {
    mlp: ManualMlp,
}

impl Model for ManualModel {
    fn train_step(&mut self, x: &Tensor, labels: &[u8], lr: f64) -> Result<StepStats> {
        let (probs, loss) = self.mlp.train_step(x, labels, lr)?;
        Ok(StepStats {
            loss,
            correct: count_correct(&probs, labels)?,
        })
    }

    fn evaluate(&mut self, x: &Tensor, labels: &[u8]) -> Result<EvalStats> {
        let probs = self.mlp.infer(x)?;
        let targets = one_hot(labels, self.mlp.classes(), x.dtype(), x.device())?;
        let mean = self
            .mlp
            .loss(&probs, &targets)?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?;
        Ok(EvalStats {
            loss_sum: mean * labels.len() as f64,
            correct: count_correct(&probs, labels)?,
        })
    }

    fn named_tensors(&self) -> Vec<(String, Tensor)> {
        self.mlp.named_parameters()
    }
}

/// Pixels per image, the networks' input width.
pub const INPUTS: usize = crate::data::IMAGE_BYTES;
/// CIFAR-10 classes.
pub const CLASSES: usize = 10;

/// Layer widths of an MLP on CIFAR-10: inputs, the hidden widths, classes.
pub fn mlp_widths(hidden: &[usize]) -> Vec<usize> {
    std::iter::once(INPUTS)
        .chain(hidden.iter().copied())
        .chain(std::iter::once(CLASSES))
        .collect()
}

/// Builds the network a configuration describes, drawing initial weights from `rng`.
pub fn build_model(
    config: &RunConfig,
    rng: &mut SmallRng,
    device: &Device,
) -> Result<Box<dyn Model>> {
    config.validate()?;
    match config.engine {
        Engine::Manual => {
            let std = config.init_std.unwrap_or(crate::manual::LAB_INIT_STD);
            let mlp = ManualMlp::new(
                &mlp_widths(&config.hidden),
                config.neg_slope,
                std,
                rng,
                DType::F32,
                device,
            )?;
            Ok(Box::new(ManualModel { mlp }))
        }
        Engine::Autograd => match config.model {
            ModelKind::Mlp => Ok(Box::new(crate::nn::AutogradMlp::new(
                config,
                &mlp_widths(&config.hidden),
                rng,
            )?)),
            ModelKind::Convnet => Ok(Box::new(crate::nn::convnet::ConvNet::new(config, rng)?)),
        },
    }
}
