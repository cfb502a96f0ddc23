//! The CPU kernels' hand-written backward passes, each against its reference (the same math in
//! candle's tensor ops, differentiated by autograd) on the same f32 inputs, and each reference
//! against central finite differences in f64: the kernel is an optimisation of the meaning the
//! reference defines, and both have the right gradients.

use super::{numeric_gradient, randn, relative_error, Check};
use crate::config::Precision;
use crate::kernels::bn_act::bn_leaky_dropout;
use crate::kernels::bn_relu::bn_relu;
use crate::kernels::conv::{conv2d_chwn_using, conv2d_same, ConvAlgorithm};
use crate::kernels::linear::linear_matmul;
use crate::kernels::loss::cross_entropy;
use crate::kernels::norm::{NormParams, RunningStats};
use crate::kernels::simd::Level;
use crate::kernels::Kernels;
use crate::Result;
use candle_core::{DType, Device, Tensor, Var};
use rand::rngs::SmallRng;
use rand::Rng;

/// The largest difference between `a` and `b` over the largest magnitude in `b`: for f32
/// gradients, whose smallest components are rounding noise of the largest.
fn scaled_error(a: &Tensor, b: &Tensor) -> Result<f64> {
    let a = a.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    let b = b.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    let scale = b.iter().fold(1e-12f64, |m, v| m.max(v.abs()));
    Ok(a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs() / scale)
        .fold(0.0, f64::max))
}

/// The output of `f` on `inputs` and the gradients of sum(output * dy) with respect to each
/// input, by autograd over whatever ops `f` runs (custom ops call their own backward).
fn forward_backward(
    inputs: &[Tensor],
    dy: &Tensor,
    f: &dyn Fn(&[Tensor]) -> Result<Tensor>,
) -> Result<(Tensor, Vec<Tensor>)> {
    let vars: Vec<Var> = inputs
        .iter()
        .map(Var::from_tensor)
        .collect::<candle_core::Result<_>>()?;
    let tensors: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let y = f(&tensors)?;
    let grads = (&y * dy.to_dtype(y.dtype())?)?.sum_all()?.backward()?;
    let grads = vars
        .iter()
        .map(|v| match grads.get(v.as_tensor()) {
            Some(g) => Ok(g.clone()),
            None => Ok(v.as_tensor().zeros_like()?),
        })
        .collect::<Result<_>>()?;
    Ok((y.detach(), grads))
}

/// A kernel's checks: `cpu` against `reference` on f32 inputs (forward and every input's
/// gradient), and `reference` against finite differences on the same inputs in f64.
fn kernel_checks(
    name: &str,
    names: &[&str],
    inputs: &[Tensor],
    dy: &Tensor,
    cpu: &dyn Fn(&[Tensor]) -> Result<Tensor>,
    reference: &dyn Fn(&[Tensor]) -> Result<Tensor>,
) -> Result<Vec<Check>> {
    let f32s: Vec<Tensor> = inputs
        .iter()
        .map(|t| t.to_dtype(DType::F32))
        .collect::<candle_core::Result<_>>()?;
    let (y_cpu, g_cpu) = forward_backward(&f32s, dy, cpu)?;
    let (y_ref, g_ref) = forward_backward(&f32s, dy, reference)?;
    let mut checks = vec![Check {
        name: format!("{name} cpu forward vs reference"),
        error: scaled_error(&y_cpu, &y_ref)?,
        threshold: 1e-5,
    }];
    for ((n, a), b) in names.iter().zip(&g_cpu).zip(&g_ref) {
        checks.push(Check {
            name: format!("{name} cpu {n} vs reference"),
            error: scaled_error(a, b)?,
            threshold: 1e-4,
        });
    }
    let f64s: Vec<Tensor> = inputs
        .iter()
        .map(|t| t.to_dtype(DType::F64))
        .collect::<candle_core::Result<_>>()?;
    let dy64 = dy.to_dtype(DType::F64)?;
    let (_, g64) = forward_backward(&f64s, &dy64, reference)?;
    for (i, n) in names.iter().enumerate() {
        let numeric = numeric_gradient(&f64s[i], |x| {
            let mut with = f64s.clone();
            with[i] = x.clone();
            Ok((reference(&with)? * &dy64)?.sum_all()?.to_scalar::<f64>()?)
        })?;
        checks.push(Check {
            name: format!("{name} reference {n} vs finite differences"),
            error: relative_error(&g64[i], &numeric)?,
            threshold: 1e-5,
        });
    }
    Ok(checks)
}

