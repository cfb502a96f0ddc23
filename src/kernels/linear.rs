//! The linear layers' product x W as a custom op on `kernels::gemm`, so every product of a
//! training step runs there (where `GRADBOARD_SIMD` reaches it) and the weight's gradient goes
//! to `grad_sink`. For the network's first layer the backward skips dL/dx: candle's own matmul
//! backward always computes it, and for the input images it is a (batch x 3072) product
//! nobody reads, a third of the MLP's backward work. The products write fresh buffers (no
//! zero-filled output first).

use super::bf16::{product, round_tensor};
use super::cpu::{f32_slice, with_f32};
use super::gemm::View;
use super::Kernels;
use crate::config::Precision;
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

/// x (batch, in) times W (in, out); the backward gives W its gradient, and x its own unless
/// x is the network's input.
pub struct LinearMatmul {
    /// Whether x is the network's input (its gradient is skipped).
    pub input: bool,
    /// The products' number format.
    pub precision: Precision,
}

impl CustomOp2 for LinearMatmul {
    fn name(&self) -> &'static str {
        "linear-matmul"
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
                "linear-matmul: expected (batch, in) and (in, out), got {:?} and {:?}",
                xl.dims(),
                wl.dims()
            )
        };
        if k != k2 {
            candle_core::bail!("linear-matmul: inner sizes differ, {k} and {k2}");
        }
        let (x, w) = (
            f32_slice(x, xl, "linear-matmul")?,
            f32_slice(w, wl, "linear-matmul")?,
        );
        let y = product(self.precision, View::rows(x, m, k), View::rows(w, k, n));
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
                product(self.precision, View::rows(x, m, k).t(), View::rows(g, m, n))
            })
        })??;
        let dx = if self.input {
            None
        } else {
            let dx = with_f32(grad, |g| {
                with_f32(w, |w| {
                    product(self.precision, View::rows(g, m, n), View::rows(w, k, n).t())
                })
            })??;
            Some(Tensor::from_vec(dx, (m, k), x.device())?)
        };
        let dw = Tensor::from_vec(dw, (k, n), w.device())?;
        Ok((dx, super::grad_sink::offer(w, dw)))
    }
}

/// x W on the path `kernels` names in `precision`: the CPU op, or candle's matmul (of the
/// bf16-rounded operands in bf16; its backward computes dx even for the network's `input`).
pub fn linear_matmul(
    (kernels, precision): (Kernels, Precision),
    x: &Tensor,
    w: &Tensor,
    input: bool,
) -> Result<Tensor> {
    match kernels {
        Kernels::Cpu => x
            .contiguous()?
            .apply_op2(w, LinearMatmul { input, precision }),
        Kernels::Reference => round_tensor(precision, x)?.matmul(&round_tensor(precision, w)?),
    }
}
