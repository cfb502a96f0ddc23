//! Sections 2-4 on candle's autograd: the MLP, the batch norm written twice, and their
//! building blocks. Every parameter is a `Var` drawn from the run's seeded generator.

pub mod batch_norm;
pub mod conv;
pub mod convnet;
pub mod init;
pub mod input_linear;
pub mod mlp;
pub mod pool;

pub use batch_norm::{BatchNormAutograd, BatchNormManual, RunningStats};
pub use mlp::AutogradMlp;
