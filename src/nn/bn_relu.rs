//! Batch norm followed by ReLU on channel-major activations (channels, ...) as one CPU op:
//! two passes forward (statistics, then normalise-scale-shift-clamp) and two backward (the
//! two sums, then the input gradient), each channel's row contiguous, channels in parallel.
//! The reference is candle-nn's batch norm and a ReLU on (batch, channels, ...).

use super::batch_norm::{RunningStats, EPS};
use crate::kernels::cpu::{f32_slice, with_f32};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor, Var};
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

/// A channel's batch mean and 1/sqrt(var + eps), and its biased variance.
#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    mean: f32,
    inv_std: f32,
    var: f32,
}

/// Sum and sum of squared deviations of a row, accumulated in f64 over f32 blocks.
fn moments(row: &[f32]) -> (f64, f64) {
    let n = row.len().max(1) as f64;
    let sum: f64 = row.chunks(256).map(|c| c.iter().sum::<f32>() as f64).sum();
    let mean = sum / n;
    let m = mean as f32;
    let sq: f64 = row
        .chunks(256)
        .map(|c| c.iter().map(|&v| (v - m) * (v - m)).sum::<f32>() as f64)
        .sum();
    (mean, sq / n)
}

struct BnRelu {
    stats: Arc<Mutex<Vec<Stats>>>,
}

fn channels(l: &Layout) -> Result<(usize, usize)> {
    let c = *l.dims().first().unwrap_or(&0);
    let total = l.shape().elem_count();
    if c == 0 || !total.is_multiple_of(c) || total == c {
        candle_core::bail!(
            "batch norm: expected (channels, batch, ...), got {:?}",
            l.dims()
        );
    }
    Ok((c, total / c))
}

