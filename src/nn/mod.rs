//! Sections 2-4 on candle's autograd: one file a layer (linear, norm, the norms' parameters,
//! section 3's batch norm (the lab's teaching code: its op is written for reading, not speed),
//! dropout, init), the lab's two models and the nets described as data. The layers' hand-written kernels (batch norm with its
//! activation, convolution, pool, loss) live in `kernels`, each beside its reference. Every
//! parameter is registered once in the model's `Params`, drawn from the run's seeded
//! generator.

pub mod batch_norm;
pub mod convnet;
pub mod dropout;
pub mod init;
pub mod linear;
pub mod mlp;
pub mod net;
pub mod norm;
pub mod norm_params;

pub use batch_norm::{Backward, BatchNorm1d};
pub use convnet::ConvNet;
pub use mlp::AutogradMlp;
pub use net::NetModel;
