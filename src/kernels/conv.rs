//! 2-d convolution, stride 1, "same" padding, odd square kernel, and the layout of the maps
//! it works on. The CPU ops (`conv2d_chwn`) work on batch-innermost maps (channels, height,
//! width, batch), by the method `choose` picks for the shape: for 3x3 kernels with enough
//! input channels, one product a kernel tap on maps of 2x2 and less (`taps`), else Winograd
//! (F(4x4, 3x3) on maps of 8x8 and more, F(2x2, 3x3) on smaller even maps:
//! `winograd::choose`); otherwise im2col and one product whose result is already in that
//! layout, the backward two products (dW straight from the saved patches, the patch gradients
//! folded back by col2im); all in f32. Each backward offers the kernels' gradient to
//! `grad_sink`. The reference (`conv2d_same`) is candle's conv2d on (batch, channels, height,
//! width), which every device has.

use super::amx::{self, Left, Operand, Turned};
use super::bf16::{self, round_tensor};
use super::bn_relu::scale_shift_relu_rows;
use super::cpu::{f32_slice, with_f32};
use super::gemm::{batched, product, View};
use super::grad_sink;
use super::im2col::{col2im, im2col, Patches};
use super::norm::NormParams;
use super::simd::Level;
use super::taps;
use super::winograd::{self, Tile};
use super::Kernels;
use crate::config::Precision;
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use std::borrow::Cow;
use std::sync::Mutex;

/// A batch of flat images (B, 3 x 32 x 32) as maps in the path's layout: (C, H, W, B) for the
/// CPU ops, (B, C, H, W) for the references.
pub fn maps(kernels: Kernels, images: &Tensor) -> Result<Tensor> {
    let batch = images.dim(0)?;
    let x = images.reshape((batch, 3, 32, 32))?;
    match kernels {
        Kernels::Cpu => x.permute((1, 2, 3, 0))?.contiguous(),
        Kernels::Reference => Ok(x),
    }
}

/// Maps in the path's layout as rows of features (B, C x H x W), in (c, h, w) order.
pub fn rows(kernels: Kernels, maps: &Tensor) -> Result<Tensor> {
    match kernels {
        Kernels::Cpu => {
            let batch = maps.dim(3)?;
            maps.reshape((maps.elem_count() / batch.max(1), batch))?.t()
        }
        Kernels::Reference => maps.flatten_from(1),
    }
}

/// Convolution of maps `x` in the path's layout with `weight` (C_out, C_in, k, k), no bias.
/// `input` marks the network's input, whose gradient is skipped; `train` keeps what the
/// backward pass needs.
/// In `precision = "bf16"` the products take bf16-rounded operands: on the CPU with bf16 tiles
/// (AMX or AVX512_BF16), three products whose patches are made from the maps as they are
/// packed (`conv2d_chwn_bf16`); elsewhere on the CPU the rounded operands by the method f32
/// takes; on other devices candle's conv2d of the rounded tensors.
pub fn conv2d(
    (kernels, precision): (Kernels, Precision),
    x: &Tensor,
    weight: &Tensor,
    input: bool,
    train: bool,
) -> Result<Tensor> {
    match (kernels, precision) {
        (Kernels::Cpu, Precision::F32) => conv2d_chwn(x, weight, input, train),
        (Kernels::Cpu, Precision::Bf16) => conv2d_chwn_bf16(x, weight, input, train),
        (Kernels::Reference, _) => conv2d_same(
            &round_tensor(precision, x)?,
            &round_tensor(precision, weight)?,
            None,
        ),
    }
}

/// `conv2d_chwn` with bf16-rounded operands (x, the kernels, the output gradient) summed in
/// f32, for every kernel size and map. On tiles (AMX or AVX512_BF16, `amx::engine`): y = W x
/// patches(x), dW = dY x patches(x)^T, dx = turned W x patches(dY), the patches made from the
/// maps while the products pack them (nothing kept between the passes but x). Without tiles,
/// the rounded operands go by the f32 kernels and the method f32 takes (`choose`): Winograd
/// and taps compute the same sums as the direct convolution in another order, at f32's speed
/// (im2col's rounded products took about twice the f32 step).
pub fn conv2d_chwn_bf16(x: &Tensor, weight: &Tensor, input: bool, train: bool) -> Result<Tensor> {
    let kernel = weight.dim(3)?;
    if kernel % 2 == 0 {
        candle_core::bail!("conv: the kernel must be odd, got {kernel}");
    }
    let (x, weight) = (x.contiguous()?, weight.contiguous()?);
    if amx::engine().is_none() {
        let method = choose(kernel, x.dims4()?);
        return by_method(
            &x,
            &weight,
            method,
            Precision::Bf16,
            Level::detected(),
            (input, train),
        );
    }
    x.apply_op2(&weight, ConvCm::bf16(kernel, input, train))
}

