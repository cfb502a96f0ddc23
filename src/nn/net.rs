//! A network built from a net description (`config::net`) on the data's shape: the one
//! dispatch of a net's layers by pattern. On the CPU maps flow in the kernels' (C, H, W, B)
//! layout: 3x3 "same" convolutions (Winograd, im2col or taps, `kernels::conv`), batch norm
//! and ReLU fused, max-pools and the linear products on the hand-written kernels, batch norm
//! with its activation and dropout over features on the MLPs' fused kernel; every other layer
//! on candle's ops in its (batch, channels, height, width) layout. Dropout draws from the run's seeded
//! generator. Parameters are named `layers.PATH.weight` (`layers.3.0.weight` inside a residual,
//! `layers.3.shortcut.conv.weight` for its projection) and drawn as the lab's models draw
//! theirs, so the lab's descriptions train as the lab's models do.

use super::dropout::{apply_mask, dropout_mask};
use super::init;
use super::linear::Linear;
use super::norm_params::register_norm;
use crate::config::net::{Layer, Net};
use crate::config::{ConvInit, Precision, RunConfig};
use crate::data::DataShape;
use crate::kernels::bf16::round_tensor;
use crate::kernels::bn_act::{bn_leaky_dropout, leaky_relu};
use crate::kernels::bn_relu::bn_relu;
use crate::kernels::conv::{add_channel_bias, conv2d, rows};
use crate::kernels::conv_pool::conv2d_pool_chwn_bf16;
use crate::kernels::gelu::{bn_gelu, gelu_op};
use crate::kernels::norm::NormParams;
use crate::kernels::pool::{max_pool, PoolGeometry};
use crate::kernels::whiten::{filters, whiten};
use crate::kernels::Kernels;
use crate::model::summary::{input_of, output_shape, projection_stride, Shape};
use crate::model::{Compute, Network, Params};
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor, Var};
use rand::rngs::SmallRng;
use rand::SeedableRng;

/// One built layer.
enum Built {
    Conv {
        weight: Var,
        bias: Option<Var>,
        stride: usize,
        pad: usize,
        /// A 3x3 "same" convolution on the CPU: the hand-written kernel (Winograd or im2col,
        /// `kernels::conv`) in its (C, H, W, B) layout, else candle's conv2d.
        kernel: bool,
        /// The network's first layer (its input needs no gradient).
        first: bool,
    },
    Linear(Linear),
    Norm(NormParams),
    Relu,
    Leaky(f64),
    Gelu,
    Tanh,
    Pool {
        max: bool,
        k: usize,
        stride: usize,
        pad: usize,
    },
    Gap,
    Flatten,
    Dropout(Option<f64>),
    Scale(f64),
    /// The patch-whitening first layer: frozen filters (a buffer `fit` sets), a bias trained
    /// for the first `WHITEN_BIAS_EPOCHS` epochs.
    Whiten {
        weight: Var,
        bias: Var,
    },
    Residual {
        body: Vec<Built>,
        /// The projection (1x1 conv at a stride, then batch norm) where the body changes shape.
        shortcut: Option<(Var, usize, NormParams)>,
    },
}

/// A net description's network.
pub struct NetModel {
    params: Params,
    layers: Vec<Built>,
    kernels: Kernels,
    /// The convolutions' and linear layers' number format.
    precision: Precision,
    input: Shape,
    dropout: f64,
    dropout_rng: SmallRng,
    convolutional: bool,
    /// Whether a `whiten` layer's bias still trains (its first `WHITEN_BIAS_EPOCHS` epochs).
    whiten_bias_trains: bool,
}

/// Epochs in which a `whiten` layer's bias trains before it is frozen (airbench's 3).
pub const WHITEN_BIAS_EPOCHS: f64 = 3.0;

