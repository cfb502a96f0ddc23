//! The patch-whitening first layer of the airbench nets: a k x k convolution without padding
//! whose 2 C k² filters are the eigenvectors of the training images' patch covariance, each
//! scaled by 1/sqrt(eigenvalue + eps), and their negatives. `filters` computes them (the
//! covariance summed in f64, its eigenvectors by cyclic Jacobi rotations); the CPU op applies
//! them to channel-major maps (C, H, W, B) and trains only the bias (the filters are frozen
//! and the layer is the network's first, so no input gradient is needed). The reference is
//! candle's conv2d on (B, C, H, W).

use super::cpu::f32_slice;
use super::simd::Level;
use super::uninit::written;
use super::Kernels;
use crate::multiversion;
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Added to each eigenvalue before its square root, as a fraction of the patches' mean
/// variance: airbench's 5e-4 on its standardised pixels (variance 1), so the filters do not
/// depend on the pixels' scale (gradboard's are 0-255 minus the mean image, variance ~4000,
/// where a bare 5e-4 whitened the faintest, noisiest directions fully).
pub const EPS: f64 = 5e-4;

/// The symmetric `d` x `d` matrix `a` (row-major) as eigenvalues and eigenvectors (one a
/// row, unit length), eigenvalues falling: cyclic Jacobi rotations until the off-diagonal
/// mass is below 1e-30 of the whole (at most 100 sweeps).
pub fn symmetric_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    let total: f64 = a.iter().map(|x| x * x).sum();
    for _ in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * d + j] * a[i * d + j])
            .sum();
        if off <= 1e-30 * total.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[k * d + p], v[k * d + q]);
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&i, &j| a[j * d + j].total_cmp(&a[i * d + i]));
    let values = order.iter().map(|&i| a[i * d + i]).collect();
    let vectors = order
        .iter()
        .map(|&i| (0..d).map(|k| v[k * d + i]).collect())
        .collect();
    (values, vectors)
}

/// The whitening filters (2 C k², C, k, k) of `images` (flat rows of C x H x W values in
/// (c, h, w) order, as the network receives them): every k x k patch's uncentred covariance
/// (patchesᵀ patches / n, as airbench), its eigenvectors over sqrt(eigenvalue + `EPS` times
/// the mean of its diagonal), largest first, then their negatives.
pub fn filters(images: &[f32], (c, h, w): (usize, usize, usize), k: usize) -> Vec<f32> {
    let d = c * k * k;
    let image = c * h * w;
    let count = images.len() / image.max(1);
    let (oh, ow) = ((h + 1).saturating_sub(k), (w + 1).saturating_sub(k));
    let cov = images
        .par_chunks(image)
        .take(count)
        .fold(
            || vec![0f64; d * d],
            |mut acc, img| {
                let mut patch = vec![0f64; d];
                for y in 0..oh {
                    for x in 0..ow {
                        for ch in 0..c {
                            for dy in 0..k {
                                for dx in 0..k {
                                    patch[(ch * k + dy) * k + dx] =
                                        img[(ch * h + y + dy) * w + x + dx] as f64;
                                }
                            }
                        }
                        for i in 0..d {
                            for j in i..d {
                                acc[i * d + j] += patch[i] * patch[j];
                            }
                        }
                    }
                }
                acc
            },
        )
        .reduce(
            || vec![0f64; d * d],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
                a
            },
        );
    let n = (count * oh * ow).max(1) as f64;
    let mut full = vec![0f64; d * d];
    for i in 0..d {
        for j in i..d {
            full[i * d + j] = cov[i * d + j] / n;
            full[j * d + i] = cov[i * d + j] / n;
        }
    }
    let eps = EPS * (0..d).map(|i| full[i * d + i]).sum::<f64>() / d as f64;
    let (values, vectors) = symmetric_eigen(&full, d);
    let scaled: Vec<f32> = values
        .iter()
        .zip(&vectors)
        .flat_map(|(&l, v)| {
            let s = 1.0 / (l.max(0.0) + eps).sqrt();
            v.iter().map(move |&x| (x * s) as f32)
        })
        .collect();
    scaled
        .iter()
        .copied()
        .chain(scaled.iter().map(|x| -x))
        .collect()
}

