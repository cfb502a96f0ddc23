//! An MLP hidden layer's tail as one CPU op on (batch, features): batch norm, LeakyReLU and
//! dropout. Two passes forward (the statistics, then normalise-activate-mask) and two backward
//! (the two sums, then the input gradient), rows in parallel; the reference is candle-nn's
//! batch norm, `leaky_relu` and `dropout` as separate tensor ops.

use super::batch_norm::{RunningStats, EPS};
use crate::kernels::cpu::{f32_slice, with_f32};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor, Var};
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

/// Rows a parallel task takes.
const ROWS: usize = 32;

/// Per-feature batch mean, 1/sqrt(var + eps) and biased variance.
#[derive(Debug, Clone, Default)]
struct Stats {
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    var: Vec<f32>,
}

/// Adds blocks' partial column sums in block order: the same bits every run.
fn add_in_order(parts: Vec<Vec<f32>>, width: usize) -> Vec<f64> {
    let mut total = vec![0f64; width];
    for part in parts {
        total
            .iter_mut()
            .zip(&part)
            .for_each(|(t, &p)| *t += p as f64);
    }
    total
}

/// Column sums of `rows` (row-major, `f` wide) of `value(x)`, in f64 over f32 blocks.
fn column_sums(x: &[f32], f: usize, value: impl Fn(usize, f32) -> f32 + Sync) -> Vec<f64> {
    let parts: Vec<Vec<f32>> = x
        .par_chunks(ROWS * f)
        .map(|block| {
            let mut acc = vec![0f32; f];
            for row in block.chunks_exact(f) {
                for (j, (a, &v)) in acc.iter_mut().zip(row).enumerate() {
                    *a += value(j, v);
                }
            }
            acc
        })
        .collect();
    add_in_order(parts, f)
}

struct BnAct {
    slope: f32,
    mask: Option<Arc<Vec<f32>>>,
    stats: Arc<Mutex<Stats>>,
}