/// What building needs beside the layers.
struct Builder<'a> {
    params: Params,
    rng: &'a mut SmallRng,
    device: Device,
    kernels: Kernels,
    precision: Precision,
    classes: usize,
    dirac: bool,
    init_std: Option<f64>,
    convs: usize,
    linears_left: usize,
    /// No convolution anywhere: linear layers are drawn as the lab's MLP draws them.
    flat: bool,
}

impl NetModel {
    /// The network `net` describes on `data`'s shape and classes, with `config`'s dropout,
    /// seed and initialisation; weights drawn from `rng`.
    pub fn new(
        net: &Net,
        config: &RunConfig,
        data: DataShape,
        rng: &mut SmallRng,
        compute: &Compute,
    ) -> Result<Self> {
        let (input, classes) = input_of(data);
        // Checks every shape (and names the layer that cannot follow) before any weight.
        crate::model::summary::summarise(net, input, classes)?;
        let linears = count(&net.layers, &|l| matches!(l, Layer::Linear { .. }));
        let convolutional =
            crate::config::net::contains(&net.layers, &|l| matches!(l, Layer::Conv { .. }));
        let mut b = Builder {
            params: Params::new(),
            rng,
            device: compute.device().clone(),
            kernels: compute.kernels(),
            precision: config.precision,
            classes,
            dirac: config.conv_init == ConvInit::Dirac,
            init_std: config.init_std,
            convs: 0,
            linears_left: linears,
            flat: !convolutional,
        };
        let layers = b.list(&net.layers, input, "layers.")?.0;
        Ok(NetModel {
            params: b.params,
            layers,
            kernels: compute.kernels(),
            precision: config.precision,
            input,
            dropout: config.dropout,
            dropout_rng: SmallRng::seed_from_u64(config.seed),
            convolutional,
            whiten_bias_trains: true,
        })
    }

    fn run(
        &mut self,
        x: &Tensor,
        train: bool,
        probe: bool,
    ) -> Result<(Tensor, Vec<(String, Tensor)>)> {
        // Maps flow in the kernels' layout: (C, H, W, B) on the CPU, (B, C, H, W) elsewhere.
        // A net that starts flat (an MLP) takes the images as the rows they are: (c, h, w)
        // order is the flatten's.
        let flat_start = matches!(self.layers.first(), Some(Built::Linear(_) | Built::Flatten));
        let h = match self.input {
            Shape::Maps(..) if flat_start => x.clone(),
            Shape::Maps(c, hh, w) => {
                let x = x.reshape((x.dim(0)?, c, hh, w))?;
                match self.kernels {
                    Kernels::Cpu => x.permute((1, 2, 3, 0))?.contiguous()?,
                    Kernels::Reference => x,
                }
            }
            Shape::Flat(_) => x.clone(),
        };
        let mut seen = Vec::new();
        let mut ctx = Pass {
            kernels: self.kernels,
            precision: self.precision,
            train,
            drop: train && !probe,
            dropout: self.dropout,
            rng: &mut self.dropout_rng,
            probe: probe.then_some(&mut seen),
            whiten_bias_trains: self.whiten_bias_trains,
        };
        let y = ctx.list(&self.layers, h, "layers.")?;
        Ok((y, seen))
    }
}

/// How many layers of `layers` (residual bodies included) `which` picks.
fn count(layers: &[Layer], which: &dyn Fn(&Layer) -> bool) -> usize {
    layers
        .iter()
        .map(|l| match l {
            Layer::Residual { body } => count(body, which),
            other => usize::from(which(other)),
        })
        .sum()
}

