//! GELU (PyTorch's exact form, 0.5 z (1 + erf(z / sqrt 2))) alone and after a batch norm on
//! channel-major maps, the airbench nets' activation. The CPU ops evaluate erf and exp with
//! branch-free polynomials that vectorise (erf: the rational approximation of Eigen and XLA,
//! within 5e-7 of erf; exp: a degree-6 polynomial after range reduction); the batch norm
//! version is `bn_relu`'s two passes with GELU in place of the clamp, its backward written by
//! hand. The references are candle's `gelu_erf` (and candle-nn's batch norm before it),
//! differentiated by autograd.

use super::bn_relu::{normalise_forward, scale_shift_rows, train_with, Stats};
use super::cpu::{f32_slice, with_f32};
use super::norm::NormParams;
use super::reduce::norm_sums;
use super::simd::Level;
use super::uninit::written;
use super::Kernels;
use crate::multiversion;
use candle_core::{CpuStorage, CustomOp1, CustomOp3, Layout, ModuleT, Result, Shape, Tensor};
use rayon::prelude::*;
use std::mem::MaybeUninit;
use std::sync::{Arc, Mutex};

/// Values per parallel chunk of the element-wise op.
const CHUNK: usize = 1 << 14;

/// erf(x), within 5e-7: Eigen's `generic_fast_erf_float` (a ratio of an odd and an even
/// polynomial on x clamped to [-4, 4]).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = x2 * p + -2.101_024e-6;
    p = x2 * p + -5.692_506_4e-5;
    p = x2 * p + -7.349_906_3e-4;
    p = x2 * p + -2.954_6e-3;
    p = x2 * p + -1.609_603_3e-2;
    let mut q = x2 * -1.456_607_2e-5 + -2.133_740_6e-4;
    q = x2 * q + -1.682_827e-3;
    q = x2 * q + -7.373_329_3e-3;
    q = x2 * q + -1.426_474e-2;
    x * p / q
}

/// e^x, within 2 ulp for x in [-87, 88] (clamped there): x = n ln 2 + r, e^r by its Taylor
/// polynomial of degree 6, times 2^n put in the exponent bits.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5 x 2^23: adding it rounds to an integer
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let mut p = r * (1.0 / 720.0) + 1.0 / 120.0;
    p = r * p + 1.0 / 24.0;
    p = r * p + 1.0 / 6.0;
    p = r * p + 0.5;
    p = r * p + 1.0;
    p = r * p + 1.0;
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// GELU(z) = z Phi(z).
#[inline(always)]
pub fn gelu(z: f32) -> f32 {
    0.5 * z * (1.0 + erf(z * std::f32::consts::FRAC_1_SQRT_2))
}

/// dGELU/dz = Phi(z) + z phi(z).
#[inline(always)]
pub fn gelu_grad(z: f32) -> f32 {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    0.5 * (1.0 + erf(z * std::f32::consts::FRAC_1_SQRT_2)) + z * INV_SQRT_2PI * exp(-0.5 * z * z)
}

multiversion! {
    /// out = GELU(x scale + shift).
    fn scale_shift_gelu(x: &[f32], out: &mut [MaybeUninit<f32>], scale: f32, shift: f32) {
        for (o, &v) in out.iter_mut().zip(x) {
            o.write(gelu(v * scale + shift));
        }
    }
}

multiversion! {
    /// out = dy GELU'(x scale + shift): the gradient at the norm's output.
    fn gelu_back(x: &[f32], dy: &[f32], out: &mut [MaybeUninit<f32>], scale: f32, shift: f32) {
        for ((o, &v), &g) in out.iter_mut().zip(x).zip(dy) {
            o.write(g * gelu_grad(v * scale + shift));
        }
    }
}

