//! 2-d convolution, stride 1, "same" padding, odd square kernel. The CPU fast path
//! (`conv2d_cm`) works on channel-major activations (channels, batch, height, width): the
//! forward is im2col and one product whose result is already channel-major, the backward is
//! two products (dW straight from the saved patches, the patch gradients folded back by
//! col2im), all in f32. The reference (`conv2d_same`) is candle's conv2d on (batch, channels,
//! height, width), which every device has.

use crate::kernels::conv::{col2im, im2col};
use crate::kernels::cpu::{f32_slice, with_f32};
use crate::kernels::gemm::{product, View};
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use std::sync::Mutex;

/// Convolution of `x` (B, C_in, H, W) with `weight` (C_out, C_in, k, k), plus `bias` (C_out)
/// when given: candle's conv2d, the reference path.
pub fn conv2d_same(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let (_, c_in, _, _) = x.dims4()?;
    let (c_out, c_in2, k, k2) = weight.dims4()?;
    if c_in != c_in2 || k != k2 || k % 2 == 0 {
        candle_core::bail!(
            "conv2d: input {:?} and kernel {:?} do not fit (square odd kernel, same channels)",
            x.dims(),
            weight.dims()
        );
    }
    let y = x.conv2d(weight, k / 2, 1, 1, 1)?;
    match bias {
        Some(b) => y.broadcast_add(&b.reshape((1, c_out, 1, 1))?),
        None => Ok(y),
    }
}

/// The channel-major convolution op; it keeps its patches for the backward pass.
struct ConvCm {
    kernel: usize,
    need_dx: bool,
    keep: bool,
    cols: Mutex<Option<Vec<f32>>>,
}

impl ConvCm {
    fn dims(&self, xl: &Layout, wl: &Layout) -> Result<((usize, usize, usize, usize), usize)> {
        let (&[c, b, h, w], &[c_out, c_in, k, k2]) = (xl.dims(), wl.dims()) else {
            candle_core::bail!(
                "conv: expected (C, B, H, W) and (C_out, C_in, k, k), got {:?} and {:?}",
                xl.dims(),
                wl.dims()
            )
        };
        if c != c_in || k != k2 || k != self.kernel {
            candle_core::bail!(
                "conv: input {:?} and kernel {:?} do not fit",
                xl.dims(),
                wl.dims()
            );
        }
        Ok(((c, b, h, w), c_out))
    }
}

impl CustomOp2 for ConvCm {
    fn name(&self) -> &'static str {
        "conv2d-channel-major"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (dims @ (c, b, h, w), c_out) = self.dims(xl, wl)?;
        let k = self.kernel;
        let x = f32_slice(xs, xl, "conv")?;
        let weight = f32_slice(ws, wl, "conv")?;
        let cols = im2col(x, dims, k);
        let y = product(
            View::rows(weight, c_out, c * k * k),
            View::rows(&cols, c * k * k, b * h * w),
            1.0,
        );
        if self.keep {
            *self.cols.lock().expect("conv state") = Some(cols);
        }
        Ok((CpuStorage::F32(y), Shape::from((c_out, b, h, w))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (c, b, h, w) = x.dims4()?;
        let (c_out, _, k, _) = weight.dims4()?;
        let (n, kk) = (b * h * w, c * k * k);
        let cols = match self.cols.lock().expect("conv state").take() {
            Some(cols) => cols,
            None => with_f32(x, |x| im2col(x, (c, b, h, w), k))?,
        };
        let (dw, dx) = with_f32(grad, |g| {
            let g = View::rows(g, c_out, n);
            let dw = product(g, View::rows(&cols, kk, n).t(), 1.0);
            drop(cols);
            let dx = self.need_dx.then(|| {
                with_f32(weight, |wv| {
                    let dcols = product(View::rows(wv, c_out, kk).t(), g, 1.0);
                    col2im(&dcols, (c, b, h, w), k)
                })
            });
            (dw, dx)
        })?;
        let dw = Tensor::from_vec(dw, (c_out, c, k, k), x.device())?;
        let dx = match dx {
            Some(dx) => Some(Tensor::from_vec(dx?, (c, b, h, w), x.device())?),
            None => None,
        };
        Ok((dx, Some(dw)))
    }
}

/// Convolution of channel-major `x` (C_in, B, H, W) with `weight` (C_out, C_in, k, k), no
/// bias: (C_out, B, H, W). `input` marks the network's input, whose gradient is skipped;
/// `train` keeps the patches for the backward pass. f32 on the CPU.
pub fn conv2d_cm(x: &Tensor, weight: &Tensor, input: bool, train: bool) -> Result<Tensor> {
    let k = weight.dim(3)?;
    if k % 2 == 0 {
        candle_core::bail!("conv: the kernel must be odd, got {k}");
    }
    x.contiguous()?.apply_op2(
        &weight.contiguous()?,
        ConvCm {
            kernel: k,
            need_dx: !input,
            keep: train,
            cols: Mutex::new(None),
        },
    )
}