/// A batch norm's tensors over `t[1]` (weight) and `t[2]` (bias), fresh running statistics.
fn norm_of(t: &[Tensor]) -> Result<NormParams> {
    let f = t[1].dim(0)?;
    let stats = |v: f64| -> Result<Var> {
        Ok(Var::from_tensor(
            &Tensor::full(v, f, t[1].device())?.to_dtype(t[1].dtype())?,
        )?)
    };
    Ok(NormParams {
        weight: Var::from_tensor(&t[1])?,
        bias: Var::from_tensor(&t[2])?,
        running: RunningStats {
            mean: stats(0.0)?,
            var: stats(1.0)?,
        },
    })
}

/// The MLP's batch norm, LeakyReLU and dropout mask (`kernels::bn_act`), training.
pub fn check_bn_act(rng: &mut SmallRng) -> Result<Vec<Check>> {
    let (b, f) = (rng.random_range(4..12), rng.random_range(3..9));
    let x = randn(rng, (b, f), 2.0)?.affine(1.0, 0.5)?;
    let gamma = randn(rng, (1, f), 0.5)?.affine(1.0, 1.0)?.flatten_all()?;
    let beta = randn(rng, (1, f), 0.5)?.flatten_all()?;
    let dy = randn(rng, (b, f), 1.0)?;
    let mask: Vec<f32> = (0..b * f)
        .map(|_| if rng.random_bool(0.2) { 0.0 } else { 1.25 })
        .collect();
    let slope = 0.05;
    let run = |kernels: Kernels| {
        let mask = mask.clone();
        move |t: &[Tensor]| -> Result<Tensor> {
            // `norm_of` wraps the inputs, which are variables already: their gradients arrive.
            Ok(bn_leaky_dropout(
                kernels,
                &t[0],
                &norm_of(t)?,
                slope,
                Some(mask.clone()),
                true,
            )?)
        }
    };
    kernel_checks(
        "bn_act (batch norm, leaky relu, dropout)",
        &["dx", "dgamma", "dbeta"],
        &[x, gamma, beta],
        &dy,
        &run(Kernels::Cpu),
        &run(Kernels::Reference),
    )
}

/// The ConvNet's batch norm and ReLU (`kernels::bn_relu`), training, on (B, C, H, W) (moved
/// to channel-major for the CPU op).
pub fn check_bn_relu(rng: &mut SmallRng) -> Result<Vec<Check>> {
    let (b, c, h) = (rng.random_range(2..4), rng.random_range(2..5), 3);
    let x = randn(rng, (b, c * h * h), 1.5)?
        .affine(1.0, 0.3)?
        .reshape((b, c, h, h))?;
    let gamma = randn(rng, (1, c), 0.5)?.affine(1.0, 1.0)?.flatten_all()?;
    let beta = randn(rng, (1, c), 0.5)?.flatten_all()?;
    let dy = randn(rng, (b, c * h * h), 1.0)?.reshape((b, c, h, h))?;
    let cpu = |t: &[Tensor]| -> Result<Tensor> {
        let cm = t[0].permute((1, 2, 3, 0))?.contiguous()?;
        Ok(bn_relu(Kernels::Cpu, &cm, &norm_of(t)?, true)?.permute((3, 0, 1, 2))?)
    };
    let reference = |t: &[Tensor]| -> Result<Tensor> {
        Ok(bn_relu(Kernels::Reference, &t[0], &norm_of(t)?, true)?)
    };
    kernel_checks(
        "bn_relu (batch norm, relu)",
        &["dx", "dgamma", "dbeta"],
        &[x, gamma, beta],
        &dy,
        &cpu,
        &reference,
    )
}