impl CustomOp3 for BnAct {
    fn name(&self) -> &'static str {
        "batch-norm-leaky-relu-dropout"
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
        let &[b, f] = xl.dims() else {
            candle_core::bail!(
                "batch norm: expected (batch, features), got {:?}",
                xl.dims()
            )
        };
        if b < 2 {
            candle_core::bail!("batch norm: a batch of {b} row(s); training needs at least 2");
        }
        let x = f32_slice(xs, xl, "batch norm")?;
        let (gamma, beta) = (
            f32_slice(gs, gl, "batch norm")?,
            f32_slice(bs, bl, "batch norm")?,
        );
        if gamma.len() != f || beta.len() != f {
            candle_core::bail!("batch norm: gamma and beta must have {f} values");
        }
        let n = b as f64;
        let mean: Vec<f32> = column_sums(x, f, |_, v| v)
            .iter()
            .map(|s| (s / n) as f32)
            .collect();
        let var: Vec<f32> = column_sums(x, f, |j, v| (v - mean[j]) * (v - mean[j]))
            .iter()
            .map(|s| (s / n) as f32)
            .collect();
        let inv_std: Vec<f32> = var
            .iter()
            .map(|&v| (1.0 / (v as f64 + EPS).sqrt()) as f32)
            .collect();
        let scale: Vec<f32> = gamma.iter().zip(&inv_std).map(|(g, i)| g * i).collect();
        let shift: Vec<f32> = beta
            .iter()
            .zip(&mean)
            .zip(&scale)
            .map(|((bt, m), s)| bt - m * s)
            .collect();
        let slope = self.slope;
        let mut y: Vec<f32> = Vec::with_capacity(b * f);
        y.spare_capacity_mut()[..b * f]
            .par_chunks_mut(ROWS * f)
            .zip(x.par_chunks(ROWS * f))
            .enumerate()
            .for_each(|(blk, (out, xb))| {
                for (r, (orow, xrow)) in out.chunks_exact_mut(f).zip(xb.chunks_exact(f)).enumerate()
                {
                    let row = blk * ROWS + r;
                    let mask = self.mask.as_ref().map(|m| &m[row * f..(row + 1) * f]);
                    for j in 0..f {
                        let z = xrow[j] * scale[j] + shift[j];
                        let a = if z > 0.0 { z } else { slope * z };
                        orow[j].write(match mask {
                            Some(m) => a * m[j],
                            None => a,
                        });
                    }
                }
            });
        // SAFETY: every row of every block was written in full above.
        unsafe { y.set_len(b * f) };
        *self.stats.lock().expect("batch norm state") = Stats { mean, inv_std, var };
        Ok((CpuStorage::F32(y), Shape::from((b, f))))
    }

    /// With z = gamma x_hat + beta, g = dL/dy * mask * (1 if z > 0 else slope), per feature:
    /// dbeta = sum g, dgamma = sum g x_hat, dx = gamma inv_std (g - (dbeta + x_hat dgamma) / B).
    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (b, f) = x.dims2()?;
        let Stats { mean, inv_std, .. } = self.stats.lock().expect("batch norm state").clone();
        let gamma = gamma.to_vec1::<f32>()?;
        let beta = beta.to_vec1::<f32>()?;
        let slope = self.slope;
        let mask = self.mask.clone();
        let (dx, dgamma, dbeta) = with_f32(x, |x| {
            with_f32(grad, |dy| {
                // g and x_hat of element (row, j).
                let g_at = |row: usize, j: usize, xv: f32, dyv: f32| -> (f32, f32) {
                    let x_hat = (xv - mean[j]) * inv_std[j];
                    let z = gamma[j] * x_hat + beta[j];
                    let m = mask.as_ref().map_or(1.0, |m| m[row * f + j]);
                    (dyv * m * if z > 0.0 { 1.0 } else { slope }, x_hat)
                };
                let parts: Vec<Vec<f32>> = dy
                    .par_chunks(ROWS * f)
                    .zip(x.par_chunks(ROWS * f))
                    .enumerate()
                    .map(|(blk, (dyb, xb))| {
                        let mut s = vec![0f32; 2 * f];
                        for (r, (dr, xr)) in dyb.chunks_exact(f).zip(xb.chunks_exact(f)).enumerate()
                        {
                            for j in 0..f {
                                let (g, xh) = g_at(blk * ROWS + r, j, xr[j], dr[j]);
                                s[j] += g;
                                s[f + j] += g * xh;
                            }
                        }
                        s
                    })
                    .collect();
                let sums = add_in_order(parts, 2 * f);
                let dbeta: Vec<f32> = sums[..f].iter().map(|&v| v as f32).collect();
                let dgamma: Vec<f32> = sums[f..].iter().map(|&v| v as f32).collect();
                let nb = b as f32;
                let mut dx: Vec<f32> = Vec::with_capacity(b * f);
                dx.spare_capacity_mut()[..b * f]
                    .par_chunks_mut(ROWS * f)
                    .zip(dy.par_chunks(ROWS * f).zip(x.par_chunks(ROWS * f)))
                    .enumerate()
                    .for_each(|(blk, (out, (dyb, xb)))| {
                        for (r, ((orow, dr), xr)) in out
                            .chunks_exact_mut(f)
                            .zip(dyb.chunks_exact(f))
                            .zip(xb.chunks_exact(f))
                            .enumerate()
                        {
                            for j in 0..f {
                                let (g, xh) = g_at(blk * ROWS + r, j, xr[j], dr[j]);
                                let k = gamma[j] * inv_std[j];
                                orow[j].write(k * (g - (dbeta[j] + xh * dgamma[j]) / nb));
                            }
                        }
                    });
                // SAFETY: every row was written in full above.
                unsafe { dx.set_len(b * f) };
                (dx, dgamma, dbeta)
            })
        })??;
        let device = x.device();
        Ok((
            Some(Tensor::from_vec(dx, (b, f), device)?),
            Some(Tensor::from_vec(dgamma, f, device)?),
            Some(Tensor::from_vec(dbeta, f, device)?),
        ))
    }
}

/// Batch norm over (batch, features) with `weight` and `bias`, then LeakyReLU with `slope`,
/// then multiplication by `mask` (dropout's 0 or 1/(1-p) per element), as one op. Training
/// uses the batch's statistics and blends them into `running`; inference (`train` false) uses
/// `running` and no mask. f32 on the CPU.
pub fn bn_leaky_dropout(
    x: &Tensor,
    weight: &Var,
    bias: &Var,
    running: &RunningStats,
    slope: f64,
    mask: Option<Vec<f32>>,
    train: bool,
) -> Result<Tensor> {
    if !train {
        let z = running.normalise(x, weight.as_tensor(), bias.as_tensor())?;
        return super::dropout::leaky_relu(&z, slope);
    }
    let (b, f) = x.dims2()?;
    if let Some(m) = &mask {
        if m.len() != b * f {
            candle_core::bail!("dropout: a mask of {} values for {b}x{f}", m.len());
        }
    }
    let stats = Arc::new(Mutex::new(Stats::default()));
    let y = x.contiguous()?.apply_op3(
        weight.as_tensor(),
        bias.as_tensor(),
        BnAct {
            slope: slope as f32,
            mask: mask.map(Arc::new),
            stats: stats.clone(),
        },
    )?;
    let s = stats.lock().expect("batch norm state").clone();
    let device = x.device();
    running.update(
        &Tensor::from_vec(s.mean, f, device)?,
        &Tensor::from_vec(s.var, f, device)?,
        b,
    )?;
    Ok(y)
}
