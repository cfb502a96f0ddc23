//! An MLP hidden layer's tail on (batch, features): batch norm (`norm = batchnorm`), LeakyReLU
//! and dropout's mask. The CPU op does it in two passes forward (the statistics, then
//! normalise-activate-mask) and two backward (the two sums, then the input gradient), rows in
//! parallel, with its backward written by hand; the reference is candle-nn's batch norm,
//! `leaky_relu` and the mask as separate tensor ops, differentiated by autograd.

use super::cpu::{f32_slice, with_f32};
use super::norm::{NormParams, EPS};
use super::simd::Level;
use super::uninit::written;
use super::Kernels;
use crate::multiversion;
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::mem::MaybeUninit;
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

multiversion! {
    /// acc[j] += row[j] for every row of `block`; with `mean`, (row[j] - mean[j])^2 instead.
    fn add_rows(block: &[f32], mean: &[f32], acc: &mut [f32]) {
        let f = acc.len();
        for row in block.chunks_exact(f) {
            if mean.is_empty() {
                for (a, &v) in acc.iter_mut().zip(row) {
                    *a += v;
                }
            } else {
                for ((a, &v), &m) in acc.iter_mut().zip(row).zip(mean) {
                    *a += (v - m) * (v - m);
                }
            }
        }
    }
}

/// Per-feature sums over the rows of `x` (row-major, `f` wide): of x, or of (x - mean)^2.
fn column_sums(level: Level, x: &[f32], f: usize, mean: &[f32]) -> Vec<f64> {
    let parts: Vec<Vec<f32>> = x
        .par_chunks(ROWS * f)
        .map(|block| {
            let mut acc = vec![0f32; f];
            add_rows(level, block, mean, &mut acc);
            acc
        })
        .collect();
    add_in_order(parts, f)
}

/// What the passes need per feature: the normalisation as scale and shift of x, the batch
/// mean and 1/sqrt(var + eps), gamma, and the LeakyReLU slope.
struct Coefficients<'a> {
    scale: &'a [f32],
    shift: &'a [f32],
    mean: &'a [f32],
    inv_std: &'a [f32],
    gamma: &'a [f32],
    slope: f32,
}

multiversion! {
    /// y = LeakyReLU(x scale + shift) (times the mask, when there is one) for each row.
    fn forward_rows(xb: &[f32], mask: &[f32], out: &mut [MaybeUninit<f32>], scale: &[f32], shift: &[f32], slope: f32) {
        let f = scale.len();
        for (r, (orow, xrow)) in out.chunks_exact_mut(f).zip(xb.chunks_exact(f)).enumerate() {
            if mask.is_empty() {
                for (((o, &x), &s), &t) in orow.iter_mut().zip(xrow).zip(scale).zip(shift) {
                    let z = x * s + t;
                    o.write(if z > 0.0 { z } else { slope * z });
                }
            } else {
                let mrow = &mask[r * f..(r + 1) * f];
                for ((((o, &x), &s), &t), &m) in orow.iter_mut().zip(xrow).zip(scale).zip(shift).zip(mrow) {
                    let z = x * s + t;
                    o.write(if z > 0.0 { z } else { slope * z } * m);
                }
            }
        }
    }
}

/// g = dy * mask * LeakyReLU'(z) and x_hat of one element.
#[inline(always)]
fn gate(c: &Coefficients, j: usize, x: f32, dy: f32, m: f32) -> (f32, f32) {
    let z = x * c.scale[j] + c.shift[j];
    let g = dy * m * if z > 0.0 { 1.0 } else { c.slope };
    (g, (x - c.mean[j]) * c.inv_std[j])
}

multiversion! {
    /// acc[j] += g, acc[f + j] += g x_hat over the rows of a block.
    fn backward_sums(xb: &[f32], dyb: &[f32], mask: &[f32], c: &Coefficients, acc: &mut [f32]) {
        let f = c.scale.len();
        let (sg, sgx) = acc.split_at_mut(f);
        for (r, (xrow, drow)) in xb.chunks_exact(f).zip(dyb.chunks_exact(f)).enumerate() {
            for j in 0..f {
                let m = if mask.is_empty() { 1.0 } else { mask[r * f + j] };
                let (g, xh) = gate(c, j, xrow[j], drow[j], m);
                sg[j] += g;
                sgx[j] += g * xh;
            }
        }
    }
}