/// The operand as the products take it: itself in f32, its values rounded to bf16 in bf16.
fn operand(precision: Precision, values: &[f32]) -> Cow<'_, [f32]> {
    match precision {
        Precision::F32 => Cow::Borrowed(values),
        Precision::Bf16 => Cow::Owned(bf16::rounded_values(values)),
    }
}

/// Maps in the path's layout plus a bias per channel.
pub fn add_channel_bias(kernels: Kernels, maps: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let c = bias.dim(0)?;
    let shape = match kernels {
        Kernels::Cpu => (c, 1, 1, 1),
        Kernels::Reference => (1, c, 1, 1),
    };
    maps.broadcast_add(&bias.reshape(shape)?)
}

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

/// The im2col convolution op; it keeps its patches for the backward pass.
pub(crate) struct ConvCm {
    kernel: usize,
    level: Level,
    precision: Precision,
    need_dx: bool,
    keep: bool,
    cols: Mutex<Option<Vec<f32>>>,
}

impl ConvCm {
    /// The bf16 op for a `kernel` x `kernel` convolution (`input`: of the network's input, so
    /// without an input gradient; `train`: keeping what the backward needs).
    pub(crate) fn bf16(kernel: usize, input: bool, train: bool) -> Self {
        ConvCm {
            kernel,
            level: Level::detected(),
            precision: Precision::Bf16,
            need_dx: !input,
            keep: train,
            cols: Mutex::new(None),
        }
    }
}

/// A convolution backward's results as candle wants them: the input gradient (when computed)
/// shaped as `x`, the kernels' gradient shaped as `weight` and offered to `grad_sink`.
fn gradients(
    x: &Tensor,
    weight: &Tensor,
    dx: Option<Vec<f32>>,
    dw: Vec<f32>,
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    let dx = match dx {
        Some(dx) => Some(Tensor::from_vec(dx, x.shape(), x.device())?),
        None => None,
    };
    let dw = Tensor::from_vec(dw, weight.shape(), weight.device())?;
    Ok((dx, grad_sink::offer(weight, dw)))
}

