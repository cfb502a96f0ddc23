//! Linear layer: y = x W + b, with W stored (in, out) so the forward matmul reads it
//! contiguously (measured 1.30 ms against 1.78 ms for x W^T on the section 1 shapes).

use crate::kernels::inplace::axpy_row_sums;
use crate::kernels::sgemm::{add_product, matmul};
use crate::kernels::Kernels;
use candle_core::{DType, Device, Result, Tensor};
use rand::Rng;
use rand_distr::{Distribution, Normal};

/// A fully connected layer with weight (in, out) and bias (out), and the gradients of the
/// last backward pass. On `Kernels::Cpu` the products run on `kernels::sgemm` (f32); the
/// reference is candle's matmul.
#[derive(Debug, Clone)]
pub struct Linear {
    /// Weight, (in_features, out_features).
    pub weight: Tensor,
    /// Bias, (out_features).
    pub bias: Tensor,
    /// dL/dW of the last backward.
    pub grad_weight: Option<Tensor>,
    /// dL/db of the last backward.
    pub grad_bias: Option<Tensor>,
    /// Where the products and updates run.
    pub kernels: Kernels,
    input: Option<Tensor>,
}

impl Linear {
    /// Weights drawn from N(0, std^2) with `rng`, biases zero, products on the path
    /// `kernels` names.
    pub fn new(
        (in_features, out_features): (usize, usize),
        std: f64,
        rng: &mut impl Rng,
        (dtype, device): (DType, &Device),
        kernels: Kernels,
    ) -> Result<Self> {
        let normal = Normal::new(0.0, std).expect("std is positive");
        let data: Vec<f64> = (0..in_features * out_features)
            .map(|_| normal.sample(rng))
            .collect();
        let weight =
            Tensor::from_vec(data, (in_features, out_features), device)?.to_dtype(dtype)?;
        let bias = Tensor::zeros(out_features, dtype, device)?;
        Ok(Self::from_parts(weight, bias, kernels))
    }

    /// A layer with the given weight and bias, products on the path `kernels` names.
    pub fn from_parts(weight: Tensor, bias: Tensor, kernels: Kernels) -> Self {
        Linear {
            weight,
            bias,
            grad_weight: None,
            grad_bias: None,
            kernels,
            input: None,
        }
    }

    /// y = x W + b, without keeping anything for a backward pass.
    pub fn infer(&self, x: &Tensor) -> Result<Tensor> {
        matmul(self.kernels, x, &self.weight)?.broadcast_add(&self.bias)
    }

    /// y = x W + b; keeps x for the backward pass.
    pub fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        let y = self.infer(x)?;
        self.input = Some(x.clone());
        Ok(y)
    }

    /// dW = x^T dy, db = sum over the batch of dy, and, when `need_dx`, dx = dy W^T.
    pub fn backward(&mut self, dy: &Tensor, need_dx: bool) -> Result<Option<Tensor>> {
        let x = self.saved_input()?;
        self.grad_weight = Some(matmul(self.kernels, &x.t()?, dy)?);
        self.grad_bias = Some(dy.sum(0)?);
        self.input_grad(dy, need_dx)
    }

    /// The backward pass and plain SGD in one: dx (from the old W) when `need_dx`, then
    /// W -= lr x^T dy and b -= lr sum(dy) in place, without keeping dW. Same result as
    /// `backward` followed by an SGD step, one pass over W instead of three.
    pub fn backward_sgd(&mut self, dy: &Tensor, need_dx: bool, lr: f64) -> Result<Option<Tensor>> {
        let dx = self.input_grad(dy, need_dx)?;
        let x = self.saved_input()?;
        add_product(self.kernels, &self.weight, -lr, &x.t()?, dy)?;
        axpy_row_sums(self.kernels, &self.bias, dy, -lr)?;
        self.grad_weight = None;
        self.grad_bias = None;
        Ok(dx)
    }

    fn saved_input(&self) -> Result<Tensor> {
        self.input
            .clone()
            .ok_or_else(|| candle_core::Error::Msg("Linear::backward before forward".into()))
    }

    fn input_grad(&self, dy: &Tensor, need_dx: bool) -> Result<Option<Tensor>> {
        if need_dx {
            Ok(Some(matmul(self.kernels, dy, &self.weight.t()?)?))
        } else {
            Ok(None)
        }
    }
}
