//! Sections 2-4 on candle's autograd: one file a layer (linear, norm, batch norm, dropout and
//! activation, conv, pool, loss) and the two models. Every parameter is registered once in
//! the model's `Params`, drawn from the run's seeded generator.

pub mod batch_norm;
pub mod bn_act;
pub mod bn_relu;
pub mod conv;
pub mod convnet;
pub mod dropout;
pub mod init;
pub mod input_linear;
pub mod linear;
pub mod loss;
pub mod mlp;
pub mod norm;
pub mod pool;

pub use batch_norm::{Backward, BatchNorm1d, RunningStats};
pub use convnet::ConvNet;
pub use mlp::AutogradMlp;