multiversion! {
    /// g = k (g - a - (x - mean) c) in place: the norm's input gradient.
    fn norm_dx(x: &[f32], g: &mut [f32], coefficients: [f32; 4]) {
        let [mean, k, a, c] = coefficients;
        for (gv, &xv) in g.iter_mut().zip(x) {
            *gv = k * (*gv - a - (xv - mean) * c);
        }
    }
}

/// GELU on any contiguous f32 values, chunks in parallel; its backward is dy GELU'(x).
struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "gelu-erf"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, "gelu")?;
        let level = Level::detected();
        // SAFETY: every chunk is written in full.
        let y = unsafe {
            written(x.len(), |y| {
                y.par_chunks_mut(CHUNK)
                    .zip(x.par_chunks(CHUNK))
                    .for_each(|(o, x)| scale_shift_gelu(level, x, o, 1.0, 0.0))
            })
        };
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let level = Level::detected();
        let dx = with_f32(x, |x| {
            with_f32(grad, |dy| {
                // SAFETY: every chunk is written in full.
                unsafe {
                    written(x.len(), |o| {
                        o.par_chunks_mut(CHUNK)
                            .zip(x.par_chunks(CHUNK).zip(dy.par_chunks(CHUNK)))
                            .for_each(|(o, (x, dy))| gelu_back(level, x, dy, o, 1.0, 0.0))
                    })
                }
            })
        })??;
        Ok(Some(Tensor::from_vec(dx, x.shape(), x.device())?))
    }
}

/// GELU of `x` (any layout): the CPU op, or candle's `gelu_erf`.
pub fn gelu_op(kernels: Kernels, x: &Tensor) -> Result<Tensor> {
    match kernels {
        Kernels::Cpu => x.contiguous()?.apply_op1(Gelu),
        Kernels::Reference => x.gelu_erf(),
    }
}

struct BnGelu {
    stats: Arc<Mutex<Vec<Stats>>>,
}

impl CustomOp3 for BnGelu {
    fn name(&self) -> &'static str {
        "batch-norm-gelu-channel-major"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        normalise_forward(
            [(xs, xl), (gs, gl), (bs, bl)],
            &self.stats,
            scale_shift_gelu,
        )
    }

    /// With g = dL/dy GELU'(z) at the norm's output z, x_hat = (x - mean) inv_std, per
    /// channel: dbeta = sum g, dgamma = sum g x_hat, dx = gamma inv_std (g - (dbeta + x_hat
    /// dgamma) / N).
    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let c = x.dim(0)?;
        let n = x.elem_count() / c;
        let stats = self.stats.lock().expect("batch norm state").clone();
        let (gamma, beta) = (gamma.to_vec1::<f32>()?, beta.to_vec1::<f32>()?);
        let level = Level::detected();
        let mut dgamma = vec![0f32; c];
        let mut dbeta = vec![0f32; c];
        let dx = with_f32(x, |x| {
            with_f32(grad, |dy| {
                // SAFETY: every channel's row is written in full (by gelu_back).
                unsafe {
                    written(c * n, |dx| {
                        dx.par_chunks_mut(n)
                            .zip(dgamma.par_iter_mut().zip(dbeta.par_iter_mut()))
                            .enumerate()
                            .for_each(|(ch, (out, (dg, db)))| {
                                let range = ch * n..(ch + 1) * n;
                                let (x, dy) = (&x[range.clone()], &dy[range]);
                                let Stats { mean, inv_std, .. } = stats[ch];
                                let scale = gamma[ch] * inv_std;
                                let shift = beta[ch] - mean * scale;
                                gelu_back(level, x, dy, out, scale, shift);
                                let g = super::uninit::assume_written(out);
                                let [sum_g, sum_gx] = norm_sums(level, x, g, mean);
                                let sum_gx = sum_gx * inv_std as f64;
                                *dg = sum_gx as f32;
                                *db = sum_g as f32;
                                let a = (sum_g / n as f64) as f32;
                                let bcoef = (sum_gx / n as f64) as f32 * inv_std;
                                norm_dx(level, x, g, [mean, scale, a, bcoef]);
                            })
                    })
                }
            })
        })??;
        let device = x.device();
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), device)?),
            Some(Tensor::from_vec(dgamma, c, device)?),
            Some(Tensor::from_vec(dbeta, c, device)?),
        ))
    }
}