multiversion! {
    /// dx = gamma inv_std (g - (dbeta + x_hat dgamma) / B) for the rows of a block.
    fn backward_rows(xb: &[f32], dyb: &[f32], mask: &[f32], c: &Coefficients, sums: (&[f32], &[f32], f32), out: &mut [MaybeUninit<f32>]) {
        let (dbeta, dgamma, nb) = sums;
        let f = c.scale.len();
        for (r, ((orow, xrow), drow)) in out.chunks_exact_mut(f).zip(xb.chunks_exact(f)).zip(dyb.chunks_exact(f)).enumerate() {
            for j in 0..f {
                let m = if mask.is_empty() { 1.0 } else { mask[r * f + j] };
                let (g, xh) = gate(c, j, xrow[j], drow[j], m);
                orow[j].write(c.gamma[j] * c.inv_std[j] * (g - (dbeta[j] + xh * dgamma[j]) / nb));
            }
        }
    }
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
        let level = Level::detected();
        let mean: Vec<f32> = column_sums(level, x, f, &[])
            .iter()
            .map(|s| (s / n) as f32)
            .collect();
        let var: Vec<f32> = column_sums(level, x, f, &mean)
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
        let mask: &[f32] = self.mask.as_deref().map_or(&[], |m| m.as_slice());
        // SAFETY: every row of every block is written in full.
        let y = unsafe {
            written(b * f, |y| {
                y.par_chunks_mut(ROWS * f)
                    .zip(x.par_chunks(ROWS * f))
                    .enumerate()
                    .for_each(|(blk, (out, xb))| {
                        let m = if mask.is_empty() {
                            mask
                        } else {
                            &mask[blk * ROWS * f..][..xb.len()]
                        };
                        forward_rows(level, xb, m, out, &scale, &shift, slope);
                    })
            })
        };
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
        let level = Level::detected();
        let scale: Vec<f32> = gamma.iter().zip(&inv_std).map(|(g, i)| g * i).collect();
        let shift: Vec<f32> = beta
            .iter()
            .zip(&mean)
            .zip(&scale)
            .map(|((bt, m), s)| bt - m * s)
            .collect();
        let coefficients = Coefficients {
            scale: &scale,
            shift: &shift,
            mean: &mean,
            inv_std: &inv_std,
            gamma: &gamma,
            slope: self.slope,
        };
        let mask: &[f32] = self.mask.as_deref().map_or(&[], |m| m.as_slice());
        let block_mask = |blk: usize, len: usize| -> &[f32] {
            if mask.is_empty() {
                mask
            } else {
                &mask[blk * ROWS * f..][..len]
            }
        };
        let (dx, dgamma, dbeta) = with_f32(x, |x| {
            with_f32(grad, |dy| {
                let parts: Vec<Vec<f32>> = dy
                    .par_chunks(ROWS * f)
                    .zip(x.par_chunks(ROWS * f))
                    .enumerate()
                    .map(|(blk, (dyb, xb))| {
                        let mut acc = vec![0f32; 2 * f];
                        backward_sums(
                            level,
                            xb,
                            dyb,
                            block_mask(blk, xb.len()),
                            &coefficients,
                            &mut acc,
                        );
                        acc
                    })
                    .collect();
                let sums = add_in_order(parts, 2 * f);
                let dbeta: Vec<f32> = sums[..f].iter().map(|&v| v as f32).collect();
                let dgamma: Vec<f32> = sums[f..].iter().map(|&v| v as f32).collect();
                // SAFETY: every row of every block is written in full.
                let dx = unsafe {
                    written(b * f, |dx| {
                        dx.par_chunks_mut(ROWS * f)
                            .zip(dy.par_chunks(ROWS * f).zip(x.par_chunks(ROWS * f)))
                            .enumerate()
                            .for_each(|(blk, (out, (dyb, xb)))| {
                                backward_rows(
                                    level,
                                    xb,
                                    dyb,
                                    block_mask(blk, xb.len()),
                                    &coefficients,
                                    (&dbeta, &dgamma, b as f32),
                                    out,
                                );
                            })
                    })
                };
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

/// LeakyReLU as max(x, a x), for 0 <= a <= 1.
pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor> {
    x.maximum(&x.affine(slope, 0.0)?)
}

/// Batch norm over (batch, features) with `norm`, then LeakyReLU with `slope`, then
/// multiplication by `mask` (dropout's 0 or 1/(1-p) per element) when there is one. Training
/// uses the batch's statistics and blends them into the running ones; inference (`train`
/// false) uses the running statistics and takes no mask, on either path.
pub fn bn_leaky_dropout(
    kernels: Kernels,
    x: &Tensor,
    norm: &NormParams,
    slope: f64,
    mask: Option<Vec<f32>>,
    train: bool,
) -> Result<Tensor> {
    if !train {
        let z = norm
            .running
            .normalise(x, norm.weight.as_tensor(), norm.bias.as_tensor())?;
        return leaky_relu(&z, slope);
    }
    let (b, f) = x.dims2()?;
    if let Some(m) = &mask {
        if m.len() != b * f {
            candle_core::bail!("dropout: a mask of {} values for {b}x{f}", m.len());
        }
    }
    match kernels {
        Kernels::Cpu => cpu(x, norm, slope, mask),
        Kernels::Reference => reference(x, norm, slope, mask),
    }
}

/// The CPU op, training.
fn cpu(x: &Tensor, norm: &NormParams, slope: f64, mask: Option<Vec<f32>>) -> Result<Tensor> {
    let (b, f) = x.dims2()?;
    let stats = Arc::new(Mutex::new(Stats::default()));
    let y = x.contiguous()?.apply_op3(
        norm.weight.as_tensor(),
        norm.bias.as_tensor(),
        BnAct {
            slope: slope as f32,
            mask: mask.map(Arc::new),
            stats: stats.clone(),
        },
    )?;
    let s = stats.lock().expect("batch norm state").clone();
    let device = x.device();
    norm.running.update(
        &Tensor::from_vec(s.mean, f, device)?,
        &Tensor::from_vec(s.var, f, device)?,
        b,
    )?;
    Ok(y)
}

/// The reference, training: candle-nn's batch norm, `leaky_relu`, the mask, as tensor ops.
pub fn reference(
    x: &Tensor,
    norm: &NormParams,
    slope: f64,
    mask: Option<Vec<f32>>,
) -> Result<Tensor> {
    use candle_core::ModuleT;
    let a = leaky_relu(&norm.candle()?.forward_t(x, true)?, slope)?;
    match mask {
        Some(m) => a.mul(&Tensor::from_vec(m, a.shape(), a.device())?.to_dtype(a.dtype())?),
        None => Ok(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every instruction-set level this CPU has gives the baseline's bits for each pass.
    #[test]
    fn every_simd_level_matches_the_baseline() {
        let (rows, f) = (5, 37);
        let x: Vec<f32> = (0..rows * f)
            .map(|i| ((i * 13 % 29) as f32 - 14.0) * 0.1)
            .collect();
        let dy: Vec<f32> = (0..rows * f)
            .map(|i| ((i * 7 % 17) as f32 - 8.0) * 0.01)
            .collect();
        let mask: Vec<f32> = (0..rows * f)
            .map(|i| if i % 3 == 0 { 0.0 } else { 1.25 })
            .collect();
        let per = |k: f32| -> Vec<f32> { (0..f).map(|j| 0.5 + k * j as f32 * 0.01).collect() };
        let (scale, shift, mean, inv_std, gamma) =
            (per(1.0), per(-2.0), per(0.5), per(3.0), per(1.5));
        let c = Coefficients {
            scale: &scale,
            shift: &shift,
            mean: &mean,
            inv_std: &inv_std,
            gamma: &gamma,
            slope: 0.02,
        };
        let run = |level: Level| {
            let mut sums = vec![0f32; f];
            add_rows(level, &x, &mean, &mut sums);
            let mut y = vec![MaybeUninit::new(0f32); rows * f];
            forward_rows(level, &x, &mask, &mut y, &scale, &shift, 0.02);
            let mut acc = vec![0f32; 2 * f];
            backward_sums(level, &x, &dy, &mask, &c, &mut acc);
            let mut dx = vec![MaybeUninit::new(0f32); rows * f];
            backward_rows(
                level,
                &x,
                &dy,
                &[],
                &c,
                (&acc[..f], &acc[f..], rows as f32),
                &mut dx,
            );
            let read = |v: Vec<MaybeUninit<f32>>| -> Vec<f32> {
                v.iter().map(|v| unsafe { v.assume_init() }).collect()
            };
            (sums, read(y), acc, read(dx))
        };
        let base = run(Level::BASELINE);
        for level in Level::available() {
            assert_eq!(run(level), base, "{}", level.name());
        }
    }
}
