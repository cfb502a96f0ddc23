//! Max-pooling with padding and overlapping windows (section 4 uses kernel 3, stride 2,
//! padding 1), as a custom op with its backward: candle's own max-pool takes no padding and
//! its backward refuses windows that overlap. Each output's gradient goes to the arg-max of its
//! window (the first maximum in row-major order); windows overlap, so gradients add up; padding
//! never wins. The op works on batch-innermost activations (channels, height, width, batch),
//! the ConvNet's layout on the CPU, comparing whole batch rows at once; `max_pool2d` takes
//! (batch, channels, height, width) like candle and is also the reference in tensor ops.

use super::cpu::with_f32;
use super::simd::Level;
use super::uninit::{filled, written};
use super::Kernels;
use crate::multiversion;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor, WithDType};
use rayon::prelude::*;
use std::sync::Mutex;

/// Window geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGeometry {
    /// Window size (square).
    pub kernel: usize,
    /// Step between windows.
    pub stride: usize,
    /// Implicit border on each side that never wins.
    pub padding: usize,
}

impl PoolGeometry {
    /// Output size along one axis of input size `n`.
    pub fn out_size(&self, n: usize) -> Result<usize> {
        if self.kernel == 0 || self.stride == 0 || self.padding > self.kernel / 2 {
            candle_core::bail!(
                "max-pool: kernel and stride must be positive and padding at most half the kernel"
            );
        }
        let padded = n + 2 * self.padding;
        if padded < self.kernel {
            candle_core::bail!(
                "max-pool: input size {n} is smaller than the window {}",
                self.kernel
            );
        }
        Ok((padded - self.kernel) / self.stride + 1)
    }
}

/// The op on (channels, height, width, batch); it records each output's arg-max (an index
/// into its channel's plane) for the backward pass.
pub(crate) struct MaxPool {
    geometry: PoolGeometry,
    argmax: Mutex<Vec<u32>>,
}

/// One channel: `plane` (h, w, b) pooled into `out` (ho, wo, b), arg-maxes into `arg`.
#[inline(always)]
fn pool_channel<T: WithDType>(
    g: PoolGeometry,
    plane: &[T],
    (h, w, b, wo): (usize, usize, usize, usize),
    out: &mut [T],
    arg: &mut [u32],
) {
    for (o, (out, arg)) in out
        .chunks_exact_mut(b)
        .zip(arg.chunks_exact_mut(b))
        .enumerate()
    {
        let (oy, ox) = (o / wo, o % wo);
        let y0 = (oy * g.stride) as isize - g.padding as isize;
        let x0 = (ox * g.stride) as isize - g.padding as isize;
        let mut first = true;
        for y in y0.max(0)..(y0 + g.kernel as isize).min(h as isize) {
            for x in x0.max(0)..(x0 + g.kernel as isize).min(w as isize) {
                let at = (y as usize * w + x as usize) * b;
                let src = &plane[at..at + b];
                if first {
                    out.copy_from_slice(src);
                    arg.iter_mut()
                        .enumerate()
                        .for_each(|(i, a)| *a = (at + i) as u32);
                    first = false;
                    continue;
                }
                for (i, ((best, a), &v)) in out.iter_mut().zip(arg.iter_mut()).zip(src).enumerate()
                {
                    if v > *best {
                        *best = v;
                        *a = (at + i) as u32;
                    }
                }
            }
        }
    }
}

multiversion! {
    /// `pool_channel` for f32, compiled for the CPU's instruction set.
    fn pool_channel_f32(
        g: PoolGeometry,
        plane: &[f32],
        shape: (usize, usize, usize, usize),
        out: &mut [f32],
        arg: &mut [u32],
    ) {
        pool_channel(g, plane, shape, out, arg)
    }
}

/// Pools every channel of `x` (c, h, w, b).
trait Pooled: WithDType {
    fn pool(
        level: Level,
        g: PoolGeometry,
        plane: &[Self],
        shape: (usize, usize, usize, usize),
        out: &mut [Self],
        arg: &mut [u32],
    );
}

impl Pooled for f32 {
    fn pool(
        level: Level,
        g: PoolGeometry,
        plane: &[f32],
        shape: (usize, usize, usize, usize),
        out: &mut [f32],
        arg: &mut [u32],
    ) {
        pool_channel_f32(level, g, plane, shape, out, arg)
    }
}

