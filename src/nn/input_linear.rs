//! The first layer's matmul, x W, as a custom op whose backward gives W its gradient and skips
//! x's: candle's own matmul backward always computes dL/dx, which for the input images is a
//! (batch x 3072) product nobody reads, a third of the MLP's backward work.

use candle_core::backend::BackendStorage;
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
        Ok((x.matmul(w, (1, m, n, k), xl, wl)?, Shape::from((m, n))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        _w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((None, Some(x.t()?.matmul(grad)?)))
    }
}

/// x W where x needs no gradient (the network's input).
pub fn input_matmul(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    x.apply_op2(w, InputMatmul)
}
