//! Max-pooling with padding and overlapping windows (section 4 uses kernel 3, stride 2,
//! padding 1), as a custom op with its backward: candle's own max-pool takes no padding and
//! its backward refuses windows that overlap. Each output's gradient goes to the arg-max of its
//! window (the first maximum in row-major order); windows overlap, so gradients add up; padding
//! never wins.

use crate::kernels::cpu::with_f32;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor, WithDType};
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

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

/// The op: it records each output's arg-max (index within its input plane) for the backward.
struct MaxPool {
    geometry: PoolGeometry,
    argmax: Arc<Mutex<Vec<u32>>>,
}

fn pool_plane<T: WithDType>(
    g: PoolGeometry,
    plane: &[T],
    h: usize,
    w: usize,
    out: &mut [T],
    arg: &mut [u32],
    wo: usize,
) {
    for (o, (value, index)) in out.iter_mut().zip(arg.iter_mut()).enumerate() {
        let (oy, ox) = (o / wo, o % wo);
        let y0 = (oy * g.stride) as isize - g.padding as isize;
        let x0 = (ox * g.stride) as isize - g.padding as isize;
        let mut best: Option<(T, usize)> = None;
        for dy in 0..g.kernel as isize {
            let y = y0 + dy;
            if y < 0 || y >= h as isize {
                continue;
            }
            for dx in 0..g.kernel as isize {
                let x = x0 + dx;
                if x < 0 || x >= w as isize {
                    continue;
                }
                let i = y as usize * w + x as usize;
                let v = plane[i];
                if best.is_none_or(|(b, _)| v.to_f64() > b.to_f64()) {
                    best = Some((v, i));
                }
            }
        }
        let (v, i) = best.expect("every window overlaps the input");
        *value = v;
        *index = i as u32;
    }
}

impl MaxPool {
    fn run<T: WithDType>(
        &self,
        x: &[T],
        dims: (usize, usize, usize, usize),
    ) -> Result<(Vec<T>, Vec<u32>)> {
        let (b, c, h, w) = dims;
        let (ho, wo) = (self.geometry.out_size(h)?, self.geometry.out_size(w)?);
        let mut out = vec![T::zero(); b * c * ho * wo];
        let mut arg = vec![0u32; b * c * ho * wo];
        let g = self.geometry;
        out.par_chunks_mut(ho * wo)
            .zip(arg.par_chunks_mut(ho * wo))
            .zip(x.par_chunks(h * w))
            .for_each(|((out, arg), plane)| pool_plane(g, plane, h, w, out, arg, wo));
        Ok((out, arg))
    }
}

impl CustomOp1 for MaxPool {
    fn name(&self) -> &'static str {
        "max-pool-padded"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let &[b, c, h, w] = l.dims() else {
            candle_core::bail!(
                "max-pool: expected (batch, channels, height, width), got {:?}",
                l.dims()
            )
        };
        let Some((start, end)) = l.contiguous_offsets() else {
            candle_core::bail!("max-pool: input must be contiguous")
        };
        let (storage, arg) = match s {
            CpuStorage::F32(v) => {
                let (out, arg) = self.run(&v[start..end], (b, c, h, w))?;
                (CpuStorage::F32(out), arg)
            }
            CpuStorage::F64(v) => {
                let (out, arg) = self.run(&v[start..end], (b, c, h, w))?;
                (CpuStorage::F64(out), arg)
            }
            _ => candle_core::bail!("max-pool: f32 or f64 input"),
        };
        *self.argmax.lock().expect("max-pool state") = arg;
        let (ho, wo) = (self.geometry.out_size(h)?, self.geometry.out_size(w)?);
        Ok((storage, Shape::from((b, c, ho, wo))))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (b, c, h, w) = x.dims4()?;
        let arg = std::mem::take(&mut *self.argmax.lock().expect("max-pool state"));
        let dx = if x.dtype() == candle_core::DType::F32 {
            let dx = with_f32(grad, |g| scatter(g, &arg, b * c, h * w))?;
            Tensor::from_vec(dx, (b, c, h, w), x.device())?
        } else {
            let g = grad
                .to_dtype(candle_core::DType::F64)?
                .flatten_all()?
                .to_vec1::<f64>()?;
            Tensor::from_vec(scatter(&g, &arg, b * c, h * w), (b, c, h, w), x.device())?
                .to_dtype(x.dtype())?
        };
        Ok(Some(dx))
    }
}

/// Each output gradient added to its window's arg-max in its plane.
fn scatter<T: WithDType>(grad: &[T], arg: &[u32], planes: usize, plane_len: usize) -> Vec<T> {
    let per_plane = grad.len() / planes.max(1);
    let mut dx = vec![T::zero(); planes * plane_len];
    dx.par_chunks_mut(plane_len)
        .zip(grad.par_chunks(per_plane))
        .zip(arg.par_chunks(per_plane))
        .for_each(|((dx, g), arg)| {
            for (&gv, &i) in g.iter().zip(arg) {
                dx[i as usize] += gv;
            }
        });
    dx
}

/// Max-pools `x` (batch, channels, height, width) with `geometry`: the custom op with its
/// backward when `fast` (CPU), otherwise `max_pool2d_reference`.
pub fn max_pool2d(x: &Tensor, geometry: PoolGeometry, fast: bool) -> Result<Tensor> {
    if x.rank() != 4 {
        candle_core::bail!(
            "max-pool: expected (batch, channels, height, width), got {:?}",
            x.dims()
        );
    }
    if !(fast && x.device().is_cpu()) {
        return max_pool2d_reference(x, geometry);
    }
    x.contiguous()?.apply_op1(MaxPool {
        geometry,
        argmax: Arc::new(Mutex::new(Vec::new())),
    })
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