impl Builder<'_> {
    fn list(
        &mut self,
        layers: &[Layer],
        mut shape: Shape,
        prefix: &str,
    ) -> Result<(Vec<Built>, Shape)> {
        let mut out = Vec::new();
        for (i, layer) in layers.iter().enumerate() {
            let name = format!("{prefix}{i}");
            let (built, next) = self.layer(layer, shape, &name)?;
            out.push(built);
            shape = next;
        }
        Ok((out, shape))
    }

    fn conv(&mut self, name: &str, c_in: usize, out: usize, k: usize) -> Result<(Var, Tensor)> {
        let (mut w, b) = init::torch_default(
            self.rng,
            &[out, c_in, k, k],
            c_in * k * k,
            out,
            &self.device,
        )?;
        if self.dirac && self.convs > 0 && k % 2 == 1 {
            w = init::dirac(&w)?;
        }
        self.convs += 1;
        Ok((self.params.var(format!("{name}.weight"), &w)?, b))
    }

    fn norm(&mut self, name: &str, channels: usize, scale: bool) -> Result<NormParams> {
        let n = register_norm(&mut self.params, name, channels, (DType::F32, &self.device))?;
        if !scale {
            self.params.freeze(&format!("{name}.weight"));
        }
        Ok(n)
    }

    fn layer(&mut self, layer: &Layer, shape: Shape, name: &str) -> Result<(Built, Shape)> {
        if let Layer::Residual { body } = layer {
            let (body, out) = self.list(body, shape, &format!("{name}."))?;
            let shortcut = match (shape, out) {
                (a, b) if a == b => None,
                (Shape::Maps(c, h, w), Shape::Maps(co, ho, wo)) => {
                    let stride = projection_stride((h, w), (ho, wo)).ok_or_else(|| {
                        Error::Config(format!("{name}: no projection matches its body"))
                    })?;
                    let prefix = format!("{name}.shortcut");
                    let (w, _) = self.conv(&format!("{prefix}.conv"), c, co, 1)?;
                    let bn = self.norm(&format!("{prefix}.bn"), co, true)?;
                    Some((w, stride, bn))
                }
                _ => {
                    return Err(Error::Config(format!(
                        "{name}: no projection matches its body"
                    )))
                }
            };
            return Ok((Built::Residual { body, shortcut }, out));
        }
        let out = output_shape(layer, shape, self.classes)
            .map_err(|why| Error::Config(format!("{name} ({}): {why}", layer.kind())))?;
        let c_in = match shape {
            Shape::Maps(c, ..) | Shape::Flat(c) => c,
        };
        let built = match layer {
            Layer::Conv {
                out: c_out,
                k,
                stride,
                pad,
                bias,
            } => {
                let (weight, b) = self.conv(name, c_in, *c_out, *k)?;
                let bias = match bias {
                    true => Some(self.params.var(format!("{name}.bias"), &b)?),
                    false => None,
                };
                Built::Conv {
                    weight,
                    bias,
                    stride: *stride,
                    pad: *pad,
                    kernel: self.kernels.cpu() && (*k, *stride, *pad) == (3, 1, 1),
                    first: name == "layers.0",
                }
            }
            Layer::Linear { bias, .. } => {
                let (n, o) = (shape.elements() as usize, out.elements() as usize);
                self.linears_left -= 1;
                // As the lab's networks draw them: a net without convolutions draws every
                // linear layer as the lab's MLP (N(0, init_std²), else N(0, 2 / fan_in)); one
                // with convolutions as the lab's ConvNet (PyTorch's default, the last layer
                // N(0, init_std²) when set).
                let init = match (self.flat, self.linears_left, self.init_std) {
                    (true, _, std) => init::linear(self.rng, n, o, std, &self.device)?,
                    (false, 0, Some(std)) => init::linear(self.rng, n, o, Some(std), &self.device)?,
                    _ => init::torch_default(self.rng, &[n, o], n, o, &self.device)?,
                };
                // Only the network's first layer reads the images, whose gradient nobody needs.
                let first = name == "layers.0";
                let linear = Linear::register(
                    &mut self.params,
                    name,
                    init,
                    *bias,
                    ((self.kernels, self.precision), first),
                )?;
                Built::Linear(linear)
            }
            Layer::BatchNorm { scale } => Built::Norm(self.norm(name, c_in, *scale)?),
            Layer::Relu => Built::Relu,
            Layer::LeakyRelu { slope } => Built::Leaky(*slope),
            Layer::Gelu => Built::Gelu,
            Layer::Tanh => Built::Tanh,
            Layer::Pool {
                max,
                k,
                stride,
                pad,
            } => Built::Pool {
                max: *max,
                k: *k,
                stride: *stride,
                pad: *pad,
            },
            Layer::GlobalAvgPool => Built::Gap,
            Layer::Flatten => Built::Flatten,
            Layer::Dropout { p } => Built::Dropout(*p),
            Layer::Scale { factor } => Built::Scale(*factor),
            Layer::Residual { .. } => unreachable!("built above"),
            Layer::Whiten { k } => {
                // `summarise` has checked that it is the first layer.
                let o = 2 * c_in * k * k;
                let zeros = |dims: &[usize]| Tensor::zeros(dims, DType::F32, &self.device);
                let weight = self
                    .params
                    .buffer(format!("{name}.weight"), &zeros(&[o, c_in, *k, *k])?)?;
                let bias = self.params.var(format!("{name}.bias"), &zeros(&[o])?)?;
                // The convolutions after it start as the identity under conv_init = dirac.
                self.convs += 1;
                Built::Whiten { weight, bias }
            }
        };
        Ok((built, out))
    }
}