/// The maps' (C, H, W, B) and the output channels of a convolution of `xl`'s maps with
/// `wl`'s (C_out, C_in, k, k) kernels, or an error when they do not fit a `kernel` x `kernel`
/// convolution.
fn conv_dims(
    kernel: usize,
    xl: &Layout,
    wl: &Layout,
) -> Result<((usize, usize, usize, usize), usize)> {
    let (&[c, h, w, b], &[c_out, c_in, k, k2]) = (xl.dims(), wl.dims()) else {
        candle_core::bail!(
            "conv: expected (C, H, W, B) and (C_out, C_in, k, k), got {:?} and {:?}",
            xl.dims(),
            wl.dims()
        )
    };
    if c != c_in || k != k2 || k != kernel {
        candle_core::bail!(
            "conv: input {:?} and kernel {:?} do not fit",
            xl.dims(),
            wl.dims()
        );
    }
    Ok(((c, h, w, b), c_out))
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
        let (dims @ (c, h, w, b), c_out) = conv_dims(self.kernel, xl, wl)?;
        let k = self.kernel;
        let x = f32_slice(xs, xl, "conv")?;
        let weight = f32_slice(ws, wl, "conv")?;
        if self.made_patches() && amx::conv::fits(c, c_out, (h, w, b)) {
            let y = amx::conv::forward(weight, x, dims, c_out, k);
            return Ok((CpuStorage::F32(y), Shape::from((c_out, h, w, b))));
        }
        if self.made_patches() {
            let patches = Operand::Patches(Patches { x, dims, k });
            let y = amx::product_of(Left::Matrix(View::rows(weight, c_out, c * k * k)), patches);
            return Ok((CpuStorage::F32(y), Shape::from((c_out, h, w, b))));
        }
        let cols = im2col(x, dims, k);
        let y = bf16::product(
            self.precision,
            View::rows(weight, c_out, c * k * k),
            View::rows(&cols, c * k * k, b * h * w),
        );
        if self.keep {
            *self.cols.lock().expect("conv state") = Some(cols);
        }
        Ok((CpuStorage::F32(y), Shape::from((c_out, h, w, b))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (c, h, w, b) = x.dims4()?;
        let (c_out, _, k, _) = weight.dims4()?;
        let (n, kk) = (b * h * w, c * k * k);
        if self.made_patches() && amx::conv::fits(c, c_out, (h, w, b)) {
            // The same products with the patches read in place.
            let (dims, out_dims) = ((c, h, w, b), (c_out, h, w, b));
            let (dw, dx) = with_f32(x, |xv| {
                with_f32(grad, |g| {
                    let dw = amx::conv::weight_grad(g, xv, dims, c_out, k);
                    let dx = self.need_dx.then(|| {
                        with_f32(weight, |wv| amx::conv::input_grad(wv, g, out_dims, c, k))
                    });
                    (dw, dx)
                })
            })??;
            return gradients(x, weight, dx.transpose()?, dw);
        }
        if self.made_patches() {
            // dW = dY x patches(x)^T; dx = turned kernels x patches(dY) (the transposed
            // convolution as a convolution: no patch gradients to fold back).
            let (dw, dx) = with_f32(x, |xv| {
                with_f32(grad, |g| {
                    let patches = Patches {
                        x: xv,
                        dims: (c, h, w, b),
                        k,
                    };
                    let dw = amx::product_of(
                        Left::Matrix(View::rows(g, c_out, n)),
                        Operand::PatchesT(patches),
                    );
                    let dx = self.need_dx.then(|| {
                        with_f32(weight, |wv| {
                            let turned = Turned {
                                weight: wv,
                                dims: (c_out, c, k),
                            };
                            let patches = Patches {
                                x: g,
                                dims: (c_out, h, w, b),
                                k,
                            };
                            amx::product_of(Left::Turned(turned), Operand::Patches(patches))
                        })
                    });
                    (dw, dx)
                })
            })??;
            return gradients(x, weight, dx.transpose()?, dw);
        }
        let cols = match self.cols.lock().expect("conv state").take() {
            Some(cols) => cols,
            None => with_f32(x, |x| im2col(x, (c, h, w, b), k))?,
        };
        let (dw, dx) = with_f32(grad, |g| {
            let g = View::rows(g, c_out, n);
            let dw = bf16::product(self.precision, g, View::rows(&cols, kk, n).t());
            drop(cols);
            let dx = self.need_dx.then(|| {
                with_f32(weight, |wv| {
                    let dcols = bf16::product(self.precision, View::rows(wv, c_out, kk).t(), g);
                    col2im(self.level, &dcols, (c, h, w, b), k)
                })
            });
            (dw, dx)
        })?;
        gradients(x, weight, dx.transpose()?, dw)
    }
}

impl ConvCm {
    /// Whether this convolution's products make their patches from the maps as they pack them
    /// (bf16 on tiles: AMX or AVX512_BF16) instead of going through a stored patch matrix.
    fn made_patches(&self) -> bool {
        self.precision == Precision::Bf16 && amx::engine().is_some()
    }
}

/// The 3x3 channel-major convolution by Winograd (`kernels::winograd`); it keeps the
/// transformed input and kernel for the backward pass. In bf16 its operands (x, the kernels,
/// the output gradient) are rounded to bf16 before the f32 transforms (`operand`).
struct ConvWinograd {
    tile: Tile,
    level: Level,
    precision: Precision,
    need_dx: bool,
    keep: bool,
    saved: Mutex<Option<(Vec<f32>, Vec<f32>)>>,
}

impl CustomOp2 for ConvWinograd {
    fn name(&self) -> &'static str {
        "conv2d-winograd"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (&[c, h, w, b], &[k, c2, 3, 3]) = (xl.dims(), wl.dims()) else {
            candle_core::bail!(
                "winograd: expected (C, H, W, B) and (K, C, 3, 3), got {:?} and {:?}",
                xl.dims(),
                wl.dims()
            )
        };
        if c != c2 || !self.tile.fits(3, (c, h, w, b)) {
            candle_core::bail!(
                "winograd: input {:?} and kernel {:?} do not fit",
                xl.dims(),
                wl.dims()
            );
        }
        let x = operand(self.precision, f32_slice(xs, xl, "winograd")?);
        let g = operand(self.precision, f32_slice(ws, wl, "winograd")?);
        let (y, u, v) = winograd_forward(self.level, self.tile, &x, &g, (c, h, w, b), k, None);
        if self.keep {
            *self.saved.lock().expect("winograd state") = Some((u, v));
        }
        Ok((CpuStorage::F32(y), Shape::from((k, h, w, b))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (c, h, w, b) = x.dims4()?;
        let k = weight.dim(0)?;
        let (tile, level) = (self.tile, self.level);
        let p = tile.columns((c, h, w, b));
        let (u, v) = match self.saved.lock().expect("winograd state").take() {
            Some(saved) => saved,
            None => (
                with_f32(weight, |g| {
                    winograd::kernel_transform(tile, &operand(self.precision, g), k, c)
                })?,
                with_f32(x, |x| {
                    winograd::input_transform(
                        level,
                        tile,
                        &operand(self.precision, x),
                        (c, h, w, b),
                    )
                })?,
            ),
        };
        let dm = with_f32(grad, |dy| {
            winograd::output_gradient(level, tile, &operand(self.precision, dy), (k, h, w, b))
        })?;
        let du = batched(tile.positions(), k, c, |pos| {
            (
                View::rows(&dm[pos * k * p..][..k * p], k, p),
                View::rows(&v[pos * c * p..][..c * p], c, p).t(),
            )
        });
        drop(v);
        let dg = winograd::kernel_gradient(tile, &du, k, c);
        let dx = if self.need_dx {
            let dv = batched(tile.positions(), c, p, |pos| {
                (
                    View::rows(&u[pos * k * c..][..k * c], k, c).t(),
                    View::rows(&dm[pos * k * p..][..k * p], k, p),
                )
            });
            Some(winograd::input_gradient(level, tile, &dv, (c, h, w, b)))
        } else {
            None
        };
        gradients(x, weight, dx, dg)
    }
}

/// The direct convolution tap by tap (`taps`), which reads the kernels in place and keeps
/// nothing for the backward pass; in bf16 on rounded operands (`operand`).
struct ConvTaps {
    kernel: usize,
    precision: Precision,
    need_dx: bool,
}

impl CustomOp2 for ConvTaps {
    fn name(&self) -> &'static str {
        "conv2d-taps"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (dims, c_out) = conv_dims(self.kernel, xl, wl)?;
        let x = operand(self.precision, f32_slice(xs, xl, "conv taps")?);
        let g = operand(self.precision, f32_slice(ws, wl, "conv taps")?);
        let y = taps::forward(&x, &g, dims, c_out, self.kernel);
        let (_, h, w, b) = dims;
        Ok((CpuStorage::F32(y), Shape::from((c_out, h, w, b))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let dims = x.dims4()?;
        let (c_out, k) = (weight.dim(0)?, self.kernel);
        let p = self.precision;
        let (dg, dx) = with_f32(x, |xv| {
            with_f32(weight, |g| {
                with_f32(grad, |dy| {
                    let (xv, g, dy) = (operand(p, xv), operand(p, g), operand(p, dy));
                    taps::backward(&xv, &g, &dy, dims, c_out, k, self.need_dx)
                })
            })
        })???;
        gradients(x, weight, dx, dg)
    }
}

/// The Winograd forward pass on slices: (y, U, V) for x (c, h, w, b) and kernels g (k, c, 3,
/// 3), the `epilogue` (a scale and a shift per output channel, then ReLU) applied as y is
/// written.
fn winograd_forward(
    level: Level,
    tile: Tile,
    x: &[f32],
    g: &[f32],
    dims @ (c, h, w, b): (usize, usize, usize, usize),
    k: usize,
    epilogue: Option<(&[f32], &[f32])>,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let p = tile.columns(dims);
    let u = winograd::kernel_transform(tile, g, k, c);
    let v = winograd::input_transform(level, tile, x, dims);
    let m = batched(tile.positions(), k, p, |pos| {
        (
            View::rows(&u[pos * k * c..][..k * c], k, c),
            View::rows(&v[pos * c * p..][..c * p], c, p),
        )
    });
    let y = winograd::output_transform(level, tile, &m, (k, h, w, b), epilogue);
    (y, u, v)
}

/// Inference of a convolution followed by batch norm and ReLU on channel-major maps `x`
/// (C_in, H, W, B), the norm's running statistics folded into a scale and a shift that the
/// convolution applies as it writes its output (`conv2d_chwn_affine_relu`): one pass
/// fewer over the maps. CPU path, f32.
pub fn conv_bn_relu_inference(x: &Tensor, weight: &Tensor, norm: &NormParams) -> Result<Tensor> {
    let (scale, shift) = norm
        .running
        .scale_shift(norm.weight.as_tensor(), norm.bias.as_tensor())?;
    conv2d_chwn_affine_relu(x, weight, &scale.to_vec1()?, &shift.to_vec1()?)
}

/// Inference: max(0, conv(x, weight) scale + shift) for each output channel, on
/// batch-innermost `x` (C_in, H, W, B): an evaluation's convolution, batch norm (its running
/// statistics folded into `scale` and `shift`) and ReLU, applied as the convolution writes its
/// output (in Winograd's output transform, or over im2col's product in place). No backward.
pub fn conv2d_chwn_affine_relu(
    x: &Tensor,
    weight: &Tensor,
    scale: &[f32],
    shift: &[f32],
) -> Result<Tensor> {
    let dims @ (c, h, w, b) = x.dims4()?;
    let (k, c2, kh, kw) = weight.dims4()?;
    if c != c2 || kh != kw || kh % 2 == 0 || scale.len() != k || shift.len() != k {
        candle_core::bail!(
            "conv: input {:?}, kernel {:?}, {} scales and {} shifts do not fit",
            x.dims(),
            weight.dims(),
            scale.len(),
            shift.len()
        );
    }
    let level = Level::detected();
    let y = with_f32(x, |xs| {
        with_f32(weight, |ws| match choose(kh, dims) {
            Method::Winograd(tile) => {
                Ok(winograd_forward(level, tile, xs, ws, dims, k, Some((scale, shift))).0)
            }
            Method::Taps => {
                let y = taps::forward(xs, ws, dims, k, kh);
                scale_shift_relu_rows(&y, scale, shift)
            }
            Method::Im2col => {
                let cols = im2col(xs, dims, kh);
                let y = product(
                    View::rows(ws, k, c * kh * kh),
                    View::rows(&cols, c * kh * kh, b * h * w),
                    1.0,
                );
                drop(cols);
                scale_shift_relu_rows(&y, scale, shift)
            }
        })
    })???;
    Tensor::from_vec(y, (k, h, w, b), x.device())
}

/// How a channel-major convolution is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvAlgorithm {
    /// What `choose` picks for the shape: taps on 3x3 kernels' maps of 2x2 and less, Winograd
    /// where it applies and pays, im2col otherwise.
    Auto,
    /// im2col and one product.
    Im2col,
    /// Winograd F(2x2, 3x3) (3x3 kernels on maps of 2x2 or more).
    Winograd,
    /// Winograd F(4x4, 3x3) (3x3 kernels on maps of 4x4 or more).
    Winograd4,
    /// Direct, one product a kernel tap (`taps`; any odd kernel and map).
    Taps,
}

/// How one convolution is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// im2col and one product.
    Im2col,
    /// Winograd with this tile.
    Winograd(Tile),
    /// One product a kernel tap.
    Taps,
}

/// The largest map side on which a 3x3 convolution goes tap by tap: on a 2x2 map the taps
/// do Winograd F(2x2, 3x3)'s 16 products a channel pair without its transformed kernels.
pub const TAPS_MAX_SIDE: usize = 2;

impl Method {
    /// Its name, as `bench --layers` prints it.
    pub fn name(self) -> &'static str {
        match self {
            Method::Im2col => "im2col",
            Method::Winograd(tile) => tile.name(),
            Method::Taps => "taps",
        }
    }

    /// How many times fewer multiplications than the direct convolution counted with its
    /// padding (k² an output pixel) it executes.
    pub fn saving(self, kernel: usize, (_, h, w, _): (usize, usize, usize, usize)) -> f64 {
        match self {
            Method::Im2col => 1.0,
            Method::Winograd(tile) => tile.saving(),
            Method::Taps => taps::saving(kernel, h, w),
        }
    }
}

