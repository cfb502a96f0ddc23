//! The ConvNet's batch norm (`norm = batchnorm`) followed by ReLU. The CPU op works on
//! channel-major activations (channels, ...): two passes forward (statistics, then
//! normalise-scale-shift-clamp) and two backward (the two sums, then the input gradient), each
//! channel's row contiguous, channels in parallel, its backward written by hand. The reference
//! is candle-nn's batch norm and a ReLU on (batch, channels, ...), differentiated by autograd.

use super::cpu::{f32_slice, with_f32};
use super::norm::{NormParams, EPS};
use super::reduce::{relu_masked_sums, sum, sum_sq_dev};
use super::simd::Level;
use super::uninit::written;
use super::Kernels;
use crate::multiversion;
use candle_core::{CpuStorage, CustomOp3, Layout, ModuleT, Result, Shape, Tensor};
use rayon::prelude::*;
use std::mem::MaybeUninit;
use std::sync::{Arc, Mutex};

/// A channel's batch mean and 1/sqrt(var + eps), and its biased variance.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Stats {
    pub(super) mean: f32,
    pub(super) inv_std: f32,
    pub(super) var: f32,
}

/// Mean and biased variance of a row.
fn moments(level: Level, row: &[f32]) -> (f64, f64) {
    let n = row.len().max(1) as f64;
    let mean = sum(level, row) / n;
    (mean, sum_sq_dev(level, row, mean as f32) / n)
}

multiversion! {
    /// out = max(0, x scale + shift).
    fn scale_shift_relu(x: &[f32], out: &mut [MaybeUninit<f32>], scale: f32, shift: f32) {
        for (o, &v) in out.iter_mut().zip(x) {
            o.write((v * scale + shift).max(0.0));
        }
    }
}

multiversion! {
    /// out = k (g - a - (x - mean) c) with g = dy where y > 0, else 0.
    fn relu_norm_dx(
        x: &[f32],
        y: &[f32],
        dy: &[f32],
        out: &mut [MaybeUninit<f32>],
        coefficients: [f32; 4],
    ) {
        let [mean, k, a, c] = coefficients;
        for (((o, &xv), &yv), &g) in out.iter_mut().zip(x).zip(y).zip(dy) {
            let g = if yv > 0.0 { g } else { 0.0 };
            o.write(k * (g - a - (xv - mean) * c));
        }
    }
}

struct BnRelu {
    stats: Arc<Mutex<Vec<Stats>>>,
}

/// The forward pass of a batch norm and an activation on channel-major `x` (with gamma and
/// beta): each channel's statistics (kept in `kept` for the backward pass), then
/// `activate(level, row, out, scale, shift)` over its row; channels in parallel.
pub(super) fn normalise_forward(
    [(xs, xl), (gs, gl), (bs, bl)]: [(&CpuStorage, &Layout); 3],
    kept: &Mutex<Vec<Stats>>,
    activate: impl Fn(Level, &[f32], &mut [MaybeUninit<f32>], f32, f32) + Sync,
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
    let level = Level::detected();
    let mut stats = vec![Stats::default(); c];
    // SAFETY: every channel's row is written in full.
    let y = unsafe {
        written(c * n, |y| {
            y.par_chunks_mut(n)
                .zip(x.par_chunks(n))
                .zip(stats.par_iter_mut())
                .enumerate()
                .for_each(|(ch, ((out, row), st))| {
                    let (mean, var) = moments(level, row);
                    let inv_std = (1.0 / (var + EPS).sqrt()) as f32;
                    *st = Stats {
                        mean: mean as f32,
                        inv_std,
                        var: var as f32,
                    };
                    let scale = gamma[ch] * inv_std;
                    let shift = beta[ch] - mean as f32 * scale;
                    activate(level, row, out, scale, shift);
                })
        })
    };
    *kept.lock().expect("batch norm state") = stats;
    Ok((CpuStorage::F32(y), xl.shape().clone()))
}

