//! In-place updates of parameter tensors, as candle custom ops: one pass over memory and no
//! allocation, where `w = (w - g * lr)?` would allocate twice and pass three times.
//!
//! They mutate the tensor's storage, which every clone of the tensor shares. `assign` and the
//! references use tensor ops and work on any device.

use super::Kernels;
use candle_core::{CpuStorage, InplaceOp2, Layout, Result, Tensor};

/// The elements of a contiguous tensor's storage, or an error naming `what`.
pub(crate) fn contiguous<'a, T>(data: &'a [T], layout: &Layout, what: &str) -> Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("{what}: needs a contiguous tensor"),
    }
}

/// The mutable elements of a contiguous tensor's storage, or an error naming `what`.
pub(crate) fn contiguous_mut<'a, T>(
    data: &'a mut [T],
    layout: &Layout,
    what: &str,
) -> Result<&'a mut [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&mut data[start..end]),
        None => candle_core::bail!("{what}: needs a contiguous target"),
    }
}

/// Overwrites `y` with `x` in place (every clone of `y`, a `Var` included, sees the values),
/// on any device.
pub fn assign(y: &Tensor, x: &Tensor) -> Result<()> {
    if y.shape() != x.shape() {
        candle_core::bail!("shapes differ, {:?} and {:?}", y.shape(), x.shape());
    }
    let x = x.to_dtype(y.dtype())?.to_device(y.device())?;
    if y.rank() == 0 {
        return y.reshape(1)?.slice_set(&x.reshape(1)?, 0, 0);
    }
    y.slice_set(&x, 0, 0)
}

/// y += alpha * x, in place; x may hold several rows of y's length, each added in turn.
struct Axpy {
    alpha: f64,
}

impl InplaceOp2 for Axpy {
    fn name(&self) -> &'static str {
        "axpy"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        match (s1, s2) {
            (CpuStorage::F32(y), CpuStorage::F32(x)) => {
                let x = contiguous(x, l2, "axpy")?;
                let a = self.alpha as f32;
                let y = contiguous_mut(y, l1, "axpy")?;
                for row in x.chunks_exact(y.len().max(1)) {
                    y.iter_mut().zip(row).for_each(|(y, x)| *y += a * x);
                }
            }
            (CpuStorage::F64(y), CpuStorage::F64(x)) => {
                let x = contiguous(x, l2, "axpy")?;
                let y = contiguous_mut(y, l1, "axpy")?;
                for row in x.chunks_exact(y.len().max(1)) {
                    y.iter_mut()
                        .zip(row)
                        .for_each(|(y, x)| *y += self.alpha * x);
                }
            }
            _ => candle_core::bail!("axpy: f32 or f64 tensors of one dtype"),
        }
        Ok(())
    }
}

/// y += alpha * x in place; shapes must match. The CPU op (f32/f64), or tensor ops.
pub fn axpy(kernels: Kernels, y: &Tensor, x: &Tensor, alpha: f64) -> Result<()> {
    if y.shape() != x.shape() {
        candle_core::bail!("axpy: shapes differ, {:?} and {:?}", y.shape(), x.shape());
    }
    if kernels.cpu() {
        y.inplace_op2(x, &Axpy { alpha })
    } else {
        assign(y, &(y + (x * alpha)?)?)
    }
}

/// y += alpha * (sum of x's rows) in place, for y (n) and x (m, n): a bias's SGD step from the
/// batch's output gradients without a (n) sum tensor (candle's sum over dim 0 walks x strided).
pub fn axpy_row_sums(kernels: Kernels, y: &Tensor, x: &Tensor, alpha: f64) -> Result<()> {
    match (y.dims(), x.dims()) {
        (&[n], &[_, n2]) if n == n2 && kernels.cpu() => {
            y.inplace_op2(&x.contiguous()?, &Axpy { alpha })
        }
        (&[n], &[_, n2]) if n == n2 => assign(y, &(y + (x.sum(0)? * alpha)?)?),
        _ => candle_core::bail!(
            "axpy_row_sums: expected (n) and (m, n), got {:?} and {:?}",
            y.shape(),
            x.shape()
        ),
    }
}
