//! The first layer's matmul, x W, as a custom op whose backward gives W its gradient and skips
//! x's: candle's own matmul backward always computes dL/dx, which for the input images is a
//! (batch x 3072) product nobody reads, a third of the MLP's backward work. Both products run
//! on `kernels::gemm` into fresh buffers (no zero-filled output first).

use super::cpu::{f32_slice, with_f32};
use super::gemm::{product, View};
use super::Kernels;
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

/// x (batch, in) times W (in, out), with a gradient for W only.
pub struct InputMatmul;

impl CustomOp2 for InputMatmul {
    fn name(&self) -> &'static str {
        "input-matmul"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        xl: &Layout,
        w: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (&[m, k], &[k2, n]) = (xl.dims(), wl.dims()) else {
            candle_core::bail!(
                "input-matmul: expected (batch, in) and (in, out), got {:?} and {:?}",
                xl.dims(),
                wl.dims()
            )
        };
        if k != k2 {
            candle_core::bail!("input-matmul: inner sizes differ, {k} and {k2}");
        }
        let (x, w) = (
            f32_slice(x, xl, "input-matmul")?,
            f32_slice(w, wl, "input-matmul")?,
        );
        let y = product(View::rows(x, m, k), View::rows(w, k, n), 1.0);
        Ok((CpuStorage::F32(y), Shape::from((m, n))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (m, k) = x.dims2()?;
        let n = w.dim(1)?;
        let dw = with_f32(x, |x| {
            with_f32(grad, |g| {
                product(View::rows(x, m, k).t(), View::rows(g, m, n), 1.0)
            })
        })??;
        let dw = Tensor::from_vec(dw, (k, n), x.device())?;
        Ok((None, super::grad_sink::offer(w, dw)))
    }
}

/// x W where x needs no gradient (the network's input): the CPU op, or candle's matmul (whose
/// backward computes the unused dx too).
pub fn input_matmul(kernels: Kernels, x: &Tensor, w: &Tensor) -> Result<Tensor> {
    match kernels {
        Kernels::Cpu => x.contiguous()?.apply_op2(w, InputMatmul),
        Kernels::Reference => x.matmul(w),
    }
}