/// The 3x3 convolutions (`kernels::conv`) by im2col, by Winograd F(2x2, 3x3) and
/// F(4x4, 3x3) and tap by tap, against candle's conv2d.
pub fn check_conv(rng: &mut SmallRng) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    for algorithm in [
        ConvAlgorithm::Im2col,
        ConvAlgorithm::Winograd,
        ConvAlgorithm::Winograd4,
        ConvAlgorithm::Taps,
    ] {
        let (b, c, k, h) = (2, rng.random_range(2..5), rng.random_range(2..4), 4);
        let x = randn(rng, (b, c * h * h), 1.0)?.reshape((b, c, h, h))?;
        let w = randn(rng, (k, c * 9), 0.5)?.reshape((k, c, 3, 3))?;
        let dy = randn(rng, (b, k * h * h), 1.0)?.reshape((b, k, h, h))?;
        let cpu = move |t: &[Tensor]| -> Result<Tensor> {
            let cm = t[0].permute((1, 2, 3, 0))?.contiguous()?;
            let y = conv2d_chwn_using(&cm, &t[1], false, true, algorithm, Level::detected())?;
            Ok(y.permute((3, 0, 1, 2))?)
        };
        let reference = |t: &[Tensor]| -> Result<Tensor> { Ok(conv2d_same(&t[0], &t[1], None)?) };
        checks.extend(kernel_checks(
            &format!("conv 3x3 {algorithm:?}"),
            &["dx", "dW"],
            &[x, w],
            &dy,
            &cpu,
            &reference,
        )?);
    }
    Ok(checks)
}

/// Cross-entropy with label smoothing (`kernels::loss`): the fused op against log-softmax.
pub fn check_cross_entropy_op(rng: &mut SmallRng) -> Result<Vec<Check>> {
    let (b, k) = (rng.random_range(3..9), 10);
    let logits = randn(rng, (b, k), 2.0)?;
    let labels: Vec<u8> = (0..b).map(|_| rng.random_range(0..k as u8)).collect();
    let dy = Tensor::new(1.0f64, &Device::Cpu)?;
    let run = |kernels: Kernels| {
        let labels = labels.clone();
        move |t: &[Tensor]| -> Result<Tensor> {
            Ok(cross_entropy(kernels, &t[0], &labels, 0.1)?.tensor)
        }
    };
    kernel_checks(
        "cross-entropy (smoothing 0.1)",
        &["dlogits"],
        &[logits],
        &dy,
        &run(Kernels::Cpu),
        &run(Kernels::Reference),
    )
}

/// x (batch, in), W (in, out) and dy (batch, out) of random small sizes.
fn matmul_operands(rng: &mut SmallRng) -> Result<(Tensor, Tensor, Tensor)> {
    let (b, i, o) = (
        rng.random_range(2..6),
        rng.random_range(3..9),
        rng.random_range(2..6),
    );
    let x = randn(rng, (b, i), 1.0)?;
    let w = randn(rng, (i, o), 1.0)?;
    let dy = randn(rng, (b, o), 1.0)?;
    Ok((x, w, dy))
}

/// The first layer's product (`kernels::linear` with `input`), which gives W its gradient
/// only.
pub fn check_input_matmul(rng: &mut SmallRng) -> Result<Vec<Check>> {
    let (x, w, dy) = matmul_operands(rng)?;
    let run = |kernels: Kernels| {
        move |t: &[Tensor]| -> Result<Tensor> {
            // x enters as a constant (the images): only W's gradient is compared.
            Ok(linear_matmul(
                (kernels, Precision::F32),
                &t[1].detach(),
                &t[0],
                true,
            )?)
        }
    };
    kernel_checks(
        "input matmul",
        &["dW"],
        &[w, x],
        &dy,
        &run(Kernels::Cpu),
        &run(Kernels::Reference),
    )
}

/// A hidden layer's product (`kernels::linear`), which gives both x and W their gradients.
pub fn check_hidden_matmul(rng: &mut SmallRng) -> Result<Vec<Check>> {
    let (x, w, dy) = matmul_operands(rng)?;
    let run = |kernels: Kernels| {
        move |t: &[Tensor]| -> Result<Tensor> {
            Ok(linear_matmul(
                (kernels, Precision::F32),
                &t[0],
                &t[1],
                false,
            )?)
        }
    };
    kernel_checks(
        "hidden matmul",
        &["dx", "dW"],
        &[x, w],
        &dy,
        &run(Kernels::Cpu),
        &run(Kernels::Reference),
    )
}