impl Pooled for f64 {
    fn pool(
        _: Level,
        g: PoolGeometry,
        plane: &[f64],
        shape: (usize, usize, usize, usize),
        out: &mut [f64],
        arg: &mut [u32],
    ) {
        pool_channel(g, plane, shape, out, arg)
    }
}

impl MaxPool {
    fn run<T: Pooled>(
        &self,
        x: &[T],
        (c, h, w, b): (usize, usize, usize, usize),
    ) -> Result<(Vec<T>, Vec<u32>)> {
        let (ho, wo) = (self.geometry.out_size(h)?, self.geometry.out_size(w)?);
        let mut out = vec![T::zero(); c * ho * wo * b];
        let mut arg = vec![0u32; c * ho * wo * b];
        let g = self.geometry;
        let level = Level::detected();
        out.par_chunks_mut((ho * wo * b).max(1))
            .zip(arg.par_chunks_mut((ho * wo * b).max(1)))
            .zip(x.par_chunks((h * w * b).max(1)))
            .for_each(|((out, arg), plane)| T::pool(level, g, plane, (h, w, b, wo), out, arg));
        Ok((out, arg))
    }
}

impl MaxPool {
    /// The op pooling with `geometry`.
    pub(crate) fn new(geometry: PoolGeometry) -> Self {
        MaxPool {
            geometry,
            argmax: Mutex::new(Vec::new()),
        }
    }

    /// The gradient of the last pooled input, (c, h, w, b) of `dtype`, from its output's.
    pub(crate) fn input_grad(
        &self,
        (c, h, w, b): (usize, usize, usize, usize),
        dtype: candle_core::DType,
        grad: &Tensor,
    ) -> Result<Tensor> {
        let arg = std::mem::take(&mut *self.argmax.lock().expect("max-pool state"));
        if dtype == candle_core::DType::F32 {
            let dx = with_f32(grad, |g| scatter(g, &arg, c, h * w * b))?;
            return Tensor::from_vec(dx, (c, h, w, b), grad.device());
        }
        let g = grad
            .to_dtype(candle_core::DType::F64)?
            .flatten_all()?
            .to_vec1::<f64>()?;
        Tensor::from_vec(scatter(&g, &arg, c, h * w * b), (c, h, w, b), grad.device())?
            .to_dtype(dtype)
    }
}

impl CustomOp1 for MaxPool {
    fn name(&self) -> &'static str {
        "max-pool-padded"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let &[c, h, w, b] = l.dims() else {
            candle_core::bail!(
                "max-pool: expected (channels, height, width, batch), got {:?}",
                l.dims()
            )
        };
        let Some((start, end)) = l.contiguous_offsets() else {
            candle_core::bail!("max-pool: input must be contiguous")
        };
        let (storage, arg) = match s {
            CpuStorage::F32(v) => {
                let (out, arg) = self.run(&v[start..end], (c, h, w, b))?;
                (CpuStorage::F32(out), arg)
            }
            CpuStorage::F64(v) => {
                let (out, arg) = self.run(&v[start..end], (c, h, w, b))?;
                (CpuStorage::F64(out), arg)
            }
            _ => candle_core::bail!("max-pool: f32 or f64 input"),
        };
        *self.argmax.lock().expect("max-pool state") = arg;
        let (ho, wo) = (self.geometry.out_size(h)?, self.geometry.out_size(w)?);
        Ok((storage, Shape::from((c, ho, wo, b))))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(self.input_grad(x.dims4()?, x.dtype(), grad)?))
    }
}

/// Each output gradient added to its window's arg-max in its channel's plane (each plane
/// zeroed by the thread that fills it, just before).
fn scatter<T: WithDType>(grad: &[T], arg: &[u32], channels: usize, plane_len: usize) -> Vec<T> {
    let per_channel = grad.len() / channels.max(1);
    // SAFETY: every plane is filled with zeros before its gradients are added.
    unsafe {
        written(channels * plane_len, |dx| {
            dx.par_chunks_mut(plane_len.max(1))
                .enumerate()
                .for_each(|(ch, dx)| {
                    let dx = filled(dx, T::zero());
                    let window = ch * per_channel..(ch + 1) * per_channel;
                    for (&gv, &i) in grad[window.clone()].iter().zip(&arg[window]) {
                        dx[i as usize] += gv;
                    }
                })
        })
    }
}

