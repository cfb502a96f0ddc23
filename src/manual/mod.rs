//! Section 1: an MLP whose every module has a forward and a hand-written backward on
//! candle-core tensors. No autograd: each backward sits beside its forward.

mod cross_entropy;
mod leaky_relu;
mod linear;
mod mlp;
mod softmax;
mod trainer;

pub use cross_entropy::CrossEntropy;
pub use leaky_relu::LeakyReLU;
pub use linear::Linear;
pub use mlp::{ManualMlp, LAB_INIT_STD};
pub use softmax::SoftMax;
pub use trainer::ManualTrainer;

use candle_core::{DType, Device, Tensor};

/// One-hot targets (batch, classes) from labels, in `dtype`.
pub fn one_hot(
    labels: &[u8],
    classes: usize,
    dtype: DType,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let mut data = vec![0f32; labels.len() * classes];
    for (row, &label) in labels.iter().enumerate() {
        data[row * classes + label as usize] = 1.0;
    }
    Tensor::from_vec(data, (labels.len(), classes), device)?.to_dtype(dtype)
}
