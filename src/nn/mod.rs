//! Sections 2-4 on candle's autograd: the MLP, the batch norm written twice, and their
//! building blocks. Every parameter is a `Var` drawn from the run's seeded generator.

pub mod batch_norm;
pub mod conv;
pub mod convnet;
pub mod init;
pub mod input_linear;
pub mod mlp;
pub mod pool;

pub use batch_norm::{Backward, BatchNorm1d, RunningStats};
pub use mlp::AutogradMlp;

use crate::model::{count_correct, EvalStats, StepStats};
use crate::optim::Optimizer;
use candle_core::{DType, Device, Tensor};

/// Labels as the u32 tensor the loss takes.
fn label_tensor(labels: &[u8]) -> candle_core::Result<Tensor> {
    let v: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
    Tensor::from_vec(v, labels.len(), &Device::Cpu)
}

/// Cross-entropy of training logits, its backward and one optimizer update.
pub(crate) fn train_on_logits(
    logits: &Tensor,
    labels: &[u8],
    optimizer: &mut Optimizer,
    lr: f64,
) -> crate::Result<StepStats> {
    let loss = candle_nn::loss::cross_entropy(logits, &label_tensor(labels)?)?;
    let grads = loss.backward()?;
    optimizer.step(&grads, lr)?;
    Ok(StepStats {
        loss: loss.to_dtype(DType::F64)?.to_scalar::<f64>()?,
        correct: count_correct(logits, labels)?,
    })
}

/// Summed cross-entropy and correct predictions of inference logits.
pub(crate) fn evaluate_logits(logits: &Tensor, labels: &[u8]) -> crate::Result<EvalStats> {
    let loss = candle_nn::loss::cross_entropy(logits, &label_tensor(labels)?)?;
    Ok(EvalStats {
        loss_sum: loss.to_dtype(DType::F64)?.to_scalar::<f64>()? * labels.len() as f64,
        correct: count_correct(logits, labels)?,
    })
}
