//! Cross-entropy on logits, and counting correct predictions.

use crate::Result;
use candle_core::{DType, Device, Tensor, D};

/// Labels as the u32 tensor the loss takes, on `device`.
pub fn label_tensor(labels: &[u8], device: &Device) -> Result<Tensor> {
    let v: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
    Ok(Tensor::from_vec(v, labels.len(), device)?)
}

/// Mean cross-entropy of logits (batch, classes) against labels, as a scalar tensor.
pub fn cross_entropy(logits: &Tensor, labels: &[u8]) -> Result<Tensor> {
    Ok(candle_nn::loss::cross_entropy(
        logits,
        &label_tensor(labels, logits.device())?,
    )?)
}

/// A scalar tensor's value as f64.
pub fn scalar(t: &Tensor) -> Result<f64> {
    Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?)
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
