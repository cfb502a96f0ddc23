//! Section 3: batch normalisation over (batch, features), written twice: `Backward::Autograd`
//! builds the forward from tensor ops and lets candle's autograd derive the backward;
//! `Backward::Manual` is a custom op whose backward for x, gamma and beta is written by hand.
//! Both keep running statistics (momentum 0.1, unbiased variance, as PyTorch) for inference.
//! The manual op's forward runs on the CPU (candle takes custom ops' forwards per device), so
//! `model::Compute::check` refuses `norm = custom-manual` on other devices. This is the lab's
//! teaching code, kept as section 3 writes it; the fast batch norms are `kernels::bn_act` and
//! `kernels::bn_relu`.

use super::norm_params::register_running;
use crate::kernels::norm::{RunningStats, EPS};
use crate::model::Params;
use candle_core::{CpuStorage, CustomOp3, DType, Device, Layout, Result, Shape, Tensor, Var};
use std::sync::{Arc, Mutex};

fn check_shapes(x: &Tensor, features: usize) -> Result<usize> {
    match x.dims() {
        [batch, f] if *f == features && *batch >= 2 => Ok(*batch),
        [batch, f] if *f == features => {
            candle_core::bail!("batch norm: a batch of {batch} row(s); training needs at least 2")
        }
        dims => candle_core::bail!("batch norm: expected input (batch, {features}), got {dims:?}"),
    }
}

/// What the hand-written backward keeps from the forward: per feature, the batch mean and
/// 1/sqrt(var + eps). x itself comes back as the op's first argument.
#[derive(Debug, Clone, Default)]
struct Saved {
    mean: Vec<f64>,
    inv_std: Vec<f64>,
    var: Vec<f64>,
}

/// The custom op y = gamma * (x - mean) / sqrt(var + eps) + beta over (x, gamma, beta).
#[derive(Debug, Clone, Default)]
pub struct BatchNormOp {
    saved: Arc<Mutex<Saved>>,
}

fn to_f64(s: &CpuStorage, l: &Layout) -> Result<Vec<f64>> {
    let Some((a, b)) = l.contiguous_offsets() else {
        candle_core::bail!("batch norm: inputs must be contiguous")
    };
    Ok(match s {
        CpuStorage::F32(v) => v[a..b].iter().map(|&x| x as f64).collect(),
        CpuStorage::F64(v) => v[a..b].to_vec(),
        _ => candle_core::bail!("batch norm: f32 or f64 inputs"),
    })
}

fn from_f64(values: Vec<f64>, like: &CpuStorage) -> CpuStorage {
    match like {
        CpuStorage::F32(_) => CpuStorage::F32(values.into_iter().map(|v| v as f32).collect()),
        _ => CpuStorage::F64(values),
    }
}

impl CustomOp3 for BatchNormOp {
    fn name(&self) -> &'static str {
        "batch-norm-manual"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let [batch, features] = *l1.dims() else {
            candle_core::bail!(
                "batch norm: expected input (batch, features), got {:?}",
                l1.dims()
            )
        };
        if l2.dims() != [features] || l3.dims() != [features] {
            candle_core::bail!("batch norm: gamma and beta must be ({features})");
        }
        if batch < 2 {
            candle_core::bail!("batch norm: a batch of {batch} row(s); training needs at least 2");
        }
        let (x, gamma, beta) = (to_f64(s1, l1)?, to_f64(s2, l2)?, to_f64(s3, l3)?);
        let n = batch as f64;
        let mut mean = vec![0.0; features];
        for row in x.chunks_exact(features) {
            mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0; features];
        for row in x.chunks_exact(features) {
            for ((s, v), m) in var.iter_mut().zip(row).zip(&mean) {
                *s += (v - m) * (v - m);
            }
        }
        var.iter_mut().for_each(|v| *v /= n);
        let inv_std: Vec<f64> = var.iter().map(|v| 1.0 / (v + EPS).sqrt()).collect();
        let mut y = Vec::with_capacity(x.len());
        for row in x.chunks_exact(features) {
            for j in 0..features {
                y.push(gamma[j] * (row[j] - mean[j]) * inv_std[j] + beta[j]);
            }
        }
        *self.saved.lock().expect("batch norm state") = Saved { mean, inv_std, var };
        Ok((from_f64(y, s1), l1.shape().clone()))
    }

    /// With x_hat = (x - mean) * inv_std and g = dL/dy:
    /// dbeta = sum_b g, dgamma = sum_b g x_hat,
    /// dx = gamma * inv_std / B * (B g - sum_b g - x_hat * sum_b g x_hat).
    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let saved = self.saved.lock().expect("batch norm state").clone();
        let (batch, features) = x.dims2()?;
        let xs = x.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
        let gs = grad.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
        let gamma_v = gamma.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        let mut dbeta = vec![0.0; features];
        let mut dgamma = vec![0.0; features];
        for (row, g) in xs.chunks_exact(features).zip(gs.chunks_exact(features)) {
            for j in 0..features {
                let x_hat = (row[j] - saved.mean[j]) * saved.inv_std[j];
                dbeta[j] += g[j];
                dgamma[j] += g[j] * x_hat;
            }
        }
        let n = batch as f64;
        let mut dx = Vec::with_capacity(xs.len());
        for (row, g) in xs.chunks_exact(features).zip(gs.chunks_exact(features)) {
            for j in 0..features {
                let x_hat = (row[j] - saved.mean[j]) * saved.inv_std[j];
                dx.push(
                    gamma_v[j] * saved.inv_std[j] / n * (n * g[j] - dbeta[j] - x_hat * dgamma[j]),
                );
            }
        }
        let dtype = x.dtype();
        let device = x.device();
        Ok((
            Some(Tensor::from_vec(dx, (batch, features), device)?.to_dtype(dtype)?),
            Some(Tensor::from_vec(dgamma, features, device)?.to_dtype(dtype)?),
            Some(Tensor::from_vec(dbeta, features, device)?.to_dtype(dtype)?),
        ))
    }
}

