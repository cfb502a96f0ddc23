//! Gradient checks: every hand-written backward pass against central finite differences in
//! f64 and against candle's autograd on the same inputs: section 1's modules and section 3's
//! batch norm here, the CPU kernels against their references in `kernels`.

mod kernels;

use crate::kernels::Kernels;
use crate::manual::{one_hot, CrossEntropy, LeakyReLU, Linear, ManualMlp, SoftMax};
use crate::Result;
use candle_core::{DType, Device, Tensor, Var};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

/// Step of the central differences (the course's h).
pub const H: f64 = 1e-5;

/// The result of one comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// What was compared, e.g. `linear dW vs finite differences`.
    pub name: String,
    /// Largest relative error found.
    pub error: f64,
    /// The error above which the check fails.
    pub threshold: f64,
}

impl Check {
    /// Whether the error is within the threshold.
    pub fn passed(&self) -> bool {
        self.error <= self.threshold
    }
}

/// The course's relative error: max over elements of |a-b| / max(1e-8, |a|+|b|).
pub fn relative_error(a: &Tensor, b: &Tensor) -> Result<f64> {
    let a = a.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    let b = b.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    assert_eq!(a.len(), b.len(), "compared tensors differ in size");
    Ok(a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs() / (x.abs() + y.abs()).max(1e-8))
        .fold(0.0, f64::max))
}

/// Central finite differences of the scalar function `f` at `x`, element by element.
pub fn numeric_gradient(x: &Tensor, mut f: impl FnMut(&Tensor) -> Result<f64>) -> Result<Tensor> {
    numeric_gradient_at(x, |x, _| f(x))
}

/// Central finite differences where `f` also learns which flat element is perturbed, so it
/// can leave out terms that element cannot change (and their rounding noise).
pub fn numeric_gradient_at(
    x: &Tensor,
    mut f: impl FnMut(&Tensor, usize) -> Result<f64>,
) -> Result<Tensor> {
    let shape = x.shape().clone();
    let mut values = x.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    let mut grad = vec![0f64; values.len()];
    for i in 0..values.len() {
        let keep = values[i];
        values[i] = keep + H;
        let plus = f(&Tensor::from_slice(&values, &shape, x.device())?, i)?;
        values[i] = keep - H;
        let minus = f(&Tensor::from_slice(&values, &shape, x.device())?, i)?;
        values[i] = keep;
        grad[i] = (plus - minus) / (2.0 * H);
    }
    Ok(Tensor::from_vec(grad, shape, x.device())?)
}

fn randn(rng: &mut SmallRng, shape: (usize, usize), scale: f64) -> Result<Tensor> {
    let data: Vec<f64> = (0..shape.0 * shape.1)
        .map(|_| {
            let z: f64 = StandardNormal.sample(rng);
            scale * z
        })
        .collect();
    Ok(Tensor::from_vec(data, shape, &Device::Cpu)?)
}