/// Batch norm then GELU on maps in the path's layout (`conv::maps`): channel-major
/// (C, H, W, B) for the CPU op, (B, C, H, W) for the reference. Training normalises with the
/// batch's statistics and blends them into the running ones; inference uses the running ones.
pub fn bn_gelu(kernels: Kernels, x: &Tensor, norm: &NormParams, train: bool) -> Result<Tensor> {
    match (kernels, train) {
        (Kernels::Cpu, true) => train_with(x, norm, |stats| BnGelu { stats }),
        (Kernels::Cpu, false) => {
            let (scale, shift) = norm
                .running
                .scale_shift(norm.weight.as_tensor(), norm.bias.as_tensor())?;
            let (scale, shift) = (scale.to_vec1::<f32>()?, shift.to_vec1::<f32>()?);
            let y = with_f32(x, |x| scale_shift_rows(x, &scale, &shift, scale_shift_gelu))??;
            Tensor::from_vec(y, x.shape(), x.device())
        }
        (Kernels::Reference, _) => norm.candle()?.forward_t(x, train)?.gelu_erf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// erf in f64: its Maclaurin series up to 3, the asymptotic series of erfc beyond
    /// (both within 1e-12 there).
    fn erf64(x: f64) -> f64 {
        if x.abs() > 3.0 {
            let x2 = x * x;
            let tail = (-x2).exp() / (x.abs() * std::f64::consts::PI.sqrt())
                * (1.0 - 0.5 / x2 + 0.75 / (x2 * x2) - 1.875 / (x2 * x2 * x2)
                    + 6.5625 / (x2 * x2 * x2 * x2));
            return x.signum() * (1.0 - tail);
        }
        let (mut term, mut total, mut k) = (x, x, 0.0);
        while term.abs() > 1e-18 && k < 200.0 {
            k += 1.0;
            term *= -x * x / k;
            total += term / (2.0 * k + 1.0);
        }
        total * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_and_exp_are_accurate() {
        for i in -600..=600 {
            let x = i as f32 * 0.01;
            let want = erf64(x as f64);
            assert!(
                (erf(x) as f64 - want).abs() < 5e-7,
                "erf({x}) = {}, want {want}",
                erf(x)
            );
            let e = exp(x * 10.0) as f64;
            let want = ((x * 10.0) as f64).exp();
            assert!(
                ((e - want) / want).abs() < 5e-7,
                "exp({}) = {e}, want {want}",
                x * 10.0
            );
        }
    }

    #[test]
    fn gelu_grad_matches_finite_differences() {
        for i in -80..=80 {
            let z = i as f64 * 0.1;
            let g = |z: f64| 0.5 * z * (1.0 + erf64(z / 2f64.sqrt()));
            let h = 1e-4;
            let fd = (g(z + h) - g(z - h)) / (2.0 * h);
            assert!((gelu_grad(z as f32) as f64 - fd).abs() < 2e-6, "z {z}");
            assert!((gelu(z as f32) as f64 - g(z)).abs() < 2e-6, "z {z}");
        }
    }

    /// Every instruction-set level this CPU has gives the baseline's bits.
    #[test]
    fn every_simd_level_matches_the_baseline() {
        let n = 1037;
        let x: Vec<f32> = (0..n)
            .map(|i| ((i * 53 % 97) as f32 - 48.0) * 0.1)
            .collect();
        let run = |level: Level| {
            let mut y = vec![MaybeUninit::new(0f32); n];
            scale_shift_gelu(level, &x, &mut y, 0.7, -0.2);
            let mut d = vec![MaybeUninit::new(0f32); n];
            gelu_back(level, &x, &x, &mut d, 0.7, -0.2);
            let f = |v: Vec<MaybeUninit<f32>>| -> Vec<f32> {
                v.iter().map(|v| unsafe { v.assume_init() }).collect()
            };
            (f(y), f(d))
        };
        let base = run(Level::BASELINE);
        for level in Level::available() {
            assert_eq!(run(level), base, "{}", level.name());
        }
    }

    fn norm(c: usize) -> NormParams {
        let v = |vals: Vec<f32>| Var::from_vec(vals, c, &Device::Cpu).unwrap();
        NormParams {
            weight: v((0..c).map(|i| 0.8 + 0.1 * i as f32).collect()),
            bias: v((0..c).map(|i| 0.2 - 0.15 * i as f32).collect()),
            running: crate::kernels::norm::RunningStats {
                mean: v(vec![0.0; c]),
                var: v(vec![1.0; c]),
            },
        }
    }

    /// The CPU ops against candle's batch norm and gelu_erf under autograd: outputs, input
    /// gradients and the norm's parameter gradients, training and inference.
    #[test]
    fn cpu_ops_match_the_reference() -> Result<()> {
        let (c, h, w, b) = (3, 4, 5, 6);
        let vals: Vec<f32> = (0..c * h * w * b)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.05)
            .collect();
        let x = Var::from_vec(vals, (c, h, w, b), &Device::Cpu)?;
        let up: Vec<f32> = (0..c * h * w * b)
            .map(|i| ((i * 13 % 29) as f32 - 14.0) * 0.1)
            .collect();
        let up = Tensor::from_vec(up, (c, h, w, b), &Device::Cpu)?;
        let (cpu_norm, ref_norm) = (norm(c), norm(c));
        let nchw = |t: &Tensor| t.permute((3, 0, 1, 2)).unwrap().contiguous().unwrap();
        let y_cpu = bn_gelu(Kernels::Cpu, x.as_tensor(), &cpu_norm, true)?;
        let y_ref = bn_gelu(Kernels::Reference, &nchw(x.as_tensor()), &ref_norm, true)?;
        let close = |a: &Tensor, b: &Tensor, tol: f32| {
            let d = (a - b)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(d < tol, "differ by {d}");
        };
        close(&nchw(&y_cpu), &y_ref, 1e-5);
        let g_cpu = (y_cpu * &up)?.sum_all()?.backward()?;
        let g_ref = (y_ref * nchw(&up))?.sum_all()?.backward()?;
        close(
            g_cpu.get(x.as_tensor()).unwrap(),
            g_ref.get(x.as_tensor()).unwrap(),
            2e-5,
        );
        for (a, b) in [
            (&cpu_norm.weight, &ref_norm.weight),
            (&cpu_norm.bias, &ref_norm.bias),
        ] {
            close(
                g_cpu.get(a.as_tensor()).unwrap(),
                g_ref.get(b.as_tensor()).unwrap(),
                1e-4,
            );
        }
        close(
            cpu_norm.running.var.as_tensor(),
            ref_norm.running.var.as_tensor(),
            1e-6,
        );
        let i_cpu = bn_gelu(Kernels::Cpu, x.as_tensor(), &cpu_norm, false)?;
        let i_ref = bn_gelu(Kernels::Reference, &nchw(x.as_tensor()), &ref_norm, false)?;
        close(&nchw(&i_cpu), &i_ref, 1e-5);
        let a = gelu_op(Kernels::Cpu, x.as_tensor())?;
        let r = gelu_op(Kernels::Reference, x.as_tensor())?;
        close(&a, &r, 1e-6);
        let ga = (a * &up)?.sum_all()?.backward()?;
        let gr = (r * &up)?.sum_all()?.backward()?;
        close(
            ga.get(x.as_tensor()).unwrap(),
            gr.get(x.as_tensor()).unwrap(),
            1e-5,
        );
        Ok(())
    }
}