/// Which backward pass the training forward gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backward {
    /// The forward is built from tensor ops; candle's autograd derives the backward.
    Autograd,
    /// The forward is `BatchNormOp`, whose backward is written by hand.
    Manual,
}

/// Section 3's batch norm over (batch, features), with either backward.
#[derive(Debug, Clone)]
pub struct BatchNorm1d {
    /// Scale, (features).
    pub gamma: Var,
    /// Shift, (features).
    pub beta: Var,
    /// Running statistics.
    pub running: RunningStats,
    /// Which backward the training forward gets.
    pub backward: Backward,
}

impl BatchNorm1d {
    /// gamma 1, beta 0, running mean 0 and variance 1, registered as `PREFIX.weight`,
    /// `PREFIX.bias`, `PREFIX.running_mean` and `PREFIX.running_var`.
    pub fn register(
        params: &mut Params,
        prefix: &str,
        features: usize,
        backward: Backward,
        (dtype, device): (DType, &Device),
    ) -> crate::Result<Self> {
        let c = |v: f64| -> crate::Result<Tensor> {
            Ok(super::init::constant(&[features], v, device)?.to_dtype(dtype)?)
        };
        Ok(BatchNorm1d {
            gamma: params.var(format!("{prefix}.weight"), &c(1.0)?)?,
            beta: params.norm_shift(format!("{prefix}.bias"), &c(0.0)?)?,
            running: register_running(params, prefix, features, (dtype, device))?,
            backward,
        })
    }

    /// A standalone batch norm on the CPU in `dtype` (checks and tests).
    pub fn new(features: usize, dtype: DType, backward: Backward) -> crate::Result<Self> {
        Self::register(
            &mut Params::new(),
            "bn",
            features,
            backward,
            (dtype, &Device::Cpu),
        )
    }

    /// Normalises with the batch's statistics (training) or the running ones (inference).
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let features = self.gamma.dim(0)?;
        if !train {
            if x.rank() != 2 || x.dim(1)? != features {
                candle_core::bail!(
                    "batch norm: expected input (batch, {features}), got {:?}",
                    x.dims()
                );
            }
            return self.running.normalise(x, &self.gamma, &self.beta);
        }
        let batch = check_shapes(x, features)?;
        match self.backward {
            Backward::Manual => self.train_manual(x, batch, features),
            Backward::Autograd => self.train_autograd(x, batch),
        }
    }

    fn train_autograd(&self, x: &Tensor, batch: usize) -> Result<Tensor> {
        let mean = x.mean_keepdim(0)?;
        let centred = x.broadcast_sub(&mean)?;
        let var = centred.sqr()?.mean_keepdim(0)?;
        let x_hat = centred.broadcast_div(&(&var + EPS)?.sqrt()?)?;
        self.running
            .update(&mean.squeeze(0)?, &var.squeeze(0)?, batch)?;
        x_hat
            .broadcast_mul(self.gamma.as_tensor())?
            .broadcast_add(self.beta.as_tensor())
    }

    fn train_manual(&self, x: &Tensor, batch: usize, features: usize) -> Result<Tensor> {
        let op = BatchNormOp::default();
        let saved = op.saved.clone();
        let y = x
            .contiguous()?
            .apply_op3(self.gamma.as_tensor(), self.beta.as_tensor(), op)?;
        let s = saved.lock().expect("batch norm state").clone();
        let dtype = x.dtype();
        let mean = Tensor::from_vec(s.mean, features, x.device())?.to_dtype(dtype)?;
        let var = Tensor::from_vec(s.var, features, x.device())?.to_dtype(dtype)?;
        self.running.update(&mean, &var, batch)?;
        Ok(y)
    }
}

/// Per-feature mean and biased variance of a (batch, features) tensor, for checks.
pub fn feature_moments(y: &Tensor) -> Result<(Tensor, Tensor)> {
    let mean = y.mean_keepdim(0)?;
    let var = y.broadcast_sub(&mean)?.sqr()?.mean(0)?;
    Ok((mean.squeeze(0)?, var))
}