/// One forward pass's state.
struct Pass<'a> {
    /// The path, and with it the layout of maps.
    kernels: Kernels,
    /// The convolutions' and linear layers' number format.
    precision: Precision,
    train: bool,
    /// Whether dropout draws masks (training, not probing).
    drop: bool,
    dropout: f64,
    rng: &'a mut SmallRng,
    probe: Option<&'a mut Vec<(String, Tensor)>>,
    /// Whether a `whiten` layer's bias gets a gradient.
    whiten_bias_trains: bool,
}

/// `x` (B, C, H, W) padded by `pad` on both sides of its last two dimensions with `value`.
fn pad_maps(x: &Tensor, pad: usize, value: f32) -> Result<Tensor> {
    if pad == 0 {
        return Ok(x.clone());
    }
    let (b, c, h, w) = x.dims4()?;
    let side = |dims: (usize, usize, usize, usize)| -> Result<Tensor> {
        Ok(Tensor::full(value, dims, x.device())?.to_dtype(x.dtype())?)
    };
    let rows = Tensor::cat(&[&side((b, c, h, pad))?, x, &side((b, c, h, pad))?], 3)?;
    let w = w + 2 * pad;
    Ok(Tensor::cat(
        &[&side((b, c, pad, w))?, &rows, &side((b, c, pad, w))?],
        2,
    )?)
}