multiversion! {
    /// out += w x over a row of images.
    fn axpy(out: &mut [f32], x: &[f32], w: f32) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o += w * v;
        }
    }
}

/// The whitening convolution on channel-major maps; its backward gives the bias's gradient
/// only (the filters are frozen; the input is the network's).
struct Whiten {
    k: usize,
}

impl CustomOp3 for Whiten {
    fn name(&self) -> &'static str {
        "whiten-channel-major"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, weight, bias) = (
            f32_slice(xs, xl, "whiten")?,
            f32_slice(ws, wl, "whiten")?,
            f32_slice(bs, bl, "whiten")?,
        );
        let k = self.k;
        let (c, h, w, b) = xl.shape().dims4()?;
        let o = bias.len();
        if h < k || w < k || weight.len() != o * c * k * k {
            candle_core::bail!(
                "whiten: maps {:?}, {} filters of {c} x {k} x {k} and {o} biases do not fit",
                xl.dims(),
                weight.len() / (c * k * k).max(1)
            );
        }
        let (oh, ow) = (h - k + 1, w - k + 1);
        let level = Level::detected();
        // SAFETY: every row (filter, output row) is filled, then added to.
        let y = unsafe {
            written(o * oh * ow * b, |y| {
                y.par_chunks_mut(ow * b).enumerate().for_each(|(row, out)| {
                    let (f, oy) = (row / oh, row % oh);
                    let out = super::uninit::filled(out, bias[f]);
                    for (ox, out) in out.chunks_mut(b).enumerate() {
                        for ch in 0..c {
                            for dy in 0..k {
                                for dx in 0..k {
                                    let wv = weight[((f * c + ch) * k + dy) * k + dx];
                                    let at = ((ch * h + oy + dy) * w + ox + dx) * b;
                                    axpy(level, out, &x[at..at + b], wv);
                                }
                            }
                        }
                    }
                })
            })
        };
        Ok((CpuStorage::F32(y), Shape::from((o, oh, ow, b))))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _weight: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let o = bias.dim(0)?;
        let db = grad.reshape((o, ()))?.sum(1)?;
        Ok((None, None, Some(db)))
    }
}