/// The method a `kernel` x `kernel` convolution on `dims` (channels, height, width, batch)
/// takes: taps on maps of at most `TAPS_MAX_SIDE` with 3x3 kernels, Winograd where
/// `winograd::choose` picks a tile, im2col otherwise.
pub fn choose(kernel: usize, dims @ (c, h, w, _): (usize, usize, usize, usize)) -> Method {
    if kernel == 3 && c >= winograd::MIN_CHANNELS && h.max(w) <= TAPS_MAX_SIDE {
        return Method::Taps;
    }
    winograd::choose(kernel, dims).map_or(Method::Im2col, Method::Winograd)
}

/// Convolution of batch-innermost `x` (C_in, H, W, B) with `weight` (C_out, C_in, k, k), no
/// bias: (C_out, H, W, B). `input` marks the network's input, whose gradient is skipped;
/// `train` keeps what the backward pass needs. f32 on the CPU.
pub fn conv2d_chwn(x: &Tensor, weight: &Tensor, input: bool, train: bool) -> Result<Tensor> {
    conv2d_chwn_using(
        x,
        weight,
        input,
        train,
        ConvAlgorithm::Auto,
        Level::detected(),
    )
}

/// `conv2d_chwn` with the algorithm and the instruction-set level chosen (tests and
/// benchmarks compare them).
pub fn conv2d_chwn_using(
    x: &Tensor,
    weight: &Tensor,
    input: bool,
    train: bool,
    algorithm: ConvAlgorithm,
    level: Level,
) -> Result<Tensor> {
    let k = weight.dim(3)?;
    if k % 2 == 0 {
        candle_core::bail!("conv: the kernel must be odd, got {k}");
    }
    let dims = x.dims4()?;
    let method = match algorithm {
        ConvAlgorithm::Auto => choose(k, dims),
        ConvAlgorithm::Im2col => Method::Im2col,
        ConvAlgorithm::Taps => Method::Taps,
        ConvAlgorithm::Winograd | ConvAlgorithm::Winograd4 => {
            let tile = if algorithm == ConvAlgorithm::Winograd {
                Tile::F2
            } else {
                Tile::F4
            };
            if !tile.fits(k, dims) {
                candle_core::bail!(
                    "winograd {}: needs a 3x3 kernel on maps of {} or more, got {k}x{k} on {dims:?}",
                    tile.name(),
                    tile.m()
                );
            }
            Method::Winograd(tile)
        }
    };
    let (x, weight) = (x.contiguous()?, weight.contiguous()?);
    by_method(&x, &weight, method, Precision::F32, level, (input, train))
}