fn scalar(t: &Tensor) -> Result<f64> {
    Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

/// sum(y * dy): its gradient with respect to anything y depends on is that thing's backward
/// applied to dy.
fn dot(y: &Tensor, dy: &Tensor) -> Result<f64> {
    scalar(&(y * dy)?.sum_all()?)
}

fn check(name: &str, analytic: &Tensor, reference: &Tensor, threshold: f64) -> Result<Check> {
    Ok(Check {
        name: name.to_string(),
        error: relative_error(analytic, reference)?,
        threshold,
    })
}

/// Linear: dx, dW and db.
pub fn check_linear(rng: &mut SmallRng) -> Result<Vec<Check>> {
    let (batch, fan_in, fan_out) = (
        rng.random_range(2..9),
        rng.random_range(3..13),
        rng.random_range(2..11),
    );
    let x = randn(rng, (batch, fan_in), 1.0)?;
    let w = randn(rng, (fan_in, fan_out), 1.0)?;
    let b = randn(rng, (1, fan_out), 1.0)?.flatten_all()?;
    let dy = randn(rng, (batch, fan_out), 1.0)?;
    let mut layer = Linear::from_parts(w.clone(), b.clone(), Kernels::Reference);
    layer.forward(&x)?;
    let dx = layer.backward(&dy, true)?.expect("dx was asked for");
    let dw = layer.grad_weight.clone().expect("backward sets dW");
    let db = layer.grad_bias.clone().expect("backward sets db");

    let num_dx = numeric_gradient(&x, |x| {
        dot(
            &Linear::from_parts(w.clone(), b.clone(), Kernels::Reference).infer(x)?,
            &dy,
        )
    })?;
    let num_dw = numeric_gradient(&w, |w| {
        dot(
            &Linear::from_parts(w.clone(), b.clone(), Kernels::Reference).infer(&x)?,
            &dy,
        )
    })?;
    let num_db = numeric_gradient(&b, |b| {
        dot(
            &Linear::from_parts(w.clone(), b.clone(), Kernels::Reference).infer(&x)?,
            &dy,
        )
    })?;

    let (vx, vw, vb) = (
        Var::from_tensor(&x)?,
        Var::from_tensor(&w)?,
        Var::from_tensor(&b)?,
    );
    let y = vx.matmul(&vw)?.broadcast_add(&vb)?;
    let grads = (y * &dy)?.sum_all()?.backward()?;
    let auto = |v: &Var| {
        grads
            .get(v.as_tensor())
            .cloned()
            .expect("autograd reaches every input")
    };

    Ok(vec![
        check("linear dx vs finite differences", &dx, &num_dx, 1e-5)?,
        check("linear dW vs finite differences", &dw, &num_dw, 1e-5)?,
        check("linear db vs finite differences", &db, &num_db, 1e-5)?,
        check("linear dx vs autograd", &dx, &auto(&vx), 1e-5)?,
        check("linear dW vs autograd", &dw, &auto(&vw), 1e-5)?,
        check("linear db vs autograd", &db, &auto(&vb), 1e-5)?,
    ])
}

/// LeakyReLU: dx (inputs kept away from the kink at 0, where no derivative exists).
pub fn check_leaky_relu(rng: &mut SmallRng) -> Result<Vec<Check>> {
    let (batch, features) = (rng.random_range(2..9), rng.random_range(3..13));
    let slope = rng.random_range(0.01..0.5);
    let raw = randn(rng, (batch, features), 1.0)?;
    let x = (raw.sign()? * raw.abs()?.affine(1.0, 0.01)?)?;
    let dy = randn(rng, (batch, features), 1.0)?;
    let mut module = LeakyReLU::new(slope);
    module.forward(&x)?;
    let dx = module.backward(&dy)?;
    let num_dx = numeric_gradient(&x, |x| dot(&LeakyReLU::new(slope).infer(x)?, &dy))?;
    let vx = Var::from_tensor(&x)?;
    let y = vx.maximum(&vx.affine(slope, 0.0)?)?;
    let grads = (y * &dy)?.sum_all()?.backward()?;
    let auto = grads
        .get(vx.as_tensor())
        .cloned()
        .expect("autograd reaches x");
    Ok(vec![
        check("leaky_relu dx vs finite differences", &dx, &num_dx, 1e-6)?,
        check("leaky_relu dx vs autograd", &dx, &auto, 1e-6)?,
    ])
}

/// SoftMax: dx.
pub fn check_softmax(rng: &mut SmallRng) -> Result<Vec<Check>> {
    let (batch, classes) = (rng.random_range(2..9), rng.random_range(3..13));
    let x = randn(rng, (batch, classes), 2.0)?;
    let dy = randn(rng, (batch, classes), 1.0)?;
    let mut module = SoftMax::new();
    module.forward(&x)?;
    let dx = module.backward(&dy)?;
    let num_dx = numeric_gradient(&x, |x| dot(&SoftMax::new().infer(x)?, &dy))?;
    let vx = Var::from_tensor(&x)?;
    let e = vx.exp()?;
    let y = e.broadcast_div(&e.sum_keepdim(1)?)?;
    let grads = (y * &dy)?.sum_all()?.backward()?;
    let auto = grads
        .get(vx.as_tensor())
        .cloned()
        .expect("autograd reaches x");
    Ok(vec![
        check("softmax dx vs finite differences", &dx, &num_dx, 1e-5)?,
        check("softmax dx vs autograd", &dx, &auto, 1e-5)?,
    ])
}

/// CrossEntropy: the loss value and dx, on probabilities.
pub fn check_cross_entropy(rng: &mut SmallRng) -> Result<Vec<Check>> {
    let (batch, classes) = (rng.random_range(2..9), rng.random_range(3..13));
    let probs = SoftMax::new().infer(&randn(rng, (batch, classes), 1.0)?)?;
    let labels: Vec<u8> = (0..batch)
        .map(|_| rng.random_range(0..classes as u8))
        .collect();
    let targets = one_hot(&labels, classes, DType::F64, &Device::Cpu)?;
    let module = CrossEntropy::default();
    let loss = module.forward(&probs, &targets)?;
    let dx = module.backward(&probs, &targets)?;
    let num_dx = numeric_gradient(&probs, |p| scalar(&module.forward(p, &targets)?))?;
    let p = probs.to_vec2::<f64>()?;
    let direct: f64 = -labels
        .iter()
        .enumerate()
        .map(|(i, &l)| p[i][l as usize].ln())
        .sum::<f64>()
        / batch as f64;
    let vp = Var::from_tensor(&probs)?;
    let auto_loss = (&targets * vp.log()?)?
        .sum_all()?
        .affine(-1.0 / batch as f64, 0.0)?;
    let grads = auto_loss.backward()?;
    let auto = grads
        .get(vp.as_tensor())
        .cloned()
        .expect("autograd reaches p");
    Ok(vec![
        check(
            "cross_entropy loss vs direct sum",
            &loss,
            &Tensor::new(direct, &Device::Cpu)?,
            1e-10,
        )?,
        check("cross_entropy dx vs finite differences", &dx, &num_dx, 1e-5)?,
        check("cross_entropy dx vs autograd", &dx, &auto, 1e-5)?,
    ])
}

/// The whole MLP: the loss's gradients with respect to every weight and bias, from the chained
/// hand-written backward passes, against finite differences of the loss.
pub fn check_mlp(rng: &mut SmallRng) -> Result<Vec<Check>> {
    let (batch, inputs, classes) = (
        rng.random_range(3..7),
        rng.random_range(4..9),
        rng.random_range(3..6),
    );
    let hidden = [rng.random_range(3..8), rng.random_range(3..8)];
    let mut mlp = ManualMlp::new(
        &[inputs, hidden[0], hidden[1], classes],
        (0.1, 0.5),
        rng,
        (DType::F64, &Device::Cpu),
        Kernels::Reference,
    )?;
    let x = randn(rng, (batch, inputs), 1.0)?;
    let labels: Vec<u8> = (0..batch)
        .map(|_| rng.random_range(0..classes as u8))
        .collect();
    let targets = one_hot(&labels, classes, DType::F64, &Device::Cpu)?;
    mlp.forward(&x)?;
    mlp.backward(&targets)?;
    let mut analytic = Vec::new();
    let mut numeric = Vec::new();
    for i in 0..mlp.linears.len() {
        let base = mlp.clone();
        let loss_with =
            |layer: usize, weight: Option<&Tensor>, bias: Option<&Tensor>| -> Result<f64> {
                let mut m = base.clone();
                if let Some(w) = weight {
                    m.linears[layer].weight = w.clone();
                }
                if let Some(b) = bias {
                    m.linears[layer].bias = b.clone();
                }
                scalar(&m.loss(&m.infer(&x)?, &targets)?)
            };
        let w = base.linears[i].weight.clone();
        let b = base.linears[i].bias.clone();
        numeric.push(numeric_gradient(&w, |w| loss_with(i, Some(w), None))?.flatten_all()?);
        numeric.push(numeric_gradient(&b, |b| loss_with(i, None, Some(b)))?);
        analytic.push(
            mlp.linears[i]
                .grad_weight
                .clone()
                .expect("set")
                .flatten_all()?,
        );
        analytic.push(mlp.linears[i].grad_bias.clone().expect("set"));
    }
    Ok(vec![check(
        "mlp loss gradients (all W, b) vs finite differences",
        &Tensor::cat(&analytic, 0)?,
        &Tensor::cat(&numeric, 0)?,
        1e-5,
    )?])
}

/// Section 3's batch norm: the hand-written backward (x, gamma, beta) against finite
/// differences and against the autograd version, on the course's cases (batch 64..255,
/// 4..9 features, gamma_i = sqrt(10 i) and beta_i = 100 i for i = 1..F, input 2 randn + 10),
/// and the normalised outputs' per-feature mean and variance.
pub fn check_batch_norm(rng: &mut SmallRng) -> Result<Vec<Check>> {
    use crate::nn::batch_norm::{feature_moments, Backward, BatchNorm1d};
    let (batch, features) = (rng.random_range(64..256), rng.random_range(4..10));
    let x = randn(rng, (batch, features), 2.0)?.affine(1.0, 10.0)?;
    let gamma = Tensor::from_vec(
        (1..=features)
            .map(|i| (10.0 * i as f64).sqrt())
            .collect::<Vec<_>>(),
        features,
        &Device::Cpu,
    )?;
    let beta = Tensor::from_vec(
        (1..=features).map(|i| 100.0 * i as f64).collect::<Vec<_>>(),
        features,
        &Device::Cpu,
    )?;
    let dy = randn(rng, (batch, features), 1.0)?;
    let manual = BatchNorm1d::new(features, DType::F64, Backward::Manual)?;
    manual.gamma.set(&gamma)?;
    manual.beta.set(&beta)?;
    let auto = BatchNorm1d::new(features, DType::F64, Backward::Autograd)?;
    auto.gamma.set(&gamma)?;
    auto.beta.set(&beta)?;

    let vx = Var::from_tensor(&x)?;
    let grads = (manual.forward_t(vx.as_tensor(), true)? * &dy)?
        .sum_all()?
        .backward()?;
    let get =
        |g: &candle_core::backprop::GradStore, t: &Tensor| g.get(t).cloned().expect("gradient");
    let (dx, dgamma, dbeta) = (
        get(&grads, vx.as_tensor()),
        get(&grads, manual.gamma.as_tensor()),
        get(&grads, manual.beta.as_tensor()),
    );
    let vx2 = Var::from_tensor(&x)?;
    let grads = (auto.forward_t(vx2.as_tensor(), true)? * &dy)?
        .sum_all()?
        .backward()?;
    let (ax, agamma, abeta) = (
        get(&grads, vx2.as_tensor()),
        get(&grads, auto.gamma.as_tensor()),
        get(&grads, auto.beta.as_tensor()),
    );

    // Perturbing x[b, j] or gamma[j] changes only column j of the output: the difference
    // quotient sums that column alone (the others are multiplied by an exact zero).
    let column_dy = |j: usize| -> Result<Tensor> {
        let mask: Vec<f64> = (0..batch * features)
            .map(|k| if k % features == j { 1.0 } else { 0.0 })
            .collect();
        Ok((&dy * Tensor::from_vec(mask, (batch, features), &Device::Cpu)?)?)
    };
    let forward = |x: &Tensor, g: &Tensor, b: &Tensor, column: Option<usize>| -> Result<f64> {
        let bn = BatchNorm1d::new(features, DType::F64, Backward::Manual)?;
        bn.gamma.set(g)?;
        bn.beta.set(b)?;
        let weights = match column {
            Some(j) => column_dy(j)?,
            None => dy.clone(),
        };
        dot(&bn.forward_t(x, true)?, &weights)
    };
    // beta only shifts the outputs, so dL/dx and dL/dgamma do not depend on it; differencing
    // with beta = 0 keeps the outputs near 1 instead of near 100 i, whose rounding would
    // otherwise swamp the smallest components of the difference quotient.
    let zero = beta.zeros_like()?;
    let num_dx = numeric_gradient_at(&x, |x, i| forward(x, &gamma, &zero, Some(i % features)))?;
    let num_dgamma = numeric_gradient_at(&gamma, |g, j| forward(&x, g, &zero, Some(j)))?;
    let num_dbeta = numeric_gradient(&beta, |b| forward(&x, &gamma, b, None))?;

    let plain = BatchNorm1d::new(features, DType::F64, Backward::Manual)?;
    let (mean, var) = feature_moments(&plain.forward_t(&x, true)?)?;
    let max_abs = |t: &Tensor| -> Result<f64> { scalar(&t.abs()?.max(0)?) };
    Ok(vec![
        check(
            "batchnorm manual dx vs finite differences",
            &dx,
            &num_dx,
            1e-5,
        )?,
        check(
            "batchnorm manual dgamma vs finite differences",
            &dgamma,
            &num_dgamma,
            1e-5,
        )?,
        check(
            "batchnorm manual dbeta vs finite differences",
            &dbeta,
            &num_dbeta,
            1e-5,
        )?,
        check("batchnorm manual dx vs autograd batchnorm", &dx, &ax, 1e-5)?,
        check(
            "batchnorm manual dgamma vs autograd batchnorm",
            &dgamma,
            &agamma,
            1e-5,
        )?,
        check(
            "batchnorm manual dbeta vs autograd batchnorm",
            &dbeta,
            &abeta,
            1e-5,
        )?,
        Check {
            name: "batchnorm output |per-feature mean|".into(),
            error: max_abs(&mean)?,
            threshold: 1e-5,
        },
        Check {
            name: "batchnorm output |per-feature variance - 1|".into(),
            error: max_abs(&(var - 1.0)?)?,
            threshold: 0.1,
        },
    ])
}

/// Section 4's max-pool (3x3, stride 2, padding 1): the backward against finite differences,
/// on odd and even sizes, with distinct input values (a tie has no derivative).
pub fn check_max_pool(rng: &mut SmallRng) -> Result<Vec<Check>> {
    use crate::kernels::pool::{max_pool2d, LAB_POOL};
    use crate::kernels::Kernels;
    let (b, c, h, w) = (
        2,
        rng.random_range(1..4),
        rng.random_range(3..10),
        rng.random_range(3..10),
    );
    let n = b * c * h * w;
    // A shuffled ramp: every value distinct and at least 0.01 from any other.
    let mut values: Vec<f64> = (0..n).map(|i| i as f64 * 0.01).collect();
    rand::seq::SliceRandom::shuffle(values.as_mut_slice(), rng);
    let x = Tensor::from_vec(values, (b, c, h, w), &Device::Cpu)?;
    let out_shape = max_pool2d(&x, LAB_POOL, Kernels::Cpu)?.shape().clone();
    let dy = randn(rng, (1, out_shape.elem_count()), 1.0)?.reshape(&out_shape)?;
    let vx = Var::from_tensor(&x)?;
    let grads = (max_pool2d(vx.as_tensor(), LAB_POOL, Kernels::Cpu)? * &dy)?
        .sum_all()?
        .backward()?;
    let dx = grads.get(vx.as_tensor()).cloned().expect("gradient of x");
    let num = numeric_gradient(&x, |x| dot(&max_pool2d(x, LAB_POOL, Kernels::Cpu)?, &dy))?;
    Ok(vec![check(
        "maxpool 3x3/2 pad 1 dx vs finite differences",
        &dx,
        &num,
        1e-6,
    )?])
}

/// Every check, on shapes drawn from `seed`.
pub fn run_all(seed: u64) -> Result<Vec<Check>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut checks = Vec::new();
    checks.extend(check_linear(&mut rng)?);
    checks.extend(check_leaky_relu(&mut rng)?);
    checks.extend(check_softmax(&mut rng)?);
    checks.extend(check_cross_entropy(&mut rng)?);
    checks.extend(check_mlp(&mut rng)?);
    checks.extend(check_batch_norm(&mut rng)?);
    checks.extend(check_max_pool(&mut rng)?);
    checks.extend(kernels::check_bn_act(&mut rng)?);
    checks.extend(kernels::check_bn_relu(&mut rng)?);
    checks.extend(kernels::check_conv(&mut rng)?);
    checks.extend(kernels::check_cross_entropy_op(&mut rng)?);
    checks.extend(kernels::check_input_matmul(&mut rng)?);
    checks.extend(kernels::check_hidden_matmul(&mut rng)?);
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_manual_backward_matches_finite_differences_and_autograd() {
        for seed in 0..5 {
            for c in run_all(seed).unwrap() {
                assert!(
                    c.passed(),
                    "seed {seed}: {} error {:e} > {:e}",
                    c.name,
                    c.error,
                    c.threshold
                );
            }
        }
    }

    #[test]
    fn a_wrong_backward_is_caught() {
        let mut rng = SmallRng::seed_from_u64(3);
        let x = randn(&mut rng, (4, 5), 1.0).unwrap();
        let right = numeric_gradient(&x, |x| scalar(&x.sqr()?.sum_all()?)).unwrap();
        let wrong = x.affine(2.2, 0.0).unwrap();
        assert!(relative_error(&right, &x.affine(2.0, 0.0).unwrap()).unwrap() < 1e-8);
        assert!(relative_error(&right, &wrong).unwrap() > 1e-2);
    }
}
