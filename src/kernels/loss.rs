//! Cross-entropy on logits, with optional label smoothing (targets (1 - s) one-hot + s / K),
//! and counting correct predictions. On the CPU the loss is one op that also counts the hits
//! and keeps the softmax for its backward pass, (p - t) / B; the reference is candle's
//! log-softmax and tensor ops.

use super::cpu::f32_slice;
use super::Kernels;
use crate::Result;
use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Shape, Tensor, D};
use std::sync::{Arc, Mutex};

/// Labels as the u32 tensor the loss takes, on `device`.
pub fn label_tensor(labels: &[u8], device: &Device) -> Result<Tensor> {
    let v: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
    Ok(Tensor::from_vec(v, labels.len(), device)?)
}

/// A loss, its value and the batch's correct predictions.
#[derive(Debug, Clone)]
pub struct Loss {
    /// The mean loss as a scalar tensor (backward from here).
    pub tensor: Tensor,
    /// Its value.
    pub value: f64,
    /// Argmax hits against the labels.
    pub correct: usize,
}

/// The fused op; it keeps the softmax for the backward pass.
struct CrossEntropyOp {
    labels: Vec<u8>,
    smoothing: f64,
    probs: Mutex<Vec<f32>>,
    outcome: Arc<Mutex<(f64, usize)>>,
}

impl CustomOp1 for CrossEntropyOp {
    fn name(&self) -> &'static str {
        "cross-entropy"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let &[b, k] = l.dims() else {
            candle_core::bail!(
                "cross-entropy: expected (batch, classes), got {:?}",
                l.dims()
            )
        };
        if self.labels.len() != b || self.labels.iter().any(|&y| y as usize >= k) {
            candle_core::bail!(
                "cross-entropy: {} labels in 0..{k} for {b} rows",
                self.labels.len()
            );
        }
        let z = f32_slice(s, l, "cross-entropy")?;
        let (on, off) = (1.0 - self.smoothing, self.smoothing / k as f64);
        let mut probs = vec![0f32; b * k];
        let (mut total, mut correct) = (0f64, 0usize);
        for ((row, p), &y) in z
            .chunks_exact(k)
            .zip(probs.chunks_exact_mut(k))
            .zip(&self.labels)
        {
            let (mut best, mut arg) = (row[0], 0);
            for (i, &v) in row.iter().enumerate() {
                if v > best {
                    (best, arg) = (v, i);
                }
            }
            correct += usize::from(arg == y as usize);
            let m = best as f64;
            let sum: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
            let lse = m + sum.ln();
            for (p, &v) in p.iter_mut().zip(row) {
                *p = ((v as f64 - lse).exp()) as f32;
            }
            let sum_z: f64 = row.iter().map(|&v| v as f64).sum::<f64>();
            total += lse - on * row[y as usize] as f64 - off * sum_z;
        }
        let mean = total / b.max(1) as f64;
        *self.probs.lock().expect("loss state") = probs;
        *self.outcome.lock().expect("loss state") = (mean, correct);
        Ok((CpuStorage::F32(vec![mean as f32]), Shape::from(())))
    }

    fn bwd(
        &self,
        logits: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let (b, k) = logits.dims2()?;
        let scale = grad.to_dtype(DType::F32)?.to_scalar::<f32>()? / b as f32;
        let (on, off) = (
            (1.0 - self.smoothing) as f32,
            (self.smoothing / k as f64) as f32,
        );
        let mut d = std::mem::take(&mut *self.probs.lock().expect("loss state"));
        for (row, &y) in d.chunks_exact_mut(k).zip(&self.labels) {
            for (i, v) in row.iter_mut().enumerate() {
                let t = off + if i == y as usize { on } else { 0.0 };
                *v = (*v - t) * scale;
            }
        }
        Ok(Some(Tensor::from_vec(d, (b, k), logits.device())?))
    }
}

/// Mean cross-entropy of `logits` (batch, classes) against `labels`, with label smoothing
/// `smoothing` (0 for none), and the argmax hits: the CPU op (for f32 logits), or candle's ops.
pub fn cross_entropy(
    kernels: Kernels,
    logits: &Tensor,
    labels: &[u8],
    smoothing: f64,
) -> Result<Loss> {
    if kernels.cpu() && logits.dtype() == DType::F32 {
        let outcome = Arc::new(Mutex::new((0.0, 0)));
        let op = CrossEntropyOp {
            labels: labels.to_vec(),
            smoothing,
            probs: Mutex::new(Vec::new()),
            outcome: outcome.clone(),
        };
        let tensor = logits.contiguous()?.apply_op1(op)?;
        let (value, correct) = *outcome.lock().expect("loss state");
        return Ok(Loss {
            tensor,
            value,
            correct,
        });
    }
    let tensor = reference_cross_entropy(logits, labels, smoothing)?;
    Ok(Loss {
        value: scalar(&tensor)?,
        correct: count_correct(logits, labels)?,
        tensor,
    })
}

/// Cross-entropy with label smoothing in candle's ops: the reference path.
pub fn reference_cross_entropy(logits: &Tensor, labels: &[u8], smoothing: f64) -> Result<Tensor> {
    let log_p = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let nll = candle_nn::loss::nll(&log_p, &label_tensor(labels, logits.device())?)?;
    if smoothing == 0.0 {
        return Ok(nll);
    }
    let uniform = (log_p.mean(D::Minus1)?.mean_all()? * -1.0)?;
    Ok(((nll * (1.0 - smoothing))? + (uniform * smoothing)?)?)
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