impl Pass<'_> {
    /// Maps in the path's layout as candle's (B, C, H, W).
    fn nchw(&self, h: &Tensor) -> Result<Tensor> {
        Ok(match self.kernels {
            Kernels::Cpu => h.permute((3, 0, 1, 2))?,
            Kernels::Reference => h.clone(),
        })
    }

    /// Candle's (B, C, H, W) maps in the path's layout.
    fn path(&self, y: Tensor) -> Result<Tensor> {
        Ok(match self.kernels {
            Kernels::Cpu => y.permute((1, 2, 3, 0))?.contiguous()?,
            Kernels::Reference => y,
        })
    }

    /// `f` on candle's layout, for layers without a kernel in the CPU's.
    fn on_nchw(&self, h: &Tensor, f: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<Tensor> {
        let x = self.nchw(h)?.contiguous()?;
        self.path(f(&x)?)
    }

    fn list(&mut self, layers: &[Built], mut h: Tensor, prefix: &str) -> Result<Tensor> {
        let mut i = 0;
        while i < layers.len() {
            // Batch norm then ReLU on maps: one fused kernel on the CPU, as the lab's VGG.
            if let (true, Built::Norm(n), Some(Built::Relu), 4) =
                (self.kernels.cpu(), &layers[i], layers.get(i + 1), h.rank())
            {
                h = bn_relu(self.kernels, &h, n, self.train)?;
                self.seen(&format!("{prefix}{}", i + 1), &h);
                i += 2;
                continue;
            }
            // A bf16 convolution then a max-pool on maps: one op, so that the unpooled maps
            // stay out of candle's graph (unless the layers' statistics want to see them).
            if let (
                true,
                Precision::Bf16,
                None,
                Built::Conv {
                    weight,
                    bias: None,
                    kernel: true,
                    first,
                    ..
                },
                Some(&Built::Pool {
                    max: true,
                    k,
                    stride,
                    pad,
                }),
            ) = (
                self.kernels.cpu(),
                self.precision,
                &self.probe,
                &layers[i],
                layers.get(i + 1),
            ) {
                let pool = PoolGeometry {
                    kernel: k,
                    stride,
                    padding: pad,
                };
                let conv = (*first, self.train);
                h = conv2d_pool_chwn_bf16(&h, weight.as_tensor(), conv, pool)?;
                i += 2;
                continue;
            }
            // Batch norm then GELU on maps: the airbench nets' fused kernel.
            if let (true, Built::Norm(n), Some(Built::Gelu), 4) =
                (self.kernels.cpu(), &layers[i], layers.get(i + 1), h.rank())
            {
                h = bn_gelu(self.kernels, &h, n, self.train)?;
                self.seen(&format!("{prefix}{}", i + 1), &h);
                i += 2;
                continue;
            }
            // Batch norm over features, then an activation and dropout: the MLPs' fused
            // kernel (a norm alone is one with slope 1).
            if let (Built::Norm(n), 2) = (&layers[i], h.rank()) {
                let slope = match layers.get(i + 1) {
                    Some(Built::Relu) => Some(0.0),
                    Some(Built::Leaky(s)) => Some(*s),
                    _ => None,
                };
                let p = match (slope, layers.get(i + 2)) {
                    (Some(_), Some(Built::Dropout(p))) => Some(p.unwrap_or(self.dropout)),
                    _ => None,
                };
                let mask = p
                    .filter(|&p| self.drop && p > 0.0)
                    .map(|p| dropout_mask(h.elem_count(), p, self.rng));
                h = bn_leaky_dropout(self.kernels, &h, n, slope.unwrap_or(1.0), mask, self.train)?;
                if slope.is_some() {
                    self.seen(&format!("{prefix}{}", i + 1), &h);
                }
                i += 1 + usize::from(slope.is_some()) + usize::from(p.is_some());
                continue;
            }
            h = self.layer(&layers[i], h, &format!("{prefix}{i}"))?;
            i += 1;
        }
        Ok(h)
    }

    fn seen(&mut self, name: &str, y: &Tensor) {
        if let Some(seen) = self.probe.as_deref_mut() {
            seen.push((name.to_string(), y.detach()));
        }
    }

    fn layer(&mut self, layer: &Built, h: Tensor, name: &str) -> Result<Tensor> {
        let maps = h.rank() == 4;
        let y = match layer {
            Built::Conv {
                weight,
                bias,
                stride,
                pad,
                kernel,
                first,
            } => {
                let y = if *kernel {
                    let products = (self.kernels, self.precision);
                    conv2d(products, &h, weight.as_tensor(), *first, self.train)?
                } else {
                    let w = round_tensor(self.precision, weight.as_tensor())?;
                    self.on_nchw(&h, |x| {
                        Ok(round_tensor(self.precision, x)?.conv2d(&w, *pad, *stride, 1, 1)?)
                    })?
                };
                match bias {
                    Some(b) => add_channel_bias(self.kernels, &y, b.as_tensor())?,
                    None => y,
                }
            }
            Built::Linear(l) => {
                let flat = if maps { rows(self.kernels, &h)? } else { h };
                l.forward(&flat.contiguous()?)?
            }
            Built::Norm(n) => {
                use candle_core::ModuleT;
                let bn = n.candle()?;
                match maps {
                    true => self.on_nchw(&h, |x| Ok(bn.forward_t(x, self.train)?))?,
                    false => bn.forward_t(&h, self.train)?,
                }
            }
            Built::Relu => h.relu()?,
            Built::Leaky(slope) => leaky_relu(&h, *slope)?,
            Built::Gelu => gelu_op(self.kernels, &h)?,
            Built::Whiten { weight, bias } => {
                let bias = match self.whiten_bias_trains {
                    true => bias.as_tensor().clone(),
                    false => bias.as_tensor().detach(),
                };
                whiten(self.kernels, &h, weight.as_tensor(), &bias)?
            }
            Built::Tanh => h.tanh()?,
            Built::Pool {
                max: true,
                k,
                stride,
                pad,
            } => max_pool(
                self.kernels,
                &h,
                PoolGeometry {
                    kernel: *k,
                    stride: *stride,
                    padding: *pad,
                },
            )?,
            Built::Pool {
                max: false,
                k,
                stride,
                pad,
            } => self.on_nchw(&h, |x| {
                Ok(pad_maps(x, *pad, 0.0)?.avg_pool2d_with_stride(*k, *stride)?)
            })?,
            Built::Gap => match self.kernels {
                Kernels::Cpu => h.mean((1, 2))?.t()?.contiguous()?,
                Kernels::Reference => h.mean((2, 3))?,
            },
            Built::Flatten => match maps {
                true => rows(self.kernels, &h)?.contiguous()?,
                false => h.flatten_from(1)?,
            },
            Built::Dropout(p) => {
                let p = p.unwrap_or(self.dropout);
                if self.drop && p > 0.0 {
                    let mask = dropout_mask(h.elem_count(), p, self.rng);
                    apply_mask(&h, Some(mask))?
                } else {
                    h
                }
            }
            Built::Scale(f) => h.affine(*f, 0.0)?,
            Built::Residual { body, shortcut } => {
                let y = self.list(body, h.clone(), &format!("{name}."))?;
                let s = match shortcut {
                    None => h,
                    Some((w, stride, bn)) => {
                        use candle_core::ModuleT;
                        let bn = bn.candle()?;
                        let w = round_tensor(self.precision, w.as_tensor())?;
                        self.on_nchw(&h, |x| {
                            let x = round_tensor(self.precision, x)?;
                            let p = x.conv2d(&w, 0, *stride, 1, 1)?;
                            Ok(bn.forward_t(&p, self.train)?)
                        })?
                    }
                };
                (y + s)?
            }
        };
        if matches!(
            layer,
            Built::Relu | Built::Leaky(_) | Built::Gelu | Built::Tanh
        ) {
            self.seen(name, &y);
        }
        Ok(y)
    }
}

impl Network for NetModel {
    fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor> {
        Ok(self.run(x, train, false)?.0)
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn probe(&mut self, x: &Tensor) -> Result<Vec<(String, Tensor)>> {
        Ok(self.run(x, true, true)?.1)
    }

    fn eval_chunk(&self) -> usize {
        if self.convolutional {
            100
        } else {
            1000
        }
    }

    fn set_dropout(&mut self, p: f64) {
        self.dropout = p;
    }

    fn reseed(&mut self, seed: u64) {
        self.dropout_rng = SmallRng::seed_from_u64(seed);
    }

    fn set_epoch(&mut self, epoch: f64) {
        self.whiten_bias_trains = epoch < WHITEN_BIAS_EPOCHS;
    }

    fn fit(&mut self, images: &Tensor) -> Result<()> {
        let (Some(Built::Whiten { weight, .. }), Shape::Maps(c, h, w)) =
            (self.layers.first(), self.input)
        else {
            return Ok(());
        };
        let k = weight.dim(3)?;
        let rows = images
            .to_device(&Device::Cpu)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let f = filters(&rows, (c, h, w), k);
        weight.set(&Tensor::from_vec(f, weight.shape(), weight.device())?)?;
        Ok(())
    }
}