impl CustomOp3 for BnRelu {
    fn name(&self) -> &'static str {
        "batch-norm-relu-channel-major"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (c, n) = channels(xl)?;
        let x = f32_slice(xs, xl, "batch norm")?;
        let (gamma, beta) = (
            f32_slice(gs, gl, "batch norm")?,
            f32_slice(bs, bl, "batch norm")?,
        );
        if gamma.len() != c || beta.len() != c {
            candle_core::bail!("batch norm: gamma and beta must have {c} values");
        }
        let mut y: Vec<f32> = Vec::with_capacity(c * n);
        let mut stats = vec![Stats::default(); c];
        y.spare_capacity_mut()[..c * n]
            .par_chunks_mut(n)
            .zip(x.par_chunks(n))
            .zip(stats.par_iter_mut())
            .enumerate()
            .for_each(|(ch, ((out, row), st))| {
                let (mean, var) = moments(row);
                let inv_std = (1.0 / (var + EPS).sqrt()) as f32;
                *st = Stats {
                    mean: mean as f32,
                    inv_std,
                    var: var as f32,
                };
                let scale = gamma[ch] * inv_std;
                let shift = beta[ch] - mean as f32 * scale;
                for (o, &v) in out.iter_mut().zip(row) {
                    o.write((v * scale + shift).max(0.0));
                }
            });
        // SAFETY: every channel's row was written in full above.
        unsafe { y.set_len(c * n) };
        *self.stats.lock().expect("batch norm state") = stats;
        Ok((CpuStorage::F32(y), xl.shape().clone()))
    }

    /// With g = dL/dy where y > 0 (else 0), x_hat = (x - mean) inv_std, per channel:
    /// dbeta = sum g, dgamma = sum g x_hat,
    /// dx = gamma inv_std (g - (dbeta + x_hat dgamma) / N).
    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let c = x.dim(0)?;
        let n = x.elem_count() / c;
        let stats = self.stats.lock().expect("batch norm state").clone();
        let gamma = gamma.to_vec1::<f32>()?;
        let mut dgamma = vec![0f32; c];
        let mut dbeta = vec![0f32; c];
        let dx = with_f32(x, |x| {
            with_f32(res, |y| {
                with_f32(grad, |dy| {
                    let mut dx: Vec<f32> = Vec::with_capacity(c * n);
                    dx.spare_capacity_mut()[..c * n]
                        .par_chunks_mut(n)
                        .zip(dgamma.par_iter_mut().zip(dbeta.par_iter_mut()))
                        .enumerate()
                        .for_each(|(ch, (out, (dg, db)))| {
                            let range = ch * n..(ch + 1) * n;
                            let (x, y, dy) = (&x[range.clone()], &y[range.clone()], &dy[range]);
                            let Stats { mean, inv_std, .. } = stats[ch];
                            let (mut sum_g, mut sum_gx) = (0f64, 0f64);
                            for ((xc, yc), gc) in
                                x.chunks(256).zip(y.chunks(256)).zip(dy.chunks(256))
                            {
                                let (mut s, mut sx) = (0f32, 0f32);
                                for ((&xv, &yv), &g) in xc.iter().zip(yc).zip(gc) {
                                    let g = if yv > 0.0 { g } else { 0.0 };
                                    s += g;
                                    sx += g * (xv - mean);
                                }
                                sum_g += s as f64;
                                sum_gx += sx as f64;
                            }
                            let sum_gx = sum_gx * inv_std as f64;
                            *dg = sum_gx as f32;
                            *db = sum_g as f32;
                            let k = gamma[ch] * inv_std;
                            let a = (sum_g / n as f64) as f32;
                            let bcoef = (sum_gx / n as f64) as f32 * inv_std;
                            for (((o, &xv), &yv), &g) in out.iter_mut().zip(x).zip(y).zip(dy) {
                                let g = if yv > 0.0 { g } else { 0.0 };
                                o.write(k * (g - a - (xv - mean) * bcoef));
                            }
                        });
                    // SAFETY: every channel's row was written in full above.
                    unsafe { dx.set_len(c * n) };
                    dx
                })
            })
        })???;
        let device = x.device();
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), device)?),
            Some(Tensor::from_vec(dgamma, c, device)?),
            Some(Tensor::from_vec(dbeta, c, device)?),
        ))
    }
}

/// Batch norm then ReLU on channel-major `x` (C, B, ...) with scale `weight` and shift
/// `bias` (C). Training normalises with the batch's statistics and blends them into
/// `running`; inference uses `running`. f32 on the CPU.
pub fn bn_relu_cm(
    x: &Tensor,
    weight: &Var,
    bias: &Var,
    running: &RunningStats,
    train: bool,
) -> Result<Tensor> {
    let c = x.dim(0)?;
    let n = x.elem_count() / c.max(1);
    if !train {
        let inv_std = (running.var.as_tensor() + EPS)?.sqrt()?.recip()?;
        let scale = (inv_std * weight.as_tensor())?;
        let shift = (bias.as_tensor() - (running.mean.as_tensor() * &scale)?)?;
        let rest = vec![1usize; x.rank() - 1];
        let col = |t: &Tensor| t.reshape([&[c][..], &rest[..]].concat());
        return x
            .broadcast_mul(&col(&scale)?)?
            .broadcast_add(&col(&shift)?)?
            .relu();
    }
    let stats = Arc::new(Mutex::new(Vec::new()));
    let y = x.contiguous()?.apply_op3(
        weight.as_tensor(),
        bias.as_tensor(),
        BnRelu {
            stats: stats.clone(),
        },
    )?;
    let stats = stats.lock().expect("batch norm state").clone();
    let mean: Vec<f32> = stats.iter().map(|s| s.mean).collect();
    let var: Vec<f32> = stats.iter().map(|s| s.var).collect();
    let device = x.device();
    running.update(
        &Tensor::from_vec(mean, c, device)?,
        &Tensor::from_vec(var, c, device)?,
        n,
    )?;
    Ok(y)
}