/// Max-pools batch-innermost `x` (channels, height, width, batch) with `geometry`: the CPU op.
pub fn max_pool_chwn(x: &Tensor, geometry: PoolGeometry) -> Result<Tensor> {
    if x.rank() != 4 {
        candle_core::bail!(
            "max-pool: expected (channels, height, width, batch), got {:?}",
            x.dims()
        );
    }
    x.contiguous()?.apply_op1(MaxPool::new(geometry))
}

/// Max-pools maps in the path's layout (`conv::maps`): the CPU op on (channels, height, width,
/// batch), the reference on (batch, channels, height, width).
pub fn max_pool(kernels: Kernels, x: &Tensor, geometry: PoolGeometry) -> Result<Tensor> {
    match kernels {
        Kernels::Cpu => max_pool_chwn(x, geometry),
        Kernels::Reference => max_pool2d_reference(x, geometry),
    }
}

/// Max-pools `x` (batch, channels, height, width) with `geometry` on either path (for the CPU
/// op the input is moved to batch-innermost and back).
pub fn max_pool2d(x: &Tensor, geometry: PoolGeometry, kernels: Kernels) -> Result<Tensor> {
    if x.rank() != 4 {
        candle_core::bail!(
            "max-pool: expected (batch, channels, height, width), got {:?}",
            x.dims()
        );
    }
    match kernels {
        Kernels::Cpu => max_pool_chwn(&x.permute((1, 2, 3, 0))?, geometry)?.permute((3, 0, 1, 2)),
        Kernels::Reference => max_pool2d_reference(x, geometry),
    }
}

/// The same pool in plain tensor ops, with autograd's backward: pad with a value that never
/// wins, pick each window offset's rows and columns with `index_select`, and take the
/// element-wise maximum of the k x k picks. (Tied maxima share the gradient here, where the
/// custom op gives it to the first; with distinct values the two agree.)
pub fn max_pool2d_reference(x: &Tensor, g: PoolGeometry) -> Result<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    let (ho, wo) = (g.out_size(h)?, g.out_size(w)?);
    let p = g.padding;
    let floor = |shape: (usize, usize, usize, usize)| -> Result<Tensor> {
        Tensor::full(-1e30f32, shape, x.device())?.to_dtype(x.dtype())
    };
    let mut padded = x.clone();
    if p > 0 {
        padded = Tensor::cat(&[floor((b, c, h, p))?, padded, floor((b, c, h, p))?], 3)?;
        let wp = w + 2 * p;
        padded = Tensor::cat(&[floor((b, c, p, wp))?, padded, floor((b, c, p, wp))?], 2)?;
    }
    let picks = |offset: usize, count: usize| -> Result<Tensor> {
        let idx: Vec<u32> = (0..count).map(|o| (o * g.stride + offset) as u32).collect();
        Tensor::from_vec(idx, count, x.device())
    };
    let mut out: Option<Tensor> = None;
    for dy in 0..g.kernel {
        let rows = padded.index_select(&picks(dy, ho)?, 2)?;
        for dx in 0..g.kernel {
            let window = rows.index_select(&picks(dx, wo)?, 3)?;
            out = Some(match out {
                None => window,
                Some(best) => best.maximum(&window)?,
            });
        }
    }
    out.ok_or_else(|| candle_core::Error::Msg("max-pool: empty kernel".into()))
}

/// The lab's pool: kernel 3, stride 2, padding 1.
pub const LAB_POOL: PoolGeometry = PoolGeometry {
    kernel: 3,
    stride: 2,
    padding: 1,
};

#[cfg(test)]
mod tests {
    use super::*;

    /// Every instruction-set level this CPU has pools to the baseline's values and arg-maxes.
    #[test]
    fn every_simd_level_matches_the_baseline() {
        let (h, w, b) = (7, 6, 19);
        let plane: Vec<f32> = (0..h * w * b)
            .map(|i| ((i * 31 % 23) as f32) - 11.0)
            .collect();
        let (ho, wo) = (LAB_POOL.out_size(h).unwrap(), LAB_POOL.out_size(w).unwrap());
        let run = |level: Level| {
            let mut out = vec![0f32; ho * wo * b];
            let mut arg = vec![0u32; ho * wo * b];
            pool_channel_f32(level, LAB_POOL, &plane, (h, w, b, wo), &mut out, &mut arg);
            (out, arg)
        };
        let base = run(Level::BASELINE);
        for level in Level::available() {
            assert_eq!(run(level), base, "{}", level.name());
        }
    }
}