/// The whitening layer on the network's input maps in the path's layout, `weight`
/// (O, C, k, k) frozen and `bias` (O) trained.
pub fn whiten(kernels: Kernels, x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    match kernels {
        Kernels::Cpu => {
            x.contiguous()?
                .apply_op3(&weight.detach(), bias, Whiten { k: weight.dim(3)? })
        }
        Kernels::Reference => x
            .conv2d(&weight.detach(), 0, 1, 1, 1)?
            .broadcast_add(&bias.reshape((1, (), 1, 1))?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn jacobi_finds_the_eigen_pairs() {
        let d = 5;
        let m: Vec<f64> = (0..d * d)
            .map(|i| {
                let (r, c) = (i / d, i % d);
                1.0 / (1 + r + c) as f64 + if r == c { 0.5 } else { 0.0 }
            })
            .collect();
        let (values, vectors) = symmetric_eigen(&m, d);
        assert!(values.windows(2).all(|p| p[0] >= p[1]), "{values:?}");
        for (l, v) in values.iter().zip(&vectors) {
            for r in 0..d {
                let mv: f64 = (0..d).map(|c| m[r * d + c] * v[c]).sum();
                assert!((mv - l * v[r]).abs() < 1e-12);
            }
            let norm: f64 = v.iter().map(|x| x * x).sum();
            assert!((norm - 1.0).abs() < 1e-12);
        }
    }

    /// Whitened patches have the identity covariance (up to eps) on the images the filters
    /// came from.
    #[test]
    fn filters_whiten_their_patches() {
        let (c, h, w, k) = (2, 6, 5, 2);
        let images: Vec<f32> = (0..40 * c * h * w)
            .map(|i| (((i * 7919) % 1013) as f32 / 1013.0 - 0.5) + ((i / 3) % 5) as f32 * 0.2)
            .collect();
        let f = filters(&images, (c, h, w), k);
        let d = c * k * k;
        assert_eq!(f.len(), 2 * d * d);
        let mut cov = vec![0f64; d * d];
        let mut n = 0.0;
        for img in images.chunks(c * h * w) {
            for y in 0..=h - k {
                for x in 0..=w - k {
                    let patch: Vec<f64> = (0..d)
                        .map(|i| {
                            let (ch, dy, dx) = (i / (k * k), i / k % k, i % k);
                            img[(ch * h + y + dy) * w + x + dx] as f64
                        })
                        .collect();
                    let out: Vec<f64> = (0..d)
                        .map(|o| (0..d).map(|i| f[o * d + i] as f64 * patch[i]).sum())
                        .collect();
                    for i in 0..d {
                        for j in 0..d {
                            cov[i * d + j] += out[i] * out[j];
                        }
                    }
                    n += 1.0;
                }
            }
        }
        for i in 0..d {
            for j in 0..d {
                let v = cov[i * d + j] / n;
                if i == j {
                    assert!(v > 0.9 && v <= 1.0 + 1e-4, "({i},{i}) = {v}");
                } else {
                    assert!(v.abs() < 1e-3, "({i},{j}) = {v}");
                }
            }
        }
        // The same images in other units (0-255 against 0-1): the same whitened patches.
        let scaled: Vec<f32> = images.iter().map(|x| x * 255.0).collect();
        let g = filters(&scaled, (c, h, w), k);
        for (a, b) in f.iter().zip(&g) {
            assert!(
                (a - b * 255.0).abs() <= 1e-4 * a.abs().max(1.0),
                "{a} vs {}",
                b * 255.0
            );
        }
    }

    #[test]
    fn cpu_op_matches_candle_conv2d() -> Result<()> {
        let (c, h, w, b, k, o) = (3, 7, 6, 5, 2, 4);
        let x: Vec<f32> = (0..c * h * w * b)
            .map(|i| ((i * 31 % 53) as f32 - 26.0) * 0.1)
            .collect();
        let x = Tensor::from_vec(x, (c, h, w, b), &Device::Cpu)?;
        let wt: Vec<f32> = (0..o * c * k * k)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.2)
            .collect();
        let wt = Tensor::from_vec(wt, (o, c, k, k), &Device::Cpu)?;
        let bias = Var::from_vec(vec![0.5f32, -0.25, 1.0, 0.0], o, &Device::Cpu)?;
        let y = whiten(Kernels::Cpu, &x, &wt, bias.as_tensor())?;
        let nchw = x.permute((3, 0, 1, 2))?.contiguous()?;
        let r = whiten(Kernels::Reference, &nchw, &wt, bias.as_tensor())?;
        let d = (y.permute((3, 0, 1, 2))? - &r)?
            .abs()?
            .max_all()?
            .to_scalar::<f32>()?;
        assert!(d < 1e-5, "differ by {d}");
        let up = Tensor::arange(0f32, y.elem_count() as f32, &Device::Cpu)?.reshape(y.shape())?;
        let g = (y * &up)?.sum_all()?.backward()?;
        let gr = (r * up.permute((3, 0, 1, 2))?)?.sum_all()?.backward()?;
        let d = (g.get(bias.as_tensor()).unwrap() - gr.get(bias.as_tensor()).unwrap())?
            .abs()?
            .max_all()?
            .to_scalar::<f32>()?;
        assert!(d < 1e-1, "bias gradients differ by {d}");
        Ok(())
    }
}