/// A training batch norm op on channel-major `x`: `op(kept)` applied to x, gamma and beta,
/// then the statistics it kept blended into the running ones.
pub(super) fn train_with<Op: CustomOp3 + Send + Sync + 'static>(
    x: &Tensor,
    norm: &NormParams,
    op: impl FnOnce(Arc<Mutex<Vec<Stats>>>) -> Op,
) -> Result<Tensor> {
    let c = x.dim(0)?;
    let n = x.elem_count() / c.max(1);
    let stats = Arc::new(Mutex::new(Vec::new()));
    let y = x.contiguous()?.apply_op3(
        norm.weight.as_tensor(),
        norm.bias.as_tensor(),
        op(stats.clone()),
    )?;
    let stats = stats.lock().expect("batch norm state").clone();
    let mean: Vec<f32> = stats.iter().map(|s| s.mean).collect();
    let var: Vec<f32> = stats.iter().map(|s| s.var).collect();
    let device = x.device();
    norm.running.update(
        &Tensor::from_vec(mean, c, device)?,
        &Tensor::from_vec(var, c, device)?,
        n,
    )?;
    Ok(y)
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
        normalise_forward(
            [(xs, xl), (gs, gl), (bs, bl)],
            &self.stats,
            scale_shift_relu,
        )
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
        let level = Level::detected();
        let mut dgamma = vec![0f32; c];
        let mut dbeta = vec![0f32; c];
        let dx = with_f32(x, |x| {
            with_f32(res, |y| {
                with_f32(grad, |dy| {
                    // SAFETY: every channel's row is written in full.
                    unsafe {
                        written(c * n, |dx| {
                            dx.par_chunks_mut(n)
                                .zip(dgamma.par_iter_mut().zip(dbeta.par_iter_mut()))
                                .enumerate()
                                .for_each(|(ch, (out, (dg, db)))| {
                                    let range = ch * n..(ch + 1) * n;
                                    let (x, y, dy) =
                                        (&x[range.clone()], &y[range.clone()], &dy[range]);
                                    let Stats { mean, inv_std, .. } = stats[ch];
                                    let [sum_g, sum_gx] = relu_masked_sums(level, x, y, dy, mean);
                                    let sum_gx = sum_gx * inv_std as f64;
                                    *dg = sum_gx as f32;
                                    *db = sum_g as f32;
                                    let k = gamma[ch] * inv_std;
                                    let a = (sum_g / n as f64) as f32;
                                    let bcoef = (sum_gx / n as f64) as f32 * inv_std;
                                    relu_norm_dx(level, x, y, dy, out, [mean, k, a, bcoef]);
                                })
                        })
                    }
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

/// Batch norm then ReLU on maps in the path's layout (`conv::maps`): channel-major
/// (C, H, W, B) for the CPU op, (B, C, H, W) for the reference. Training normalises with the
/// batch's statistics and blends them into the running ones; inference uses the running ones.
pub fn bn_relu(kernels: Kernels, x: &Tensor, norm: &NormParams, train: bool) -> Result<Tensor> {
    match (kernels, train) {
        (Kernels::Cpu, true) => cpu(x, norm),
        (Kernels::Cpu, false) => {
            let (scale, shift) = norm
                .running
                .scale_shift(norm.weight.as_tensor(), norm.bias.as_tensor())?;
            inference(x, &scale.to_vec1()?, &shift.to_vec1()?)
        }
        (Kernels::Reference, _) => reference(x, norm, train),
    }
}

/// The CPU op on channel-major `x` (C, B, ...), training.
fn cpu(x: &Tensor, norm: &NormParams) -> Result<Tensor> {
    train_with(x, norm, |stats| BnRelu { stats })
}

/// The CPU op on channel-major `x` (C, B, ...) with the running statistics folded into
/// `scale` and `shift`: one pass, max(0, x scale + shift), channels in parallel.
fn inference(x: &Tensor, scale: &[f32], shift: &[f32]) -> Result<Tensor> {
    if scale.len() != x.dim(0)? {
        candle_core::bail!("batch norm: {} scales for maps {:?}", scale.len(), x.dims());
    }
    let y = with_f32(x, |x| scale_shift_relu_rows(x, scale, shift))??;
    Tensor::from_vec(y, x.shape(), x.device())
}

/// max(0, x scale + shift) over channel-major values `x` (one row a channel, one scale and
/// one shift a row), rows in parallel.
pub(crate) fn scale_shift_relu_rows(x: &[f32], scale: &[f32], shift: &[f32]) -> Result<Vec<f32>> {
    scale_shift_rows(x, scale, shift, scale_shift_relu)
}

/// `activate(level, row, out, scale, shift)` over channel-major values `x` (one row a
/// channel, one scale and one shift a row), rows in parallel: a batch norm at inference.
pub(super) fn scale_shift_rows(
    x: &[f32],
    scale: &[f32],
    shift: &[f32],
    activate: impl Fn(Level, &[f32], &mut [MaybeUninit<f32>], f32, f32) + Sync,
) -> Result<Vec<f32>> {
    let c = scale.len();
    let n = x.len() / c.max(1);
    if c == 0 || shift.len() != c || n == 0 || n * c != x.len() {
        candle_core::bail!(
            "batch norm: {} scales and {} shifts for {} values",
            scale.len(),
            shift.len(),
            x.len()
        );
    }
    let level = Level::detected();
    // SAFETY: every channel's row is written in full.
    Ok(unsafe {
        written(c * n, |y| {
            y.par_chunks_mut(n)
                .zip(x.par_chunks(n))
                .enumerate()
                .for_each(|(ch, (out, row))| activate(level, row, out, scale[ch], shift[ch]))
        })
    })
}

/// The reference on (B, C, ...): candle-nn's batch norm, then ReLU.
pub fn reference(x: &Tensor, norm: &NormParams, train: bool) -> Result<Tensor> {
    norm.candle()?.forward_t(x, train)?.relu()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every instruction-set level this CPU has gives the baseline's bits for each pass.
    #[test]
    fn every_simd_level_matches_the_baseline() {
        let n = 1037;
        let x: Vec<f32> = (0..n)
            .map(|i| ((i * 53 % 97) as f32 - 48.0) * 0.1)
            .collect();
        let dy: Vec<f32> = (0..n)
            .map(|i| ((i * 29 % 89) as f32 - 44.0) * 0.01)
            .collect();
        let run = |level: Level| {
            let (mean, var) = moments(level, &x);
            let mut y = vec![MaybeUninit::new(0f32); n];
            scale_shift_relu(level, &x, &mut y, 0.7, -0.2);
            let y: Vec<f32> = y.iter().map(|v| unsafe { v.assume_init() }).collect();
            let sums = relu_masked_sums(level, &x, &y, &dy, mean as f32);
            let mut dx = vec![MaybeUninit::new(0f32); n];
            relu_norm_dx(level, &x, &y, &dy, &mut dx, [mean as f32, 0.5, 0.1, 0.2]);
            let dx: Vec<f32> = dx.iter().map(|v| unsafe { v.assume_init() }).collect();
            (mean, var, y, sums, dx)
        };
        let base = run(Level::BASELINE);
        for level in Level::available() {
            assert_eq!(run(level), base, "{}", level.name());
        }
    }
}