/// The convolution of contiguous `x` and `weight` by `method`, its products' operands in
/// `precision` on the f32 kernels (rounded to bf16 in bf16); `input` and `train` as
/// `conv2d_chwn` takes them.
fn by_method(
    x: &Tensor,
    weight: &Tensor,
    method: Method,
    precision: Precision,
    level: Level,
    (input, train): (bool, bool),
) -> Result<Tensor> {
    let kernel = weight.dim(3)?;
    match method {
        Method::Winograd(tile) => x.apply_op2(
            weight,
            ConvWinograd {
                tile,
                level,
                precision,
                need_dx: !input,
                keep: train,
                saved: Mutex::new(None),
            },
        ),
        Method::Taps => x.apply_op2(
            weight,
            ConvTaps {
                kernel,
                precision,
                need_dx: !input,
            },
        ),
        Method::Im2col => x.apply_op2(
            weight,
            ConvCm {
                kernel,
                level,
                precision,
                need_dx: !input,
                keep: train,
                cols: Mutex::new(None),
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The input gradient as the kernels turned half a turn times the output gradient's
    /// patches equals the patch gradients folded back (`col2im`), for 5x5 (gathered), 3x3 and 1x1
    /// (turned in registers) kernels on an odd map, 20 output channels (a depth block ending
    /// inside a kernel).
    #[test]
    fn turned_kernels_give_the_folded_back_patch_gradients() {
        if amx::engine().is_none() {
            eprintln!("skipped: no AMX-BF16 or AVX512_BF16 here");
            return;
        }
        for (k, c) in [(5, 3), (3, 3), (3, 40), (1, 40)] {
            let (c_out, dims @ (_, h, w, b)) = (20, (c, 7, 6, 2));
            let n = h * w * b;
            let draw = |len: usize, seed: usize| -> Vec<f32> {
                (0..len)
                    .map(|i| (((i * 7919 + seed * 104_729) % 1013) as f32 - 506.0) / 256.0)
                    .collect()
            };
            let (weight, grad) = (draw(c_out * c * k * k, 1), draw(c_out * n, 2));
            let turned = Turned {
                weight: &weight,
                dims: (c_out, c, k),
            };
            let patches = Patches {
                x: &grad,
                dims: (c_out, h, w, b),
                k,
            };
            let made = amx::product_of(Left::Turned(turned), Operand::Patches(patches));
            let dcols = amx::product(
                View::rows(&weight, c_out, c * k * k).t(),
                View::rows(&grad, c_out, n),
            );
            let folded = col2im(Level::detected(), &dcols, dims, k);
            for (i, (&a, &f)) in made.iter().zip(&folded).enumerate() {
                assert!((a - f).abs() <= 1e-4 * (1.0 + f.abs()), "{i}: {a} vs {f}");
            }
            assert_eq!(made.len(), folded.len());
        }
    }

    /// Without bf16 tiles, `precision = "bf16"` keeps its meaning (the convolution of the
    /// bf16-rounded x, kernels and output gradient, summed in f32) when the rounded operands go
    /// by Winograd F(4x4) and F(2x2) (on exact and overhanging maps) and by taps: the output and
    /// both gradients agree with the rounded im2col products to f32's precision, and differ
    /// from the f32 convolution by bf16's.
    #[test]
    fn bf16_without_tiles_takes_f32s_methods_on_the_rounded_operands() -> Result<()> {
        let _none = amx::tests::Only::nothing();
        let dev = candle_core::Device::Cpu;
        let level = Level::detected();
        for (c, side, expected) in [
            (16, 8, Method::Winograd(Tile::F4)),
            (16, 7, Method::Winograd(Tile::F4)),
            (16, 6, Method::Winograd(Tile::F2)),
            (16, 2, Method::Taps),
            (3, 8, Method::Im2col),
        ] {
            let dims = (c, side, side, 5);
            assert_eq!(choose(3, dims), expected);
            let x = candle_core::Var::from_tensor(&Tensor::randn(0f32, 1.0, dims, &dev)?)?;
            let w = candle_core::Var::from_tensor(&Tensor::randn(0f32, 0.2, (8, c, 3, 3), &dev)?)?;
            let dy = Tensor::randn(0f32, 1.0, (8, side, side, 5), &dev)?;
            let run = |y: Tensor| -> Result<[Vec<f32>; 3]> {
                let grads = (&y * &dy)?.sum_all()?.backward()?;
                let flat = |t: &Tensor| t.flatten_all()?.to_vec1::<f32>();
                Ok([
                    flat(&y)?,
                    flat(grads.get(x.as_tensor()).expect("dx"))?,
                    flat(grads.get(w.as_tensor()).expect("dw"))?,
                ])
            };
            let ours = run(conv2d_chwn_bf16(x.as_tensor(), w.as_tensor(), false, true)?)?;
            let im2col = run(by_method(
                x.as_tensor(),
                w.as_tensor(),
                Method::Im2col,
                Precision::Bf16,
                level,
                (false, true),
            )?)?;
            let f32s = run(conv2d_chwn(x.as_tensor(), w.as_tensor(), false, true)?)?;
            let relative = |a: &[f32], b: &[f32]| {
                let diff: f32 = a.iter().zip(b).map(|(a, b)| (a - b) * (a - b)).sum();
                (diff / b.iter().map(|b| b * b).sum::<f32>()).sqrt()
            };
            for (i, what) in ["output", "input gradient", "kernel gradient"]
                .iter()
                .enumerate()
            {
                let (to_rounded, to_f32) =
                    (relative(&ours[i], &im2col[i]), relative(&ours[i], &f32s[i]));
                assert!(to_rounded < 2e-6, "{expected:?} {what}: {to_rounded:.1e}");
                assert!(
                    to_f32 > 1e-4 && to_f32 < 1e-2,
                    "{expected:?} {what}: {to_f32:.1e} from f32"
                );
            }
        }
        Ok(())
    }
}
